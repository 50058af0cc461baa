"""The functions' configuration, the only place that reads their environment (Powertools reads its own).

One class per Lambda entry point, each reading only the variables the stack gives that function; a missing or
malformed value fails the invocation at once, naming the variable. On Lambda the environment is `os.environ`;
`function_environment` lends the calling thread another one (the demo's in-process Lambda runs several functions in
one process, from moto's threads, and must not rewrite `os.environ` under them).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from csv_ingest_engine import schema as schemas
from csv_ingest_engine.constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DELIMITER,
    DEFAULT_ENCODING,
    DEFAULT_KEY_COLUMN,
    DEFAULT_KEY_TYPE,
    DEFAULT_LARGE_FILE_BYTES,
    DEFAULT_PARTITION_BYTES,
    DEFAULT_WRITE_MODE,
    ENV_COLUMN_TYPES,
    ENV_CSV_DELIMITER,
    ENV_CSV_ENCODING,
    ENV_KEY_COLUMN,
    ENV_KEY_TYPE,
    ENV_LARGE_FILE_BYTES,
    ENV_PARTITION_BYTES,
    ENV_REJECTS_BUCKET,
    ENV_SORT_KEY_COLUMN,
    ENV_SORT_KEY_TYPE,
    ENV_STATE_MACHINE_ARN,
    ENV_TABLE_NAME,
    ENV_WORK_BUCKET,
    ENV_WRITE_CONCURRENCY,
    ENV_WRITE_MODE,
    WRITE_MODES,
    WriteMode,
)
from csv_ingest_engine.schema import CsvFormat, KeyAttribute, Schema, SchemaError


@dataclass(frozen=True, slots=True)
class Settings:
    """The S3-triggered function's: the table it writes small files to, and the state machine it hands large ones
    (over `large_file_bytes`) to; without a state machine every file is ingested in place."""

    table_name: str
    rejects_bucket: str | None
    write_mode: WriteMode
    write_concurrency: int
    state_machine_arn: str | None
    large_file_bytes: int
    schema: Schema = field(default_factory=Schema.keyed_on)
    fmt: CsvFormat = field(default_factory=CsvFormat)

    @property
    def key_column(self) -> str:
        """The partition key's column (the schema's)."""
        return self.schema.partition_key.name

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            table_name=_required(ENV_TABLE_NAME, "the DynamoDB table's name"),
            schema=_schema(),
            fmt=_format(),
            rejects_bucket=_optional(ENV_REJECTS_BUCKET),
            write_mode=_write_mode(),
            write_concurrency=_whole_number(ENV_WRITE_CONCURRENCY, DEFAULT_CONCURRENCY, minimum=1),
            state_machine_arn=_optional(ENV_STATE_MACHINE_ARN),
            # 0 sends every file to the state machine (the demo's --large-file-bytes 0).
            large_file_bytes=_whole_number(ENV_LARGE_FILE_BYTES, DEFAULT_LARGE_FILE_BYTES, minimum=0),
        )


@dataclass(frozen=True, slots=True)
class PartitionSettings:
    """The partition task's: where the partitions go, the key they are cut by, and their target size."""

    work_bucket: str
    partition_bytes: int
    schema: Schema = field(default_factory=Schema.keyed_on)
    fmt: CsvFormat = field(default_factory=CsvFormat)

    @property
    def key_column(self) -> str:
        """The partition key's column (the schema's)."""
        return self.schema.partition_key.name

    @classmethod
    def from_env(cls) -> PartitionSettings:
        return cls(
            work_bucket=_required(ENV_WORK_BUCKET, "the work bucket's name"),
            schema=_schema(),
            fmt=_format(),
            partition_bytes=_whole_number(ENV_PARTITION_BYTES, DEFAULT_PARTITION_BYTES, minimum=1),
        )


@dataclass(frozen=True, slots=True)
class IngestPartitionSettings:
    """A partition worker's: where its partition is, and the table and writer settings of the one-file path."""

    work_bucket: str
    table_name: str
    write_mode: WriteMode
    write_concurrency: int
    schema: Schema = field(default_factory=Schema.keyed_on)

    @property
    def key_column(self) -> str:
        """The partition key's column (the schema's)."""
        return self.schema.partition_key.name

    @classmethod
    def from_env(cls) -> IngestPartitionSettings:
        return cls(
            work_bucket=_required(ENV_WORK_BUCKET, "the work bucket's name"),
            table_name=_required(ENV_TABLE_NAME, "the DynamoDB table's name"),
            schema=_schema(),
            write_mode=_write_mode(),
            write_concurrency=_whole_number(ENV_WRITE_CONCURRENCY, DEFAULT_CONCURRENCY, minimum=1),
        )


