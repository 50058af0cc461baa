"""The CsvIngestPipeline construct: upload bucket -> Python Lambda (or, for a large file, a Step Functions state
machine) -> DynamoDB table, composed of its storage, its ingestion function, its large-file flow and its monitoring,
with the grants between them and the stack outputs."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aws_cdk import Acknowledgment, CfnElement, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from csv_ingest.ingestion import FunctionSizing, IngestionFunction, logical_id
from csv_ingest.large_files import LargeFileFlow
from csv_ingest.monitoring import Monitoring
from csv_ingest.storage import Storage
from csv_ingest_engine.constants import (
    COLUMN_TYPES,
    DEFAULT_CONCURRENCY,
    DEFAULT_DELIMITER,
    DEFAULT_ENCODING,
    DEFAULT_KEY_COLUMN,
    DEFAULT_KEY_TYPE,
    DEFAULT_LARGE_FILE_BYTES,
    DEFAULT_MAX_WORKERS,
    DEFAULT_PARTITION_BYTES,
    DEFAULT_WRITE_MODE,
    DELIMITERS,
    ENCODINGS,
    KEY_TYPES,
    MAX_CONCURRENCY,
    MIN_CONCURRENCY,
    WRITE_MODES,
    ColumnType,
    KeyType,
    WriteMode,
)
from csv_ingest_engine.schema import CsvFormat, KeyAttribute, Schema, SchemaError

KIB, GIB, TIB = 1024, 1024**3, 1024**4
# Lambda allows 4 KB for all of a function's environment variables; the others take well under 1 KB.
MAX_COLUMN_TYPES_BYTES = 3 * KIB
S3_MAX_OBJECT_BYTES = 5 * TIB
# Step Functions' limit for a Distributed Map's MaxConcurrency (0 would mean no limit at all).
MAX_MAP_CONCURRENCY = 10_000


@dataclass(frozen=True, kw_only=True)
class PipelineProps:
    """Everything a deployment may tune; the defaults are the development setup."""

    # The table's key: the partition key's column and type, and a sort key's, or none. Changing any of them replaces
    # a deployed table (see Storage).
    key_column: str = DEFAULT_KEY_COLUMN
    key_type: KeyType = DEFAULT_KEY_TYPE
    sort_key_column: str | None = None
    sort_key_type: KeyType = DEFAULT_KEY_TYPE
    # What other columns' cells become (column -> S, N, BOOL or JSON); a column not named is a string as written.
    column_types: Mapping[str, ColumnType] = field(default_factory=dict)
    # How the uploaded files are written: the delimiter (the character) and the encoding (csv_ingest_engine's name).
    csv_delimiter: str = DEFAULT_DELIMITER
    csv_encoding: str = DEFAULT_ENCODING
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
    # Objects larger than this go through the state machine, in partitions of about `partition_bytes`, `max_workers`
    # of them written at once (sizing rule: max_workers x ~1,000 rows/s per worker <= the table's write capacity).
    large_file_bytes: int = DEFAULT_LARGE_FILE_BYTES
    partition_bytes: int = DEFAULT_PARTITION_BYTES
    max_workers: int = DEFAULT_MAX_WORKERS

    def __post_init__(self) -> None:
        self._check_schema()
        self._check_format()
        if self.alarm_email is not None and ("@" not in self.alarm_email or any(c.isspace() for c in self.alarm_email)):
            raise ValueError(f"alarm_email must be an e-mail address, got {self.alarm_email!r}")
        _check_range("memory_size_mb", self.memory_size_mb, 128, 10240)
        if not 1 <= self.timeout.to_seconds() <= 900:
            raise ValueError(f"timeout must be between 1 second and 15 minutes (Lambda's limit), got {self.timeout}")
        _check_range("ephemeral_storage_mib", self.ephemeral_storage_mib, 512, 10240)
        _check_range("noncurrent_version_expiration_days", self.noncurrent_version_expiration_days, 1, 36500)
        _check_range("rejects_expiration_days", self.rejects_expiration_days, 1, 36500)
        _check_choice("write_mode", self.write_mode, WRITE_MODES)
        _check_range("write_concurrency", self.write_concurrency, MIN_CONCURRENCY, MAX_CONCURRENCY)
        _check_range(
            "large_file_bytes", self.large_file_bytes, 1, S3_MAX_OBJECT_BYTES, why="5 TiB, S3's largest object"
        )
        _check_range(
            "partition_bytes",
            self.partition_bytes,
            KIB,
            GIB,
            why="a partition is one invocation's work, which must end within Lambda's 15 minutes",
        )
        _check_range(
            "max_workers", self.max_workers, 1, MAX_MAP_CONCURRENCY, why="Step Functions' Distributed Map limit"
        )

    def _check_schema(self) -> None:
        _check_key_name("key_column", self.key_column)
        _check_choice("key_type", self.key_type, KEY_TYPES)
        _check_choice("sort_key_type", self.sort_key_type, KEY_TYPES)
        if self.sort_key_column is not None:
            _check_key_name("sort_key_column", self.sort_key_column)
            if self.sort_key_column == self.key_column:
                raise ValueError(
                    f"sort_key_column must not be the partition key's column ({self.key_column!r}): name another "
                    "column, or leave sort_key_column out for a table without a sort key"
                )
        elif self.sort_key_type != DEFAULT_KEY_TYPE:
            raise ValueError(f"sort_key_type ({self.sort_key_type!r}) is the sort key's type: set sort_key_column too")
        for name, kind in self.column_types.items():
            if not name or name != name.strip():
                raise ValueError(f"column_types: {name!r} is not a column name (non-empty, without surrounding spaces)")
            if kind not in COLUMN_TYPES:
                raise ValueError(
                    f"column_types, column {name!r}: {kind!r} is not a column type; "
                    f"use one of {', '.join(COLUMN_TYPES)}"
                )
        encoded = json.dumps(dict(self.column_types), sort_keys=True, separators=(",", ":")).encode()
        if len(encoded) > MAX_COLUMN_TYPES_BYTES:
            raise ValueError(
                f"column_types takes {len(encoded):,} bytes as the functions' COLUMN_TYPES variable; Lambda allows "
                f"4 KB for all of a function's variables, so at most {MAX_COLUMN_TYPES_BYTES:,} here: type fewer "
                "columns (every other column stays a string)"
            )
        try:
            _ = self.schema  # Schema refuses a column type for a key column (its type is the key's)
        except SchemaError as exc:
            raise ValueError(f"column_types: {exc}") from exc

    def _check_format(self) -> None:
        if self.csv_delimiter not in DELIMITERS.values():
            raise ValueError(f"csv_delimiter must be one of , ; | or a tab (the character), got {self.csv_delimiter!r}")
        _check_choice("csv_encoding", self.csv_encoding, ENCODINGS)

    @property
    def schema(self) -> Schema:
        """The table's key schema and the columns' types, as the engine reads them."""
        sort_key = None if self.sort_key_column is None else KeyAttribute(self.sort_key_column, self.sort_key_type)
        return Schema(KeyAttribute(self.key_column, self.key_type), sort_key, dict(self.column_types))

    @property
    def csv_format(self) -> CsvFormat:
        return CsvFormat(delimiter=self.csv_delimiter, encoding=self.csv_encoding)

    @property
    def sizing(self) -> FunctionSizing:
        return FunctionSizing(
            memory_size_mb=self.memory_size_mb, timeout=self.timeout, ephemeral_storage_mib=self.ephemeral_storage_mib
        )


def _check_key_name(name: str, value: str) -> None:
    if not value or value != value.strip():
        raise ValueError(f"{name} must be a non-empty name without surrounding spaces, got {value!r}")
    if len(value.encode()) > 255:
        raise ValueError(f"{name} must be at most 255 bytes (the DynamoDB limit for key attribute names)")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _check_range(name: str, value: int, low: int, high: int, *, why: str | None = None) -> None:
    if not low <= value <= high:
        because = f" ({why})" if why else ""
        raise ValueError(f"{name} must be between {low} and {high}{because}, got {value}")


class CsvIngestPipeline(Construct):
    """A CSV dropped into `storage.upload_bucket` triggers `ingestion.function`, which upserts its rows into
    `storage.table`, or, for a file larger than `props.large_file_bytes`, starts `large_files.state_machine`, which
    writes it in partitions through `storage.work_bucket`.

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
            schema=self.props.schema,
            retain_data=self.props.retain_data,
            noncurrent_version_expiration=Duration.days(self.props.noncurrent_version_expiration_days),
            rejects_expiration=Duration.days(self.props.rejects_expiration_days),
        )
        # The state machine first: the trigger function is told its ARN (and the state machine knows nothing of
        # the trigger, so there is no cycle).
        self.large_files = LargeFileFlow(
            self,
            "LargeFiles",
            work_bucket_name=self.storage.work_bucket.bucket_name,
            table_name=self.storage.table.table_name,
            rejects_bucket_name=self.storage.rejects_bucket.bucket_name,
            schema=self.props.schema,
            csv_format=self.props.csv_format,
            write_mode=self.props.write_mode,
            write_concurrency=self.props.write_concurrency,
            partition_bytes=self.props.partition_bytes,
            max_workers=self.props.max_workers,
            sizing=self.props.sizing,
        )
        self.ingestion = IngestionFunction(
            self,
            "Ingestion",
            upload_bucket=self.storage.upload_bucket,
            table_name=self.storage.table.table_name,
            rejects_bucket_name=self.storage.rejects_bucket.bucket_name,
            failed_events_queue=self.storage.failed_events_queue,
            state_machine_arn=self.large_files.state_machine.state_machine_arn,
            large_file_bytes=self.props.large_file_bytes,
            schema=self.props.schema,
            csv_format=self.props.csv_format,
            write_mode=self.props.write_mode,
            write_concurrency=self.props.write_concurrency,
            sizing=self.props.sizing,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            function=self.ingestion.function,
            timeout=self.props.timeout,
            table=self.storage.table,
            failed_events_queue=self.storage.failed_events_queue,
            state_machine=self.large_files.state_machine,
            alarm_email=self.props.alarm_email,
        )
        # Every resource was first deployed as a child of the pipeline itself; each keeps the logical ID of then,
        # so the split changes the code, not the deployment. A replaced bucket, table or queue is a new, empty one;
        # a bucket or queue policy, the upload trigger and the auto-delete resources are one per bucket or queue, so
        # their replacement is created first and deleting the old one strips the policy or trigger, or empties the
        # bucket; a replaced function can drop events queued for the old one, a replaced log group loses the logs,
        # and a new alarm topic notifies no one until its subscription is confirmed again. This comes before the
        # acknowledgements below, which read the buckets' logical IDs. The large-file flow came later: its resources
        # have the IDs CDK gives them where they are.
        parts = [self.storage, self.ingestion, self.monitoring]
        _keep_logical_ids(parts, first_deployed_without=parts)
        self._grant_data_access()
        self._grant_large_file_access()
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
        _acknowledge_every_key(
            self.ingestion.role,
            {
                storage.upload_bucket: "The function reads whichever object the S3 event names, so it needs GetObject "
                "on every key of the upload bucket (and only that bucket).",
                storage.rejects_bucket: "A report's key follows the key of the upload it belongs to, which can be any "
                "key, so the function needs PutObject on every key of the rejects bucket (and only that bucket).",
            },
        )

    def _grant_large_file_access(self) -> None:
        """Exactly the calls each step of the large-file path makes (lambda/handler.py's entry points).

        Only the trigger function may start the state machine. Work objects live under a prefix named after the
        execution, chosen at run time, so each grant on the work bucket covers its every key (and only that bucket).
        """
        storage, flow = self.storage, self.large_files
        work_bucket = storage.work_bucket
        flow.state_machine.grant_start_execution(self.ingestion.function)

        partition = flow.partition.function  # reads the upload's version, writes the partitions' chunks
        storage.upload_bucket.grants.actions_on_object_keys(partition, "*", "s3:GetObject", "s3:GetObjectVersion")
        work_bucket.grants.actions_on_object_keys(partition, "*", "s3:PutObject")
        _acknowledge_every_key(
            flow.partition.role,
            {
                storage.upload_bucket: "The partition step reads whichever upload the execution names, so it needs "
                "GetObject on every key of the upload bucket (and only that bucket).",
                work_bucket: "The partition step writes chunks under a prefix named after the execution, chosen at "
                "run time, so it needs PutObject on every key of the work bucket (and only that bucket).",
            },
        )

        worker = flow.ingest_partition.function  # reads its partition's chunks, writes rows, its result and rejects
        work_bucket.grants.actions_on_object_keys(worker, "*", "s3:GetObject", "s3:PutObject")
        batch_writes = ["dynamodb:BatchWriteItem"] if self.props.write_mode == "replace" else []
        storage.table.grants.actions(worker, "dynamodb:UpdateItem", "dynamodb:PutItem", *batch_writes)
        _acknowledge_every_key(
            flow.ingest_partition.role,
            {
                work_bucket: "A worker reads its partition's chunks and writes its result under a prefix named after "
                "the execution, chosen at run time, so it needs GetObject and PutObject on every key of the work "
                "bucket (and only that bucket).",
            },
        )

        finish = flow.finish.function  # reads the results and partial rejects, writes the report, deletes it all
        work_bucket.grants.actions_on_object_keys(finish, "*", "s3:GetObject", "s3:DeleteObject")
        storage.rejects_bucket.grants.actions_on_object_keys(finish, "*", "s3:PutObject")
        _acknowledge_every_key(
            flow.finish.role,
            {
                work_bucket: "The finish step reads and deletes the objects under a prefix named after the execution, "
                "chosen at run time, so it needs GetObject and DeleteObject on every key of the work bucket (and only "
                "that bucket).",
                storage.rejects_bucket: "A report's key follows the key of the upload it belongs to, which can be any "
                "key, so the finish step needs PutObject on every key of the rejects bucket (and only that bucket).",
            },
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
        CfnOutput(
            self,
            "WorkBucketName",
            value=storage.work_bucket.bucket_name,
            description="Partitions of large files while the state machine ingests them (expire after a day)",
        )
        CfnOutput(
            self,
            "StateMachineArn",
            value=self.large_files.state_machine.state_machine_arn,
            description="Step Functions state machine ingesting files larger than large_file_bytes: see its "
            "executions' history for a failed file",
        )


def _acknowledge_every_key(role: iam.Role, reasons: dict[s3.IBucket, str]) -> None:
    """Acknowledge cdk-nag's AwsSolutions-IAM5 finding for `role`'s grant on every key of each bucket, with its
    reason."""
    default_policy = Validations.of(role.node.find_child("DefaultPolicy"))
    for bucket, reason in reasons.items():
        default_policy.acknowledge(
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/*]", reason=reason)
        )


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
