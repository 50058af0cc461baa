"""The CsvIngestPipeline construct: upload bucket -> Python Lambda -> DynamoDB table, with the rejects bucket, the
failed-events queue, alarms, dashboard and outputs that make failures visible and recoverable."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    CfnOutput,
    Duration,
    RemovalPolicy,
    Size,
    Stack,
    Validations,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_python_alpha import BundlingOptions, PythonFunction
from constructs import Construct

from csv_ingest_engine.constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_KEY_COLUMN,
    DEFAULT_WRITE_MODE,
    ENV_KEY_COLUMN,
    ENV_REJECTS_BUCKET,
    ENV_TABLE_NAME,
    ENV_WRITE_CONCURRENCY,
    ENV_WRITE_MODE,
    MAX_CONCURRENCY,
    METRIC_FILES_FAILED,
    METRIC_FILES_PROCESSED,
    METRIC_ROWS_REJECTED,
    METRIC_ROWS_WRITTEN,
    METRICS_NAMESPACE,
    MIN_CONCURRENCY,
    SERVICE_NAME,
    WRITE_MODES,
    WriteMode,
)

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
CSV_SUFFIXES = (".csv", ".CSV")
ACCESS_LOGS_EXPIRATION = Duration.days(90)
ABORT_INCOMPLETE_UPLOADS_AFTER = Duration.days(7)
ALARM_PERIOD = Duration.minutes(5)
# The function is invoked asynchronously by S3: two retries (Lambda's default, made explicit), and an event that
# still fails, or waits longer than this, goes to the failed-events queue.
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(6)
FAILED_EVENTS_RETENTION = Duration.days(14)  # SQS's maximum
# The duration alarm fires at this share of the timeout: the function is close to running out of time.
DURATION_ALARM_SHARE_OF_TIMEOUT = 0.8


# The stack-level singleton CDK creates for `add_event_notification`; the id is fixed in aws-cdk-lib. If an
# upgrade renames it, `find_child` fails the synth, which is the signal to look again.
_NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
_LAMBDA_BASIC_EXECUTION = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@dataclass(frozen=True, kw_only=True)
class PipelineProps:
    """Everything a deployment may tune; the defaults are the development setup."""

    key_column: str = DEFAULT_KEY_COLUMN
    retain_data: bool = False
    alarm_email: str | None = None
    memory_size_mb: int = 1769  # one full vCPU
    timeout: Duration = field(default_factory=lambda: Duration.minutes(15))
    ephemeral_storage_mib: int = 4096
    noncurrent_version_expiration_days: int = 30
    rejects_expiration_days: int = 30
    # merge: update_item per row, keeping attributes the row does not have. replace: BatchWriteItem puts of whole
    # items, for initial loads into an empty table.
    write_mode: WriteMode = DEFAULT_WRITE_MODE
    write_concurrency: int = DEFAULT_CONCURRENCY

    def __post_init__(self) -> None:
        if not self.key_column or self.key_column != self.key_column.strip():
            raise ValueError(f"key_column must be a non-empty name without surrounding spaces, got {self.key_column!r}")
        if len(self.key_column.encode()) > 255:
            raise ValueError("key_column must be at most 255 bytes (the DynamoDB limit for key attribute names)")
        if self.alarm_email is not None and ("@" not in self.alarm_email or any(c.isspace() for c in self.alarm_email)):
            raise ValueError(f"alarm_email must be an e-mail address, got {self.alarm_email!r}")
        _check_range("memory_size_mb", self.memory_size_mb, 128, 10240)
        if not 1 <= self.timeout.to_seconds() <= 900:
            raise ValueError(f"timeout must be between 1 second and 15 minutes (Lambda's limit), got {self.timeout}")
        _check_range("ephemeral_storage_mib", self.ephemeral_storage_mib, 512, 10240)
        _check_range("noncurrent_version_expiration_days", self.noncurrent_version_expiration_days, 1, 36500)
        _check_range("rejects_expiration_days", self.rejects_expiration_days, 1, 36500)
        if self.write_mode not in WRITE_MODES:
            raise ValueError(f"write_mode must be one of {', '.join(WRITE_MODES)}, got {self.write_mode!r}")
        _check_range("write_concurrency", self.write_concurrency, MIN_CONCURRENCY, MAX_CONCURRENCY)

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


class CsvIngestPipeline(Construct):
    """A CSV dropped into `bucket` triggers `function`, which upserts its rows into `table`.

    Rejected rows go to a report in `rejects_bucket`; the S3 event of a file that still fails after the retries goes
    to `failed_events_queue`. `errors_alarm`, `rejected_rows_alarm`, `failed_events_alarm` and `duration_alarm`
    notify `alarm_topic`; `dashboard` shows it all.
    """

    def __init__(self, scope: Construct, id_: str, *, props: PipelineProps | None = None) -> None:
        super().__init__(scope, id_)
        self.props = props or PipelineProps()

        self.access_logs_bucket = self._access_logs_bucket()
        self.bucket = self._upload_bucket()
        self.rejects_bucket = self._rejects_bucket()
        self.table = self._table()
        self.failed_events_queue = self._failed_events_queue()
        self.log_group, self.function = self._function()
        self._trigger()
        self.alarm_topic = self._alarm_topic()
        self.errors_alarm = self._errors_alarm()
        self.rejected_rows_alarm = self._rejected_rows_alarm()
        self.failed_events_alarm = self._failed_events_alarm()
        self.duration_alarm = self._duration_alarm()
        self.dashboard = self._dashboard()
        self._outputs()
        self._acknowledge_cdk_managed_resources()

    # -- storage --------------------------------------------------------------------------------------------

    def _secure_bucket(self, id_: str, *, lifecycle_rule: s3.LifecycleRule, **extra: Any) -> s3.Bucket:
        """A bucket with the settings every bucket here shares, and removal per `retain_data`."""
        return s3.Bucket(
            self,
            id_,
            # SSE-S3: the data needs encryption at rest, not key-level access control; SSE-KMS would add a KMS call
            # (cost, throttling) to every GetObject the function makes, and S3 server access logging can only
            # deliver to an SSE-S3 bucket anyway.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            lifecycle_rules=[lifecycle_rule],
            # Throw-away in development, kept when `retain_data`.
            removal_policy=self.props.removal_policy,
            auto_delete_objects=not self.props.retain_data,
            **extra,
        )

    def _access_logs_bucket(self) -> s3.Bucket:
        # No AwsSolutions-S1 (access logging) acknowledgement needed: cdk-nag treats the bucket that receives
        # another bucket's access logs as compliant.
        return self._secure_bucket(
            "AccessLogsBucket",
            lifecycle_rule=s3.LifecycleRule(
                id="ExpireAccessLogs",
                expiration=ACCESS_LOGS_EXPIRATION,
                abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS_AFTER,
            ),
        )

    def _upload_bucket(self) -> s3.Bucket:
        return self._secure_bucket(
            "UploadBucket",
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="upload-bucket/",
            lifecycle_rule=s3.LifecycleRule(
                id="ExpireNoncurrentVersions",
                noncurrent_version_expiration=Duration.days(self.props.noncurrent_version_expiration_days),
                abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS_AFTER,
            ),
        )

    def _rejects_bucket(self) -> s3.Bucket:
        # No event notification, ever: a report is a CSV, and it must not be ingested until a user has fixed it and
        # uploaded it to the upload bucket. Not versioned: each report's key names the upload's version already.
        return self._secure_bucket(
            "RejectsBucket",
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="rejects-bucket/",
            lifecycle_rule=s3.LifecycleRule(
                id="ExpireRejectsReports",
                expiration=Duration.days(self.props.rejects_expiration_days),
                # The function may not AbortMultipartUpload (PutObject only), so a large report whose upload
                # failed halfway is cleaned up here.
                abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS_AFTER,
            ),
        )

    def _table(self) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=self.props.key_column, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=self.props.removal_policy,
        )

    def _failed_events_queue(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "FailedEventsQueue",
            # SSE-SQS: the messages are S3 event records and error text (no row data), so encryption at rest is
            # enough; a KMS key would add a key policy, kms:GenerateDataKey for the function and a KMS call per send.
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=FAILED_EVENTS_RETENTION,
            removal_policy=self.props.removal_policy,
        )
        Validations.of(queue.node.default_child).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="This queue is itself the dead-letter destination: the function's on-failure destination for "
                "S3 events that failed every retry. Nothing consumes it automatically; a person redrives it.",
            )
        )
        return queue

    # -- compute ---------------------------------------------------------------------------------------------

    def _function(self) -> tuple[logs.LogGroup, PythonFunction]:
        log_group = logs.LogGroup(
            self,
            "FunctionLogs",
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # An explicit role instead of the default one, which would attach the AWSLambdaBasicExecutionRole
        # managed policy (logs:CreateLogGroup and writes to any log group).
        role = iam.Role(self, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        function = PythonFunction(
            self,
            "Function",
            entry=str(LAMBDA_DIR),
            index="handler.py",
            handler="handler",
            runtime=lambda_.Runtime.PYTHON_3_14,
            # Graviton costs ~20% less per GB-second; bundling then runs in a linux/arm64 container, which an x86
            # Docker host runs through QEMU emulation.
            architecture=lambda_.Architecture.ARM_64,
            memory_size=self.props.memory_size_mb,
            timeout=self.props.timeout,
            ephemeral_storage_size=Size.mebibytes(self.props.ephemeral_storage_mib),
            log_group=log_group,
            role=role,
            # Local build artefacts (pip's egg-info from an editable install, bytecode) stay out of the zip.
            bundling=BundlingOptions(asset_excludes=["*.egg-info", "__pycache__", "*.pyc"]),
            environment={
                ENV_TABLE_NAME: self.table.table_name,
                ENV_KEY_COLUMN: self.props.key_column,
                ENV_REJECTS_BUCKET: self.rejects_bucket.bucket_name,
                ENV_WRITE_MODE: self.props.write_mode,
                ENV_WRITE_CONCURRENCY: str(self.props.write_concurrency),
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            },
        )
        self._grant_function_access(role)
        # The S3 event of a file that fails every attempt lands in the queue instead of vanishing with the retries.
        function.configure_async_invoke(
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=ASYNC_MAX_EVENT_AGE,
            on_failure=_SendOnlyQueueDestination(self.failed_events_queue),
        )
        return log_group, function

    def _grant_function_access(self, role: iam.Role) -> None:
        """Exactly the calls the handler makes: read the uploaded object, upsert rows, write a rejects report."""
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadUploadedObjects",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.bucket.arn_for_objects("*")],
            )
        )
        # BatchWriteItem only where the code calls it: the replace mode's batched puts.
        batch_writes = ["dynamodb:BatchWriteItem"] if self.props.write_mode == "replace" else []
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UpsertRows",
                actions=["dynamodb:UpdateItem", "dynamodb:PutItem", *batch_writes],
                resources=[self.table.table_arn],
            )
        )
        # upload_file: a large report goes up in parts, which s3:PutObject authorizes too.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteRejectsReports",
                actions=["s3:PutObject"],
                resources=[self.rejects_bucket.arn_for_objects("*")],
            )
        )
        default_policy = Validations.of(role.node.find_child("DefaultPolicy"))
        for bucket, reason in (
            (
                self.bucket,
                "The function reads whichever object the S3 event names, so it needs GetObject on every "
                "key of the upload bucket (and only that bucket).",
            ),
            (
                self.rejects_bucket,
                "A report's key follows the key of the upload it belongs to, which can be any key, so the "
                "function needs PutObject on every key of the rejects bucket (and only that bucket).",
            ),
        ):
            logical_id = Stack.of(self).resolve(bucket.node.default_child.logical_id)
            default_policy.acknowledge(
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/*]", reason=reason)
            )

    def _trigger(self) -> None:
        # S3 suffix filters are case-sensitive; Excel on Windows often writes `.CSV`.
        destination = s3n.LambdaDestination(self.function)
        for suffix in CSV_SUFFIXES:
            self.bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED, destination, s3.NotificationKeyFilter(suffix=suffix)
            )

    # -- alarms ----------------------------------------------------------------------------------------------

    def _alarm_topic(self) -> sns.Topic:
        # CloudWatch cannot publish to a topic encrypted with the AWS-managed alias/aws/sns key, so the topic
        # gets a customer-managed key whose policy lets CloudWatch use it.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the csv-ingest alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if self.props.alarm_email:
            topic.add_subscription(sns_subscriptions.EmailSubscription(self.props.alarm_email))
        return topic

    def _notify_on(self, alarm: cloudwatch.Alarm) -> None:
        """Send `alarm`'s state changes to the alarm topic."""
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

    def _errors_alarm(self) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            "FunctionErrorsAlarm",
            alarm_description="The csv-ingest function failed at least once; see its log group for the error.",
            metric=self.function.metric_errors(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._notify_on(alarm)
        return alarm

    def _rejected_rows_alarm(self) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            "RejectedRowsAlarm",
            alarm_description="Rows of an uploaded CSV were rejected. For each such file the rejects bucket (stack "
            "output RejectsBucketName) holds a report, <upload key without .csv>.<version id>.rejected.csv, with "
            "every rejected row's cells, line and reason; the function's log names it (\"rejected rows reported\"). "
            "Fix the rows in the report and upload it to the upload bucket as a new .csv file (the rejected_line "
            "and rejected_reason columns are not ingested).",
            metric=self._emf_metric(METRIC_ROWS_REJECTED),
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._notify_on(alarm)
        return alarm

    def _failed_events_alarm(self) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            "FailedEventsAlarm",
            alarm_description="A file failed as a whole on every attempt (or waited longer than "
            f"{ASYNC_MAX_EVENT_AGE.to_hours()} hours): its S3 event is in the failed-events queue (stack output "
            "FailedEventsQueueUrl). Each message holds the original event (requestPayload) and the error "
            "(responsePayload); the function's log group has the details. Fix the cause, then redrive: upload the "
            "file again, or send the requestPayload back to the function (aws lambda invoke --invocation-type Event), "
            "and delete the message. Ingesting a file again is safe: its rows overwrite the same items.",
            metric=self.failed_events_queue.metric_approximate_number_of_messages_visible(
                period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # SQS stops sending metrics for a queue nobody has touched for six hours, even one holding messages:
            # no data keeps the alarm where it was, so it stays in ALARM until someone drains the queue.
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
        )
        self._notify_on(alarm)
        return alarm

    def _duration_alarm(self) -> cloudwatch.Alarm:
        timeout_seconds = self.props.timeout.to_seconds()
        alarm = cloudwatch.Alarm(
            self,
            "DurationAlarm",
            alarm_description=f"An invocation ran for at least {DURATION_ALARM_SHARE_OF_TIMEOUT:.0%} of the "
            f"function's {timeout_seconds}-second timeout: the file is too large, or nearly, for one invocation. One "
            "that does not fit fails near the deadline with the line it reached in the log (rows written so far "
            "stay, and the Errors alarm fires too). Split the file into smaller files and upload those, or load it "
            "from your machine with `csv-ingest load`.",
            metric=self.function.metric_duration(period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM),
            threshold=self.props.timeout.to_milliseconds() * DURATION_ALARM_SHARE_OF_TIMEOUT,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._notify_on(alarm)
        return alarm

    def _emf_metric(self, name: str) -> cloudwatch.Metric:
        """One of the function's EMF metrics, as Powertools emits it: our namespace, the `service` dimension."""
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": SERVICE_NAME},
            statistic=cloudwatch.Stats.SUM,
            period=ALARM_PERIOD,
        )

    # -- dashboard -------------------------------------------------------------------------------------------

    def _dashboard(self) -> cloudwatch.Dashboard:
        sum_ = cloudwatch.Stats.SUM
        queue = self.failed_events_queue
        dashboard = cloudwatch.Dashboard(self, "Dashboard")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Rows",
                left=[
                    self._emf_metric(METRIC_ROWS_WRITTEN).with_(label="Rows written"),
                    self._emf_metric(METRIC_ROWS_REJECTED).with_(label="Rows rejected"),
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
                left=[self.function.metric_errors(period=ALARM_PERIOD, statistic=sum_, label="Errors")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Duration (ms)",
                left=[
                    self.function.metric_duration(
                        period=ALARM_PERIOD, statistic=cloudwatch.Stats.AVERAGE, label="Average"
                    ),
                    self.function.metric_duration(
                        period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label="Maximum"
                    ),
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=self.props.timeout.to_milliseconds(), label="Timeout")
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Throttles",
                left=[
                    self.function.metric_throttles(period=ALARM_PERIOD, statistic=sum_, label="Lambda throttles"),
                    self.table.metric(
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
                    self.function.metric(
                        "DestinationDeliveryFailures", period=ALARM_PERIOD, statistic=sum_, label="Delivery failures"
                    ),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=[self.errors_alarm, self.rejected_rows_alarm, self.failed_events_alarm, self.duration_alarm],
                width=24,
            )
        )
        return dashboard

    # -- outputs and cdk-nag -----------------------------------------------------------------------------------

    def _outputs(self) -> None:
        CfnOutput(self, "UploadBucketName", value=self.bucket.bucket_name, description="Upload CSV files here")
        CfnOutput(self, "TableName", value=self.table.table_name, description="DynamoDB table receiving the rows")
        CfnOutput(
            self,
            "FunctionName",
            value=self.function.function_name,
            description="Lambda function that ingests each uploaded CSV",
        )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.alarm_topic.topic_arn,
            description="SNS topic notified by the pipeline alarms",
        )
        CfnOutput(
            self,
            "RejectsBucketName",
            value=self.rejects_bucket.bucket_name,
            description="Reports of rejected rows: fix them and upload the report to the upload bucket",
        )
        CfnOutput(
            self,
            "FailedEventsQueueUrl",
            value=self.failed_events_queue.queue_url,
            description="S3 events of files that failed on every attempt, to redrive once the cause is fixed",
        )
        CfnOutput(
            self,
            "DashboardName",
            value=self.dashboard.dashboard_name,
            description="CloudWatch dashboard of the pipeline",
        )

    def _acknowledge_cdk_managed_resources(self) -> None:
        """The one finding inherent to a resource CDK generates for us: the S3 notifications handler's role."""
        handler = Stack.of(self).node.find_child(_NOTIFICATIONS_HANDLER_ID)
        Validations.of(handler.node.find_child("Role")).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM4[{_LAMBDA_BASIC_EXECUTION}]",
                reason="Role of CDK's BucketNotificationsHandler, which CDK creates with the "
                "AWSLambdaBasicExecutionRole managed policy and offers no way to replace.",
            )
        )


@jsii.implements(lambda_.IDestination)
class _SendOnlyQueueDestination:
    """An SQS on-failure destination granting only sqs:SendMessage, the one call Lambda makes to deliver an event.

    CDK's SqsDestination also grants sqs:GetQueueAttributes and sqs:GetQueueUrl, which the delivery does not use.
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(
        self, _scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="SendFailedEventsToQueue", actions=["sqs:SendMessage"], resources=[self._queue.queue_arn]
            )
        )
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)
