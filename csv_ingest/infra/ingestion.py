"""The IngestionFunction construct: the Lambda function that loads one uploaded CSV into the table (or hands a large
one to the state machine), with its log group and role, the S3 trigger that invokes it and the queue that catches the
files it fails on."""

from __future__ import annotations

import jsii
from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from csv_ingest.infra.engine_function import FunctionSizing, engine_function
from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.constants import (
    CSV_SUFFIXES,
    ENV_REJECTS_BUCKET,
    ENV_STATE_MACHINE_ARN,
    ENV_TABLE_NAME,
    HANDLER_TRIGGER,
)

# The object names that invoke the function, one notification each (an S3 filter takes one suffix): those the engine
# ingests, and their capitalised forms, because S3's filters are case-sensitive, Excel on Windows often writes `.CSV`,
# and gzip adds `.gz` to it (`ORDERS.CSV.gz`). Suffixes of one notification may not overlap another's, so no bare
# `.gz`. New suffixes go last: the others keep their place in the deployed notification configuration.
TRIGGER_SUFFIXES = (".csv", ".CSV", *CSV_SUFFIXES[1:], ".CSV.gz", ".CSV.GZ")
# The function is invoked asynchronously by S3: two retries (Lambda's default, made explicit), and an event that
# still fails, or waits longer than this, goes to the failed-events queue. A throttle is not a failed attempt: an
# event Lambda cannot run because the function is at its reserved concurrency goes back to Lambda's queue and is
# tried again (1 s apart at first, up to 5 minutes apart) until it runs or is this old, so a burst of uploads
# waits for the reserved invocations for up to 6 hours, then lands in the queue too.
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(6)

# The stack-level singleton CDK creates for `add_event_notification`; the id is fixed in aws-cdk-lib. If an
# upgrade renames it, `find_child` fails the synth, which is the signal to look again.
_NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
_LAMBDA_BASIC_EXECUTION = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


class IngestionFunction(Construct):
    """`function` runs lambda/handler.py for each CSV created in `upload_bucket` under `upload_prefix` (a name
    ending in one of `TRIGGER_SUFFIXES`: .csv or .csv.gz, in capitals too), as `role`, logging to `log_group`, at
    most `reserved_concurrency` invocations at once (None: no reservation).

    The trigger is CDK's bucket notification: for a bucket of the stack, one configuration the stack owns whole; for
    an imported one, CDK's handler adds these notifications to those the bucket already has, and removes only these
    (`Managed: false`).

    It is told the table, the rejects bucket, how to read and write rows (`config`'s key schema, column types, file
    format, write mode and concurrency) and the state machine it starts for objects larger than
    `config.large_file_bytes`, through its environment; it is granted nothing here but its own log group and sending
    to `failed_events_queue`, where the S3 event of a file that fails every attempt goes. Whoever composes it grants
    the data access and the starting of executions. `encryption_key` (None: the services' own keys) encrypts its log
    group and environment. It logs and counts as `service_name`.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        upload_bucket: s3.IBucket,
        upload_prefix: str,
        table_name: str,
        rejects_bucket_name: str,
        failed_events_queue: sqs.IQueue,
        state_machine_arn: str,
        config: EngineConfig,
        sizing: FunctionSizing,
        reserved_concurrency: int | None,
        encryption_key: kms.IKey | None,
        service_name: str,
    ) -> None:
        super().__init__(scope, id_)
        parts = engine_function(
            self,
            "Function",
            handler=HANDLER_TRIGGER,
            environment={
                ENV_TABLE_NAME: table_name,
                **config.for_function(HANDLER_TRIGGER),
                ENV_REJECTS_BUCKET: rejects_bucket_name,
                ENV_STATE_MACHINE_ARN: state_machine_arn,
            },
            sizing=sizing,
            service_name=service_name,
            encryption_key=encryption_key,
            reserved_concurrency=reserved_concurrency,
        )
        self.function, self.role, self.log_group = parts.function, parts.role, parts.log_group
        # The S3 event of a file that fails every attempt lands in the queue instead of vanishing with the retries.
        self.function.configure_async_invoke(
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=ASYNC_MAX_EVENT_AGE,
            on_failure=_SendOnlyQueueDestination(failed_events_queue),
        )
        self._trigger_on_csv_uploads(upload_bucket, upload_prefix)

    def _trigger_on_csv_uploads(self, bucket: s3.IBucket, prefix: str) -> None:
        destination = s3n.LambdaDestination(self.function)
        for suffix in TRIGGER_SUFFIXES:
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED, destination, s3.NotificationKeyFilter(prefix=prefix or None, suffix=suffix)
            )
        # The one finding inherent to a resource CDK generates for us, which exists from the first notification on.
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

    CDK's SqsDestination grants `send_messages`, which adds sqs:GetQueueAttributes and sqs:GetQueueUrl, calls the
    delivery does not make.
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(
        self, _scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        sqs.QueueGrants.from_queue(self._queue).actions(fn, ["sqs:SendMessage"])
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)
