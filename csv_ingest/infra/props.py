"""PipelineProps: everything a deployment of the pipeline may tune, each checked as it is given, and the one engine
configuration (`engine`) the functions are told."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from aws_cdk import Duration

from csv_ingest.infra.engine_function import FunctionSizing
from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.constants import (
    COLUMN_TYPES,
    DEFAULT_CONCURRENCY,
    DEFAULT_DELIMITER,
    DEFAULT_ENCODING,
    DEFAULT_KEY_COLUMN,
    DEFAULT_KEY_TYPE,
    DEFAULT_LARGE_FILE_BYTES,
    DEFAULT_LOGGED_REJECTIONS,
    DEFAULT_MAX_CELLS,
    DEFAULT_MAX_WORKERS,
    DEFAULT_ORDER_ATTRIBUTE,
    DEFAULT_PARTITION_BYTES,
    DEFAULT_WRITE_MODE,
    DELIMITERS,
    ENCODINGS,
    KEY_TYPES,
    MAX_CELLS_CEILING,
    MAX_CONCURRENCY,
    MAX_LOGGED_REJECTIONS,
    MIN_CONCURRENCY,
    SERVICE_NAME,
    WRITE_MODES,
    ColumnType,
    KeyType,
    WriteMode,
)
from csv_ingest_engine.schema import (
    CsvFormat,
    KeyAttribute,
    Schema,
    SchemaError,
    check_delete_column,
    order_attribute,
)

KIB, GIB, TIB = 1024, 1024**3, 1024**4
# Lambda allows 4 KB for all of a function's environment variables; the others take well under 1 KB.
MAX_COLUMN_TYPES_BYTES = 3 * KIB
S3_MAX_OBJECT_BYTES = 5 * TIB
# Step Functions' limit for a Distributed Map's MaxConcurrency (0 would mean no limit at all).
MAX_MAP_CONCURRENCY = 10_000
# The trigger function's reserved concurrency: invocations of it at once, whatever the uploads. Small, because each
# one writes a small file at ~1,000 rows/s beside the workers (see `worker_reserved_concurrency`), and a burst of
# uploads waits in Lambda's queue (up to ingestion.ASYNC_MAX_EVENT_AGE) rather than take the account's concurrency.
DEFAULT_TRIGGER_RESERVED_CONCURRENCY = 2
# `worker_reserved_concurrency`'s default: the same number as `max_workers`.
SAME_AS_MAX_WORKERS: Final = "max_workers"
# `encryption`: each service's own keys (AWS-owned or AWS-managed), or one customer-managed key the stack creates.
Encryption = Literal["aws", "kms"]
ENCRYPTIONS: tuple[Encryption, ...] = ("aws", "kms")
# `upload_prefix`: S3's "safe characters" for object keys (which an event filter takes as they are, with no URL
# encoding) but `*`, which IAM would read as a wildcard in the grants' object-key pattern.
UPLOAD_PREFIX_PATTERN = re.compile(r"[A-Za-z0-9!_.'()/-]*")
# S3's longest key is 1,024 bytes: a prefix leaves room for a name ending in .csv.
MAX_UPLOAD_PREFIX_CHARS = 1020
# `service_name`: a CloudWatch dimension value and the `service` of every log line.
SERVICE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True, kw_only=True)
class PipelineProps:
    """Everything a deployment may tune; the defaults are the development setup. `app.py` sets them from CDK context
    keys of the same names (`timeout` from `timeout_minutes`; `service_name` has none). An existing table or upload
    bucket is not a prop: `CsvIngestPipeline` takes it as an object, and `app.py` imports it by name
    (`existing.ExistingResources`)."""

    # -- the table and the files ---------------------------------------------------------------------------------
    key_column: str = DEFAULT_KEY_COLUMN
    """The partition key's column, which every CSV must have. Changing the key (this, `key_type` or the sort key)
    replaces a deployed table (see Storage). With an existing table (`CsvIngestPipeline`'s `existing_table`), the
    key schema given here must be that table's: nothing reads it at synth or deploy time. Default: customer_id."""
    key_type: KeyType = DEFAULT_KEY_TYPE
    """The partition key's type: S, N or B (binary, written in the CSV as base64). Default: S."""
    sort_key_column: str | None = None
    """The sort key's column. Default: none, a table without a sort key."""
    sort_key_type: KeyType = DEFAULT_KEY_TYPE
    """The sort key's type (S, N or B), with `sort_key_column` only. Default: S."""
    column_types: Mapping[str, ColumnType] = field(default_factory=dict)
    """What other columns' cells become (column -> S, N, BOOL or JSON), at most 3 KiB as JSON. Default: none, every
    column not named is a string as written."""
    delete_column: str | None = None
    """The delete-marker column: a row whose cell there is `true` (any case, surrounding whitespace trimmed) deletes
    its item (a `DeleteItem`, on the ordering's condition), `false` or empty writes the row, anything else rejects
    it; the column is never written. Not a key column, the order attribute or a typed column. Default: none, no row
    deletes (and the functions may not `dynamodb:DeleteItem`)."""
    csv_delimiter: str = DEFAULT_DELIMITER
    """The uploaded files' delimiter (the character): `,` `;` `|` or a tab. Default: `,`."""
    csv_encoding: str = DEFAULT_ENCODING
    """The uploaded files' encoding, by csv_ingest_engine's name: utf-8, cp1252, latin-1 or utf-16. Default: utf-8."""
    csv_max_cells: int = DEFAULT_MAX_CELLS
    """The most cells a record may have, empty ones included, 1 to 409,600 (the most attributes a 400 KB item could
    hold): a wider row is rejected, a wider header fails its file. Default: 65,536."""
    ordering: bool = True
    """Stamp every item with its upload's order and never let a row of an older upload overwrite an item a newer one
    wrote (a conditional write; the README's "Many uploads"). False: unconditional writes, no stamp attribute, and
    the upload handled last wins. Default: true."""
    order_attribute: str = DEFAULT_ORDER_ATTRIBUTE
    """The attribute the order stamp is kept in (no file may have a column of that name). Default:
    _csv_ingest_order."""

    # -- where the files arrive ----------------------------------------------------------------------------------
    upload_prefix: str = ""
    """Only objects whose key starts with this are ingested: the S3 notification's prefix filter (with the usual
    .csv and .csv.gz suffixes), and the only keys the functions may read (`Storage.upload_keys`). Letters, digits and
    ! - _ . ' ( ) / (S3's safe characters, but *), not starting with /; usually a folder, such as `customers/`. For
    an upload bucket several pipelines share, each needs a prefix no other one's starts with. Default: empty, every
    key of the bucket."""

    # -- the data's lifetime and the alarms ----------------------------------------------------------------------
    retain_data: bool = False
    """Keep the buckets (but the work bucket), the table and the failed-events queue when the stack is deleted.
    An existing table or upload bucket is never the stack's to delete, whatever this says. Default: false, deleted
    with the stack, the buckets emptied first."""
    alarm_email: str | None = None
    """An e-mail address the alarm topic notifies (after the subscription is confirmed). Default: none, the topic
    only."""
    service_name: str = SERVICE_NAME
    """The name the functions log and count under: Powertools' service, the `service` of every log line and the
    dimension of the pipeline's metrics, which its alarms and dashboard read. Pipelines in one account and region
    need different ones, or each one's alarms and dashboard count the other's files too (a stack refuses two
    pipelines with the same one). 1 to 128 letters, digits, `.`, `_` or `-`, starting with a letter or digit. No
    context key: the stack holds one pipeline. Default: csv-ingest."""
    logged_rejections: int = DEFAULT_LOGGED_REJECTIONS
    """How many of a file's rejected rows its log names (line, key and reason), 0 to 1,000; the rest are counted,
    and every one is in the rejects report. Default: 20."""
    noncurrent_version_expiration_days: int = 30
    """Days a replaced or deleted upload's old version is kept, 1 to 36,500: the lifecycle rule of the pipeline's
    own upload bucket (an existing one keeps its owner's rules). Default: 30."""
    rejects_expiration_days: int = 30
    """Days a report of rejected rows is kept, 1 to 36,500. Default: 30."""
    encryption: Encryption = "aws"
    """How the data is encrypted at rest. aws: each service's own keys (SSE-S3 buckets, the AWS-managed aws/dynamodb
    key for the table, SSE-SQS for the queue, CloudWatch Logs' own encryption; the alarm topic has a key of its own,
    as CloudWatch needs). kms: one customer-managed key the stack creates, with yearly rotation, for the buckets (but
    the access-logs bucket), the table, the queue, the alarm topic, the log groups and the functions' environment,
    kept (or deleted) with the data (`retain_data`). Default: aws."""

    # -- the functions -------------------------------------------------------------------------------------------
    memory_size_mb: int = 1769
    """Each function's memory in MB, 128 to 10,240 (CPU grows with it). Default: 1769, one full vCPU."""
    timeout: Duration = field(default_factory=lambda: Duration.minutes(15))
    """Each function's timeout, 1 second to 15 minutes. Default: 15 minutes, Lambda's limit."""
    ephemeral_storage_mib: int = 4096
    """Each function's /tmp in MiB, 512 to 10,240. Default: 4096."""
    write_mode: WriteMode = DEFAULT_WRITE_MODE
    """merge: update_item per row, keeping attributes the row does not have. replace: puts of whole items, for
    initial loads into an empty table (one conditional put per row with `ordering`, BatchWriteItem without).
    changed: merge's update for only the rows that would change their item, read back with BatchGetItem first (for
    whole exports uploaded again where few rows changed). Default: merge."""
    consistent_reads: bool = False
    """With write_mode changed: read the items back with strongly consistent reads (twice the read units) instead of
    eventually consistent ones. Default: false."""
    write_concurrency: int = DEFAULT_CONCURRENCY
    """Writer threads per file (per partition on the state machine), 1 to 64. Default: 16."""
    trigger_reserved_concurrency: int | None = DEFAULT_TRIGGER_RESERVED_CONCURRENCY
    """The most invocations of the trigger function at once (its reserved concurrency), at least 1; a burst of
    uploads waits in Lambda's queue, for up to 6 hours. None reserves nothing (the account's unreserved concurrency,
    unbounded). Default: 2."""

    # -- large files ---------------------------------------------------------------------------------------------
    # Sizing rule, per table: (trigger_reserved_concurrency + worker_reserved_concurrency) invocations at ~1,000
    # rows/s each (merge; write_concurrency threads each) <= the table's write capacity.
    large_file_bytes: int = DEFAULT_LARGE_FILE_BYTES
    """Objects larger than this go through the state machine, 1 byte to 5 TiB. Default: 8 MiB."""
    partition_bytes: int = DEFAULT_PARTITION_BYTES
    """The target size of one partition, 1 KiB to 1 GiB. Default: 8 MiB."""
    max_workers: int = DEFAULT_MAX_WORKERS
    """Partitions of one file written at once (the Distributed Map's concurrency), 1 to 10,000. Default: 4."""
    worker_reserved_concurrency: int | Literal["max_workers"] | None = SAME_AS_MAX_WORKERS
    """Partitions written at once across every execution (the worker function's reserved concurrency), at least
    max_workers; the other executions' workers wait for a free one (see large_file_flow.THROTTLE_RETRY_*). None
    reserves nothing (each execution runs up to max_workers, however many run at once). Default: max_workers."""

    def __post_init__(self) -> None:
        self._check_schema()
        self._check_format()
        self._check_names()
        self._check_delete_column()
        if self.alarm_email is not None and ("@" not in self.alarm_email or any(c.isspace() for c in self.alarm_email)):
            raise ValueError(f"alarm_email must be an e-mail address, got {self.alarm_email!r}")
        _check_range("memory_size_mb", self.memory_size_mb, 128, 10240)
        if not 1 <= self.timeout.to_seconds() <= 900:
            raise ValueError(f"timeout must be between 1 second and 15 minutes (Lambda's limit), got {self.timeout}")
        _check_range("ephemeral_storage_mib", self.ephemeral_storage_mib, 512, 10240)
        _check_range("noncurrent_version_expiration_days", self.noncurrent_version_expiration_days, 1, 36500)
        _check_range("rejects_expiration_days", self.rejects_expiration_days, 1, 36500)
        _check_choice("encryption", self.encryption, ENCRYPTIONS)
        _check_range(
            "logged_rejections",
            self.logged_rejections,
            0,
            MAX_LOGGED_REJECTIONS,
            why="a file's log stays small whatever its rows",
        )
        _check_choice("write_mode", self.write_mode, WRITE_MODES)
        if self.consistent_reads and self.write_mode != "changed":
            raise ValueError(
                f"consistent_reads applies to write_mode changed only (write_mode is {self.write_mode}): set "
                "write_mode=changed, or leave consistent_reads out"
            )
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
        self._check_reservations()

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
            _ = self._keys_and_types  # Schema refuses a column type for a key column (its type is the key's)
        except SchemaError as exc:
            raise ValueError(f"column_types: {exc}") from exc

    def _check_names(self) -> None:
        prefix = self.upload_prefix
        if not UPLOAD_PREFIX_PATTERN.fullmatch(prefix) or prefix.startswith("/"):
            raise ValueError(
                f"upload_prefix must be made of letters, digits and ! - _ . ' ( ) / and not start with /, got "
                f"{prefix!r}: S3 would want other characters URL-encoded in the notification's filter, IAM reads * "
                "as a wildcard, and S3 keys do not start with / (`customers/` matches customers/2024.csv)"
            )
        if len(prefix) > MAX_UPLOAD_PREFIX_CHARS:
            raise ValueError(
                f"upload_prefix must be at most {MAX_UPLOAD_PREFIX_CHARS:,} characters (S3 keys are at most 1,024 "
                f"bytes), got {len(prefix):,}"
            )
        if not SERVICE_NAME_PATTERN.fullmatch(self.service_name):
            raise ValueError(
                "service_name must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit "
                f"(it is a CloudWatch dimension value), got {self.service_name!r}"
            )

    def _check_delete_column(self) -> None:
        """A name, and not a key column, a typed column or (with ordering) the order attribute."""
        marker = self.delete_column
        if marker is None:
            return
        if not marker or marker != marker.strip():
            raise ValueError(f"delete_column must be a non-empty name without surrounding spaces, got {marker!r}")
        try:
            _ = self.schema
            check_delete_column(marker, self.order_attribute if self.ordering else None)
        except SchemaError as exc:
            raise ValueError(f"delete_column: {exc}") from exc

    def _check_reservations(self) -> None:
        for name, value in (
            ("trigger_reserved_concurrency", self.trigger_reserved_concurrency),
            ("worker_reserved_concurrency", self.worker_reserved_concurrency),
        ):
            if value is None or value == SAME_AS_MAX_WORKERS:
                continue
            # 0 is a reservation Lambda accepts, and runs no invocation at all: never what a deployment means.
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"{name} must be at least 1 (0 would stop every invocation of the function), or none to reserve "
                    f"nothing, got {value!r}"
                )
        workers = self.worker_reservation
        if workers is not None and workers < self.max_workers:
            raise ValueError(
                f"worker_reserved_concurrency ({workers}) must be at least max_workers ({self.max_workers}): one "
                f"execution's Map would start more workers than may run. Lower max_workers to {workers}, or raise "
                "worker_reserved_concurrency"
            )

    def _check_format(self) -> None:
        if self.csv_delimiter not in DELIMITERS.values():
            raise ValueError(f"csv_delimiter must be one of , ; | or a tab (the character), got {self.csv_delimiter!r}")
        _check_choice("csv_encoding", self.csv_encoding, ENCODINGS)
        _check_range(
            "csv_max_cells",
            self.csv_max_cells,
            1,
            MAX_CELLS_CEILING,
            why="the most attributes an item could hold: 400 KB, at least a byte each",
        )
        try:
            attribute = order_attribute(self.order_attribute, origin="order_attribute")
        except SchemaError as exc:
            raise ValueError(str(exc)) from exc
        if attribute != self.order_attribute:
            raise ValueError(f"order_attribute must be a name without surrounding spaces, got {self.order_attribute!r}")
        if self.ordering and attribute in self._keys_and_types.key_names:
            raise ValueError(
                f"order_attribute must not be a key column ({attribute!r}): the stamp is an attribute of its own"
            )
        if self.ordering and attribute in self.column_types:
            raise ValueError(
                f"column_types names {attribute!r}, the order attribute: no file may have that column while ordering "
                "is on; rename the column or set order_attribute"
            )

    @property
    def schema(self) -> Schema:
        """The table's key schema, the columns' types and the delete-marker column, as the engine reads them."""
        return replace(self._keys_and_types, delete_column=self.delete_column)

    @property
    def _keys_and_types(self) -> Schema:
        sort_key = None if self.sort_key_column is None else KeyAttribute(self.sort_key_column, self.sort_key_type)
        return Schema(KeyAttribute(self.key_column, self.key_type), sort_key, dict(self.column_types))

    @property
    def csv_format(self) -> CsvFormat:
        return CsvFormat(delimiter=self.csv_delimiter, encoding=self.csv_encoding, max_cells=self.csv_max_cells)

    @property
    def engine(self) -> EngineConfig:
        """How the functions read and write files: the one configuration each function is told its parts of."""
        return EngineConfig(
            schema=self.schema,
            fmt=self.csv_format,
            write_mode=self.write_mode,
            consistent_reads=self.consistent_reads,
            write_concurrency=self.write_concurrency,
            large_file_bytes=self.large_file_bytes,
            partition_bytes=self.partition_bytes,
            order_attribute=self.order_attribute if self.ordering else None,
            logged_rejections=self.logged_rejections,
        )

    @property
    def worker_reservation(self) -> int | None:
        """The worker function's reserved concurrency (None: no reservation), `max_workers` by default."""
        reserved = self.worker_reserved_concurrency
        return self.max_workers if isinstance(reserved, str) else reserved

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