@dataclass(frozen=True, slots=True)
class FinishSettings:
    """The finish task's: the work objects it reads and deletes, and where the merged rejects report goes (none
    without a rejects bucket, as on the one-file path)."""

    work_bucket: str
    rejects_bucket: str | None
    fmt: CsvFormat = field(default_factory=CsvFormat)

    @classmethod
    def from_env(cls) -> FinishSettings:
        return cls(
            work_bucket=_required(ENV_WORK_BUCKET, "the work bucket's name"),
            rejects_bucket=_optional(ENV_REJECTS_BUCKET),
            fmt=_format(),
        )


def schema_environment(schema: Schema, csv_format: CsvFormat) -> dict[str, str]:
    """The variables that tell a function reading files or rows the table's key, the columns' types and the files'
    format (`Settings` and the others read them back).

    A setting left at its default is left out (and the function assumes the same default), so a deployment that sets
    none of them keeps the environment it had before they existed.
    """
    partition_key, sort_key = schema.partition_key, schema.sort_key
    variables = {ENV_KEY_COLUMN: partition_key.name}
    if partition_key.type != DEFAULT_KEY_TYPE:
        variables[ENV_KEY_TYPE] = partition_key.type
    if sort_key is not None:
        variables |= {ENV_SORT_KEY_COLUMN: sort_key.name, ENV_SORT_KEY_TYPE: sort_key.type}
    if schema.column_types:
        variables[ENV_COLUMN_TYPES] = json.dumps(dict(schema.column_types), sort_keys=True, separators=(",", ":"))
    if csv_format.delimiter != DEFAULT_DELIMITER:
        variables[ENV_CSV_DELIMITER] = csv_format.delimiter
    if csv_format.encoding != DEFAULT_ENCODING:
        variables[ENV_CSV_ENCODING] = csv_format.encoding
    return variables


# None: the process's own environment.
_lent: ContextVar[Mapping[str, str] | None] = ContextVar("csv_ingest_function_environment", default=None)


def environment() -> Mapping[str, str]:
    """The variables the settings are read from: those `function_environment` lent this thread, or `os.environ`."""
    lent = _lent.get()
    return os.environ if lent is None else lent


@contextlib.contextmanager
def function_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Within the block, on this thread only, the settings read `variables` (and nothing of `os.environ`)."""
    token = _lent.set(dict(variables))
    try:
        yield
    finally:
        _lent.reset(token)


def _optional(name: str) -> str | None:
    return environment().get(name) or None


def _required(name: str, what: str) -> str:
    value = environment().get(name, "")
    if not value:
        raise RuntimeError(f"{name} is not set: the function needs {what}")
    return value


def _key_column() -> str:
    return environment().get(ENV_KEY_COLUMN) or DEFAULT_KEY_COLUMN


def _schema() -> Schema:
    """The table's key and the column types the stack configured (see `schema`); the default without them."""
    variables = environment()
    try:
        sort_column = variables.get(ENV_SORT_KEY_COLUMN)
        return Schema(
            KeyAttribute(_key_column(), schemas.key_type(variables.get(ENV_KEY_TYPE) or "S", origin=ENV_KEY_TYPE)),
            KeyAttribute(
                sort_column, schemas.key_type(variables.get(ENV_SORT_KEY_TYPE) or "S", origin=ENV_SORT_KEY_TYPE)
            )
            if sort_column
            else None,
            schemas.column_types(variables.get(ENV_COLUMN_TYPES, ""), origin=ENV_COLUMN_TYPES),
        )
    except SchemaError as exc:
        raise RuntimeError(str(exc)) from None


def _format() -> CsvFormat:
    variables = environment()
    try:
        return CsvFormat(
            delimiter=schemas.delimiter(variables.get(ENV_CSV_DELIMITER), origin=ENV_CSV_DELIMITER),
            encoding=schemas.encoding(variables.get(ENV_CSV_ENCODING), origin=ENV_CSV_ENCODING),
        )
    except SchemaError as exc:
        raise RuntimeError(str(exc)) from None


def _write_mode() -> WriteMode:
    mode = environment().get(ENV_WRITE_MODE) or DEFAULT_WRITE_MODE
    for known in WRITE_MODES:
        if mode == known:
            return known
    raise RuntimeError(f"{ENV_WRITE_MODE} must be one of {', '.join(WRITE_MODES)}, not {mode!r}")


def _whole_number(name: str, default: int, *, minimum: int) -> int:
    value = environment().get(name) or str(default)
    if not value.isdecimal() or int(value) < minimum:
        raise RuntimeError(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    return int(value)
