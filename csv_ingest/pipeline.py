"""The CsvIngestPipeline construct: upload bucket -> Python Lambda -> DynamoDB table, composed of its storage, its
ingestion function and its monitoring, with the grants between them and the stack outputs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from aws_cdk import Acknowledgment, CfnElement, CfnOutput, Duration, Stack, Validations
from constructs import Construct, IConstruct

from csv_ingest.ingestion import IngestionFunction
from csv_ingest.monitoring import Monitoring
from csv_ingest.storage import Storage
from csv_ingest_engine.constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_KEY_COLUMN,
    DEFAULT_WRITE_MODE,
    MAX_CONCURRENCY,
    MIN_CONCURRENCY,
    WRITE_MODES,
    WriteMode,
)


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


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


class CsvIngestPipeline(Construct):
    """A CSV dropped into `storage.upload_bucket` triggers `ingestion.function`, which upserts its rows into
    `storage.table`.

    Rejected rows go to a report in `storage.rejects_bucket`; the S3 event of a file that still fails after the
    retries goes to `storage.failed_events_queue`. `monitoring` alarms on both, and on errors and long runs, through
    `monitoring.alarm_topic`, and shows it all on `monitoring.dashboard`.
    """

    def __init__(self, scope: Construct, id_: str, *, props: PipelineProps | None = None) -> None:
        super().__init__(scope, id_)
        self.props = props or PipelineProps()
        self.storage = Storage(
            self,
            "Storage",
            key_column=self.props.key_column,
            retain_data=self.props.retain_data,
            noncurrent_version_expiration=Duration.days(self.props.noncurrent_version_expiration_days),
            rejects_expiration=Duration.days(self.props.rejects_expiration_days),
        )
        self.ingestion = IngestionFunction(
            self,
            "Ingestion",
            upload_bucket=self.storage.upload_bucket,
            table_name=self.storage.table.table_name,
            rejects_bucket_name=self.storage.rejects_bucket.bucket_name,
            failed_events_queue=self.storage.failed_events_queue,
            key_column=self.props.key_column,
            write_mode=self.props.write_mode,
            write_concurrency=self.props.write_concurrency,
            memory_size_mb=self.props.memory_size_mb,
            timeout=self.props.timeout,
            ephemeral_storage_mib=self.props.ephemeral_storage_mib,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            function=self.ingestion.function,
            timeout=self.props.timeout,
            table=self.storage.table,
            failed_events_queue=self.storage.failed_events_queue,
            alarm_email=self.props.alarm_email,
        )
        # Every resource was first deployed as a child of the pipeline itself; each keeps the logical ID of then,
        # so the split changes the code, not the deployment. A replaced bucket, table or queue is a new, empty one;
        # a bucket or queue policy, the upload trigger and the auto-delete resources are one per bucket or queue, so
        # their replacement is created first and deleting the old one strips the policy or trigger, or empties the
        # bucket; a replaced function can drop events queued for the old one, a replaced log group loses the logs,
        # and a new alarm topic notifies no one until its subscription is confirmed again. This comes before the
        # acknowledgements below, which read the buckets' logical IDs.
        parts = [self.storage, self.ingestion, self.monitoring]
        _keep_logical_ids(parts, first_deployed_without=parts)
        self._grant_data_access()
        self._outputs()

    def _grant_data_access(self) -> None:
        """Exactly the calls the handler makes: read the uploaded object, upsert rows, write a rejects report.

        Action-level grants, not `grant_read`/`grant_put`/`grant_write_data`: those add listing, tagging, deleting
        and DescribeTable, which the handler never calls. None of these resources has a customer-managed key, so the
        grants add no KMS statement either.
        """
        function = self.ingestion.function
        storage = self.storage
        storage.upload_bucket.grants.actions_on_object_keys(function, "*", "s3:GetObject", "s3:GetObjectVersion")
        # BatchWriteItem only where the code calls it: the replace mode's batched puts.
        batch_writes = ["dynamodb:BatchWriteItem"] if self.props.write_mode == "replace" else []
        storage.table.grants.actions(function, "dynamodb:UpdateItem", "dynamodb:PutItem", *batch_writes)
        # upload_file: a large report goes up in parts, which s3:PutObject authorizes too.
        storage.rejects_bucket.grants.actions_on_object_keys(function, "*", "s3:PutObject")
        default_policy = Validations.of(self.ingestion.role.node.find_child("DefaultPolicy"))
        for bucket, reason in (
            (
                storage.upload_bucket,
                "The function reads whichever object the S3 event names, so it needs GetObject on every "
                "key of the upload bucket (and only that bucket).",
            ),
            (
                storage.rejects_bucket,
                "A report's key follows the key of the upload it belongs to, which can be any key, so the "
                "function needs PutObject on every key of the rejects bucket (and only that bucket).",
            ),
        ):
            default_policy.acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{_logical_id(bucket)}.Arn>/*]", reason=reason
                )
            )

    def _outputs(self) -> None:
        # Defined here, where they were first deployed, so that their keys in the stack's outputs stay the same.
        storage, monitoring = self.storage, self.monitoring
        CfnOutput(
            self, "UploadBucketName", value=storage.upload_bucket.bucket_name, description="Upload CSV files here"
        )
        CfnOutput(self, "TableName", value=storage.table.table_name, description="DynamoDB table receiving the rows")
        CfnOutput(
            self,
            "FunctionName",
            value=self.ingestion.function.function_name,
            description="Lambda function that ingests each uploaded CSV",
        )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=monitoring.alarm_topic.topic_arn,
            description="SNS topic notified by the pipeline alarms",
        )
        CfnOutput(
            self,
            "RejectsBucketName",
            value=storage.rejects_bucket.bucket_name,
            description="Reports of rejected rows: fix them and upload the report to the upload bucket",
        )
        CfnOutput(
            self,
            "FailedEventsQueueUrl",
            value=storage.failed_events_queue.queue_url,
            description="S3 events of files that failed on every attempt, to redrive once the cause is fixed",
        )
        CfnOutput(
            self,
            "DashboardName",
            value=monitoring.dashboard.dashboard_name,
            description="CloudWatch dashboard of the pipeline",
        )


def _logical_id(construct: IConstruct) -> str:
    """The logical ID of `construct`'s CloudFormation resource, as the template shows it."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return str(Stack.of(construct).resolve(resource.logical_id))


