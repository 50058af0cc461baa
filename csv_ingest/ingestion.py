"""The IngestionFunction construct: the Lambda function that loads one uploaded CSV into the table (or hands a large
one to the state machine), with its log group and role, the S3 trigger that invokes it and the queue that catches the
files it fails on; and `engine_function` and `schema_environment`, how every function of the pipeline runs the engine
and is told the table's key, the columns' types and the files' format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import Acknowledgment, CfnElement, Duration, RemovalPolicy, Size, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_python_alpha import BundlingOptions, PythonFunction
from constructs import Construct, IConstruct

from csv_ingest_engine.constants import (
    CSV_SUFFIXES,
    ENV_LARGE_FILE_BYTES,
    ENV_REJECTS_BUCKET,
    ENV_STATE_MACHINE_ARN,
    ENV_TABLE_NAME,
    ENV_WRITE_CONCURRENCY,
    ENV_WRITE_MODE,
    HANDLER_TRIGGER,
    METRICS_NAMESPACE,
    SERVICE_NAME,
    WriteMode,
)
from csv_ingest_engine.schema import CsvFormat, Schema
from csv_ingest_engine.settings import schema_environment

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
# The object names that invoke the function, one notification each (an S3 filter takes one suffix): those the engine
# ingests, and their capitalised forms, because S3's filters are case-sensitive, Excel on Windows often writes `.CSV`,
# and gzip adds `.gz` to it (`ORDERS.CSV.gz`). Suffixes of one notification may not overlap another's, so no bare
# `.gz`. In the order first deployed, new suffixes last.
TRIGGER_SUFFIXES = (".csv", ".CSV", *CSV_SUFFIXES[1:], ".CSV.gz", ".CSV.GZ")
# The function is invoked asynchronously by S3: two retries (Lambda's default, made explicit), and an event that
# still fails, or waits longer than this, goes to the failed-events queue.
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(6)

# The stack-level singleton CDK creates for `add_event_notification`; the id is fixed in aws-cdk-lib. If an
# upgrade renames it, `find_child` fails the synth, which is the signal to look again.
_NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
_LAMBDA_BASIC_EXECUTION = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@dataclass(frozen=True, kw_only=True)
class FunctionSizing:
    """Memory (and with it CPU), timeout and /tmp of a function running the engine."""

    memory_size_mb: int
    timeout: Duration
    ephemeral_storage_mib: int


@dataclass(frozen=True)
class EngineFunction:
    """A function running one entry point of lambda/handler.py as its own `role`, logging to its own `log_group`."""

    function: PythonFunction
    role: iam.Role
    log_group: logs.LogGroup


def engine_function(
    scope: Construct, id_: str, *, handler: str, environment: Mapping[str, str], sizing: FunctionSizing
) -> EngineFunction:
    """The function `id_` (with `{id_}Logs` and `{id_}Role` beside it in `scope`) running `handler.<handler>`.

    Every function of the pipeline is built here, so they share one code asset (one bundling), runtime and
    architecture. The role may write to the function's log group and nothing else; whoever composes it grants the
    data access.
    """
    log_group = logs.LogGroup(
        scope, f"{id_}Logs", retention=logs.RetentionDays.ONE_WEEK, removal_policy=RemovalPolicy.DESTROY
    )
    # An explicit role instead of the default one, which would attach the AWSLambdaBasicExecutionRole
    # managed policy (logs:CreateLogGroup and writes to any log group).
    role = iam.Role(scope, f"{id_}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    log_group.grant_write(role)
    function = PythonFunction(
        scope,
        id_,
        entry=str(LAMBDA_DIR),
        index="handler.py",
        handler=handler,
        runtime=lambda_.Runtime.PYTHON_3_14,
        # Graviton costs ~20% less per GB-second; bundling then runs in a linux/arm64 container, which an x86
        # Docker host runs through QEMU emulation.
        architecture=lambda_.Architecture.ARM_64,
        memory_size=sizing.memory_size_mb,
        timeout=sizing.timeout,
        ephemeral_storage_size=Size.mebibytes(sizing.ephemeral_storage_mib),
        log_group=log_group,
        role=role,
        # Local build artefacts (pip's egg-info from an editable install, bytecode) stay out of the zip.
        bundling=BundlingOptions(asset_excludes=["*.egg-info", "__pycache__", "*.pyc", "requirements.in"]),
        environment={
            **environment,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        },
    )
    return EngineFunction(function, role, log_group)


class IngestionFunction(Construct):
    """`function` runs lambda/handler.py for each CSV created in `upload_bucket` (a name ending in one of
    `TRIGGER_SUFFIXES`: .csv or .csv.gz, in capitals too), as `role`, logging to `log_group`.

    It is told the table, its key schema and the columns' types, the files' format, the rejects bucket and the write
    mode through its environment, and the state machine it starts for objects larger than `large_file_bytes`; it is
    granted nothing here but its own log group and sending to `failed_events_queue`, where the S3 event of a file
    that fails every attempt goes. Whoever composes it grants the data access and the starting of executions.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        upload_bucket: s3.IBucket,
        table_name: str,
        rejects_bucket_name: str,
        failed_events_queue: sqs.IQueue,
        state_machine_arn: str,
        large_file_bytes: int,
        schema: Schema,
        csv_format: CsvFormat,
        write_mode: WriteMode,
        write_concurrency: int,
        sizing: FunctionSizing,
    ) -> None:
        super().__init__(scope, id_)
        parts = engine_function(
            self,
            "Function",
            handler=HANDLER_TRIGGER,
            environment={
                ENV_TABLE_NAME: table_name,
                **schema_environment(schema, csv_format),
                ENV_REJECTS_BUCKET: rejects_bucket_name,
                ENV_WRITE_MODE: write_mode,
                ENV_WRITE_CONCURRENCY: str(write_concurrency),
                ENV_STATE_MACHINE_ARN: state_machine_arn,
                ENV_LARGE_FILE_BYTES: str(large_file_bytes),
            },
            sizing=sizing,
        )
        self.function, self.role, self.log_group = parts.function, parts.role, parts.log_group
        # The S3 event of a file that fails every attempt lands in the queue instead of vanishing with the retries.
        self.function.configure_async_invoke(
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=ASYNC_MAX_EVENT_AGE,
            on_failure=_SendOnlyQueueDestination(failed_events_queue),
        )
        self._trigger_on_csv_uploads(upload_bucket)

    def _trigger_on_csv_uploads(self, bucket: s3.IBucket) -> None:
        destination = s3n.LambdaDestination(self.function)
        for suffix in TRIGGER_SUFFIXES:
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED, destination, s3.NotificationKeyFilter(suffix=suffix)
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


def logical_id(construct: IConstruct) -> str:
    """The logical ID of `construct`'s CloudFormation resource, as the template shows it (cdk-nag's finding IDs
    name resources by it)."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return str(Stack.of(construct).resolve(resource.logical_id))


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
