"""The Monitoring construct: the alarms that tell a person something needs doing, the topic they notify, and the
dashboard of the pipeline's rows, files, errors, duration, throttles, failed events and large-file executions."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from csv_ingest.infra.encryption import allow_cloudwatch_alarms
from csv_ingest.infra.ingestion import ASYNC_MAX_EVENT_AGE
from csv_ingest_engine.constants import (
    METRIC_FILES_FAILED,
    METRIC_FILES_PROCESSED,
    METRIC_ROWS_DELETED,
    METRIC_ROWS_REJECTED,
    METRIC_ROWS_SUPERSEDED,
    METRIC_ROWS_UNCHANGED,
    METRIC_ROWS_WRITTEN,
    METRICS_NAMESPACE,
)

ALARM_PERIOD = Duration.minutes(5)
# The duration alarm fires at this share of the timeout: the function is close to running out of time.
DURATION_ALARM_SHARE_OF_TIMEOUT = 0.8


class Monitoring(Construct):
    """Alarms on `function` (errors, a duration near its `timeout`), on its rejected rows, on
    `failed_events_queue` and on `state_machine`'s failed executions, each notifying `alarm_topic` (and
    `alarm_email`, when given); `dashboard` shows it all, with `table`'s write throttles. The topic is encrypted
    with `encryption_key`, or without one with a key of its own. The rows and files are the EMF metrics the functions
    count as `service_name`.

    Nothing has a fixed name: CloudFormation names the alarms, the dashboard and the topic after their logical IDs,
    which start with the pipeline's construct path, so several pipelines' alarms and dashboards stay apart.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        function: lambda_.IFunction,
        timeout: Duration,
        table: dynamodb.ITable,
        failed_events_queue: sqs.IQueue,
        state_machine: sfn.IStateMachine,
        alarm_email: str | None,
        encryption_key: kms.IKey | None,
        service_name: str,
    ) -> None:
        super().__init__(scope, id_)
        self._service_name = service_name
        self.alarm_topic = self._alarm_topic(alarm_email, encryption_key)
        self.errors_alarm = self._alarm(
            "FunctionErrorsAlarm",
            description=f"The {service_name} function failed at least once; see its log group for the error.",
            metric=function.metric_errors(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
        self.rejected_rows_alarm = self._alarm(
            "RejectedRowsAlarm",
            description="Rows of an uploaded CSV were rejected. For each such file the rejects bucket (stack output "
            "RejectsBucketName) holds a report, <upload key without .csv>.<version id>.rejected.csv, with every "
            "rejected row's cells, line and reason; the function's log names it (\"rejected rows reported\"). Fix the "
            "rows in the report and upload it to the upload bucket as a new .csv file (the rejected_line and "
            "rejected_reason columns are not ingested).",
            metric=self._emf_metric(METRIC_ROWS_REJECTED),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self.failed_events_alarm = self._alarm(
            "FailedEventsAlarm",
            description="A file failed as a whole on every attempt (or waited longer than "
            f"{ASYNC_MAX_EVENT_AGE.to_hours()} hours): its S3 event is in the failed-events queue (stack output "
            "FailedEventsQueueUrl). Each message holds the original event (requestPayload) and the error "
            "(responsePayload); the function's log group has the details. Fix the cause, then redrive: upload the "
            "file again, or send the requestPayload back to the function (aws lambda invoke --invocation-type Event), "
            "and delete the message. Ingesting a file again is safe: its rows overwrite the same items.",
            metric=failed_events_queue.metric_approximate_number_of_messages_visible(
                period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # SQS stops sending metrics for a queue nobody has touched for six hours, even one holding messages:
            # no data keeps the alarm where it was, so it stays in ALARM until someone drains the queue.
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
        )
        self.duration_alarm = self._alarm(
            "DurationAlarm",
            description=f"An invocation ran for at least {DURATION_ALARM_SHARE_OF_TIMEOUT:.0%} of the function's "
            f"{timeout.to_seconds()}-second timeout: the file is too large, or nearly, for one invocation. One that "
            "does not fit fails near the deadline with the line it reached in the log (rows written so far stay, and "
            "the Errors alarm fires too). Lower the stack's large_file_bytes (context) so that files like it go "
            "through the large-file state machine in parallel partitions, or load it from your machine with "
            "`csv-ingest load`.",
            metric=function.metric_duration(period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM),
            threshold=timeout.to_milliseconds() * DURATION_ALARM_SHARE_OF_TIMEOUT,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
        self.failed_executions_alarm = self._alarm(
            "FailedExecutionsAlarm",
            description="A large file's state machine execution failed (stack output StateMachineArn). Its "
            "execution history in the Step Functions console says why: the failed step's error names the object "
            "and, for the Finish step, the partitions that failed and the run prefix. Fix the cause, then rerun "
            'only those: a new execution with the failed one\'s input plus "rerun": "<run prefix>"; or ingest the '
            "whole file with the failed input alone. Both are safe: no write overwrites a newer upload's. "
            "aws stepfunctions redrive-execution reruns only the failed step, so it helps only when Partition or "
            "Finish itself failed on an AWS-side error, such as S3 throttling.",
            metric=state_machine.metric_failed(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
        self.dashboard = self._dashboard(function, timeout, table, failed_events_queue, state_machine)

    def _alarm_topic(self, alarm_email: str | None, encryption_key: kms.IKey | None) -> sns.Topic:
        # CloudWatch cannot publish to a topic encrypted with the AWS-managed alias/aws/sns key, so the topic
        # gets a customer-managed key (the data key, or one of its own) whose policy lets CloudWatch use it.
        key = encryption_key or kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the {self._service_name} alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        allow_cloudwatch_alarms(key)
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if alarm_email:
            topic.add_subscription(sns_subscriptions.EmailSubscription(alarm_email))
        return topic

    def _alarm(
        self,
        id_: str,
        *,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison_operator: cloudwatch.ComparisonOperator,
        treat_missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        """An alarm on one 5-minute period of `metric` that notifies the alarm topic."""
        alarm = cloudwatch.Alarm(
            self,
            id_,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=comparison_operator,
            treat_missing_data=treat_missing_data,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        # enforce_ssl gives the topic a policy, which replaces SNS's default one; without this statement
        # CloudWatch's publish is refused and the alarm fires into the void.
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": alarm.alarm_arn},
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )
        return alarm

    def _dashboard(
        self,
        function: lambda_.IFunction,
        timeout: Duration,
        table: dynamodb.ITable,
        queue: sqs.IQueue,
        state_machine: sfn.IStateMachine,
    ) -> cloudwatch.Dashboard:
        sum_ = cloudwatch.Stats.SUM
        dashboard = cloudwatch.Dashboard(self, "Dashboard")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Rows",
                left=[
                    self._emf_metric(METRIC_ROWS_WRITTEN).with_(label="Rows written"),
                    self._emf_metric(METRIC_ROWS_REJECTED).with_(label="Rows rejected"),
                    # Rows an older upload did not write over a newer one's: expected when uploads overlap.
                    self._emf_metric(METRIC_ROWS_SUPERSEDED).with_(label="Rows superseded"),
                    # write_mode changed: rows whose item held their values already, not written.
                    self._emf_metric(METRIC_ROWS_UNCHANGED).with_(label="Rows unchanged"),
                    # Rows whose delete marker deleted their item (none without a delete_column).
                    self._emf_metric(METRIC_ROWS_DELETED).with_(label="Rows deleted"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Files",
                left=[
                    self._emf_metric(METRIC_FILES_PROCESSED).with_(label="Files processed"),
                    self._emf_metric(METRIC_FILES_FAILED).with_(label="Files failed"),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[function.metric_errors(period=ALARM_PERIOD, statistic=sum_, label="Errors")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Duration (ms)",
                left=[
                    function.metric_duration(period=ALARM_PERIOD, statistic=cloudwatch.Stats.AVERAGE, label="Average"),
                    function.metric_duration(period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label="Maximum"),
                ],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=timeout.to_milliseconds(), label="Timeout")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Throttles",
                left=[
                    function.metric_throttles(period=ALARM_PERIOD, statistic=sum_, label="Lambda throttles"),
                    table.metric(
                        "WriteThrottleEvents", period=ALARM_PERIOD, statistic=sum_, label="DynamoDB write throttles"
                    ),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Failed-event queue",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label="Messages waiting"
                    ),
                    # An event Lambda could not deliver to the queue is lost: this should stay at zero.
                    function.metric(
                        "DestinationDeliveryFailures", period=ALARM_PERIOD, statistic=sum_, label="Delivery failures"
                    ),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(*_execution_widgets(state_machine))
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=[
                    self.errors_alarm,
                    self.rejected_rows_alarm,
                    self.failed_events_alarm,
                    self.duration_alarm,
                    self.failed_executions_alarm,
                ],
                width=24,
            )
        )
        return dashboard

    def _emf_metric(self, name: str) -> cloudwatch.Metric:
        """One of the functions' EMF metrics, as Powertools emits it: our namespace, the `service` dimension."""
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": self._service_name},
            statistic=cloudwatch.Stats.SUM,
            period=ALARM_PERIOD,
        )


def _execution_widgets(state_machine: sfn.IStateMachine) -> list[cloudwatch.IWidget]:
    """The large-file executions: how many started, succeeded and failed, and how long they took."""
    sum_ = cloudwatch.Stats.SUM
    return [
        cloudwatch.GraphWidget(
            title="Large-file executions",
            left=[
                state_machine.metric_started(period=ALARM_PERIOD, statistic=sum_, label="Started"),
                state_machine.metric_succeeded(period=ALARM_PERIOD, statistic=sum_, label="Succeeded"),
                state_machine.metric_failed(period=ALARM_PERIOD, statistic=sum_, label="Failed"),
            ],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="Large-file execution time (ms)",
            left=[
                state_machine.metric_time(period=ALARM_PERIOD, statistic=cloudwatch.Stats.AVERAGE, label="Average"),
                state_machine.metric_time(period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label="Maximum"),
            ],
            width=12,
        ),
    ]