def _keep_logical_ids(constructs: Iterable[IConstruct], *, first_deployed_without: Iterable[IConstruct]) -> None:
    """Give every CloudFormation element in `constructs` the logical ID it had before the parts in
    `first_deployed_without` existed, when it was a child of the pipeline itself.

    CDK derives a logical ID from the construct path, so moving a resource into a part changes its ID, and
    CloudFormation replaces a resource whose logical ID changes. tests/infra/logical_ids.py records the IDs that
    must not change; two elements given the same ID fail the synth.
    """
    part_paths = {part.node.path for part in first_deployed_without}
    for construct in constructs:
        for element in construct.node.find_all():
            if isinstance(element, CfnElement):
                below_stack = element.node.scopes[len(Stack.of(element).node.scopes) :]
                path = [scope.node.id for scope in below_stack if scope.node.path not in part_paths]
                element.override_logical_id(_cdk_logical_id(path))


def _cdk_logical_id(path: list[str]) -> str:
    """The logical ID CDK allocates to the element at `path` (construct ids below the stack).

    aws-cdk-lib's makeUniqueId (core/lib/private/uniqueid.ts), which CDK cannot change without replacing resources
    in every deployed app: the ids without "Default"; a single id stands alone; otherwise each id not already the end
    of the previous one, without "Resource", alphanumerics only, then the first 8 hex digits of the path's MD5.
    """
    ids = [id_ for id_ in path if id_ != "Default"]
    if len(ids) == 1 and len(alone := _alphanumeric(ids[0])) <= 255:
        return alone
    digest = hashlib.md5("/".join(ids).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    human: list[str] = []
    for id_ in ids:
        if not human or not human[-1].endswith(id_):
            human.append(id_)
    return "".join(_alphanumeric(id_) for id_ in human if id_ != "Resource")[:240] + digest


def _alphanumeric(text: str) -> str:
    return re.sub("[^A-Za-z0-9]", "", text)
