"""The engine's configuration: one object (key schema, column types, format, write mode, concurrency, sizing) that
the stack turns into each function's environment (`to_env`) and every function reads back (`from_env`).

On Lambda the environment is `os.environ`; `function_environment` lends the calling thread another one (the demo's
in-process Lambda runs several functions in one process, from moto's threads, and must not rewrite `os.environ`
under them). This module is the only place that reads the functions' environment (Powertools reads its own).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

from csv_ingest_engine import schema as schemas
from csv_ingest_engine.constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DELIMITER,
    DEFAULT_ENCODING,
    DEFAULT_KEY_COLUMN,
    DEFAULT_KEY_TYPE,
    DEFAULT_LARGE_FILE_BYTES,
    DEFAULT_LOGGED_REJECTIONS,
    DEFAULT_MAX_CELLS,
    DEFAULT_ORDER_ATTRIBUTE,
    DEFAULT_PARTITION_BYTES,
    DEFAULT_WRITE_MODE,
    ENV_COLUMN_TYPES,
    ENV_CONSISTENT_READS,
    ENV_CSV_DELIMITER,
    ENV_CSV_ENCODING,
    ENV_CSV_MAX_CELLS,
    ENV_DELETE_COLUMN,
    ENV_KEY_COLUMN,
    ENV_KEY_TYPE,
    ENV_LARGE_FILE_BYTES,
    ENV_LOGGED_REJECTIONS,
    ENV_ORDER_ATTRIBUTE,
    ENV_ORDERING,
    ENV_PARTITION_BYTES,
    ENV_SORT_KEY_COLUMN,
    ENV_SORT_KEY_TYPE,
    ENV_WRITE_CONCURRENCY,
    ENV_WRITE_MODE,
    HANDLER_FINISH,
    HANDLER_INGEST_PARTITION,
    HANDLER_PARTITION,
    HANDLER_TRIGGER,
    MAX_LOGGED_REJECTIONS,
    WRITE_MODES,
    WriteMode,
)
from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.schema import CsvFormat, KeyAttribute, Schema, SchemaError

# The parts of the configuration a function may be told, each its own variables: every function reads rows
# (`reading`: the key schema, the column types, the format, and the order attribute, which no column may be named
# and which counts toward an item's size); those that write are told how (`writing`); the trigger
# is told which files are large (`routing`) and the partition task how large a partition is (`partitioning`); those
# that reject rows or log them, how many of a file's rejected rows to log (`logging`).
EnvPart = Literal["reading", "writing", "routing", "partitioning", "logging"]
ENV_PART_NAMES: tuple[EnvPart, ...] = ("reading", "writing", "routing", "partitioning", "logging")
# The parts each entry point is told, by its handler name: what the stack and the demo put in its environment.
ENV_PARTS: dict[str, tuple[EnvPart, ...]] = {
    HANDLER_TRIGGER: ("reading", "writing", "routing", "logging"),
    HANDLER_PARTITION: ("reading", "partitioning"),
    HANDLER_INGEST_PARTITION: ("reading", "writing", "logging"),
    HANDLER_FINISH: ("reading", "logging"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    """How every function (and `csv-ingest demo`) reads and writes files; each field defaults to the stack's."""

    # The table's key schema, the columns' types and the delete-marker column (`Schema.keyed_on()`: customer_id, a
    # string, no sort key, no delete-marker column).
    schema: Schema = field(default_factory=Schema.keyed_on)
    # The files' delimiter and encoding (comma-separated UTF-8), and the most cells a record may have.
    fmt: CsvFormat = field(default_factory=CsvFormat)
    # merge: one UpdateItem per row (an upsert); replace: puts of whole items (conditional, one by one, when
    # ordered; BatchWriteItem otherwise); changed: merge's update of only the rows that change their item.
    write_mode: WriteMode = DEFAULT_WRITE_MODE
    # `changed` reads items back with strongly consistent reads (twice the read units) instead of eventually
    # consistent ones.
    consistent_reads: bool = False
    # Writer threads per file (per partition on the state machine path).
    write_concurrency: int = DEFAULT_CONCURRENCY
    # Files whose CSV text is larger go through the state machine (0: every file).
    large_file_bytes: int = DEFAULT_LARGE_FILE_BYTES
    # The target size of one of the state machine's partitions.
    partition_bytes: int = DEFAULT_PARTITION_BYTES
    # The attribute that carries each item's upload order, so that an older upload never overwrites a newer one's
    # rows (None: ordering off, unconditional writes; see `ordering`).
    order_attribute: str | None = DEFAULT_ORDER_ATTRIBUTE
    # How many of a file's rejected rows its log names (line, key, reason); the rest are counted (see `rejection_log`).
    logged_rejections: int = DEFAULT_LOGGED_REJECTIONS

    @property
    def key_column(self) -> str:
        """The partition key's column (the schema's)."""
        return self.schema.partition_key.name

    def ordering(self, stamp: str) -> Ordering | None:
        """How the writes of an upload stamped `stamp` are ordered (None with ordering off)."""
        return None if self.order_attribute is None else Ordering(self.order_attribute, stamp)

    def for_function(self, handler: str) -> dict[str, str]:
        """The variables of the function running `handler.<handler>`: the parts of ENV_PARTS[handler]."""
        return self.to_env(*ENV_PARTS[handler])

    def to_env(self, *parts: EnvPart) -> dict[str, str]:
        """The variables that tell a function these parts of the configuration (all of them without `parts`)."""
        variables: dict[str, str] = {}
        for part in parts or ENV_PART_NAMES:
            if part == "reading":
                variables |= schema_environment(self.schema, self.fmt) | ordering_environment(self.order_attribute)
            elif part == "writing":
                variables |= {ENV_WRITE_MODE: self.write_mode, ENV_WRITE_CONCURRENCY: str(self.write_concurrency)}
                if self.consistent_reads:  # left out at its default, as the schema's settings are
                    variables[ENV_CONSISTENT_READS] = "true"
            elif part == "routing":
                variables[ENV_LARGE_FILE_BYTES] = str(self.large_file_bytes)
            elif part == "logging":
                # Left out at its default, as the schema's settings are: a deployment that sets none keeps its
                # environment.
                if self.logged_rejections != DEFAULT_LOGGED_REJECTIONS:
                    variables[ENV_LOGGED_REJECTIONS] = str(self.logged_rejections)
            else:
                variables[ENV_PARTITION_BYTES] = str(self.partition_bytes)
        return variables

    @classmethod
    def from_env(cls) -> EngineConfig:
        """The configuration in the environment; a variable left out keeps its default, a malformed one fails the
        invocation at once, naming it."""
        config = cls(
            schema=_schema(),
            fmt=_format(),
            write_mode=_write_mode(),
            consistent_reads=_flag(ENV_CONSISTENT_READS),
            write_concurrency=_whole_number(ENV_WRITE_CONCURRENCY, DEFAULT_CONCURRENCY, minimum=1),
            # 0 sends every file to the state machine (the demo's --large-file-bytes 0).
            large_file_bytes=_whole_number(ENV_LARGE_FILE_BYTES, DEFAULT_LARGE_FILE_BYTES, minimum=0),
            partition_bytes=_whole_number(ENV_PARTITION_BYTES, DEFAULT_PARTITION_BYTES, minimum=1),
            order_attribute=_order_attribute(),
            logged_rejections=_whole_number(
                ENV_LOGGED_REJECTIONS, DEFAULT_LOGGED_REJECTIONS, minimum=0, maximum=MAX_LOGGED_REJECTIONS
            ),
        )
        try:
            schemas.check_delete_column(config.schema.delete_column, config.order_attribute)
        except SchemaError as exc:
            raise RuntimeError(f"{ENV_DELETE_COLUMN}: {exc}") from None
        return config


def schema_environment(schema: Schema, csv_format: CsvFormat) -> dict[str, str]:
    """The variables that tell a function reading files or rows the table's key, the columns' types, the
    delete-marker column and the files' format (`EngineConfig.from_env` reads them back).

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
    if schema.delete_column is not None:
        variables[ENV_DELETE_COLUMN] = schema.delete_column
    if csv_format.delimiter != DEFAULT_DELIMITER:
        variables[ENV_CSV_DELIMITER] = csv_format.delimiter
    if csv_format.encoding != DEFAULT_ENCODING:
        variables[ENV_CSV_ENCODING] = csv_format.encoding
    if csv_format.max_cells != DEFAULT_MAX_CELLS:
        variables[ENV_CSV_MAX_CELLS] = str(csv_format.max_cells)
    return variables


def ordering_environment(order_attribute: str | None) -> dict[str, str]:
    """The variables that tell a function the order attribute (left out at its default, like the schema's)."""
    if order_attribute is None:
        return {ENV_ORDERING: "off"}
    return {} if order_attribute == DEFAULT_ORDER_ATTRIBUTE else {ENV_ORDER_ATTRIBUTE: order_attribute}


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


def optional_variable(name: str) -> str | None:
    return environment().get(name) or None


def required_variable(name: str, what: str) -> str:
    value = environment().get(name, "")
    if not value:
        raise RuntimeError(f"{name} is not set: the function needs {what}")
    return value


def _schema() -> Schema:
    """The table's key, the column types and the delete-marker column the stack configured (see `schema`); the
    default without them."""
    variables = environment()
    try:
        sort_column = variables.get(ENV_SORT_KEY_COLUMN)
        return Schema(
            KeyAttribute(
                variables.get(ENV_KEY_COLUMN) or DEFAULT_KEY_COLUMN,
                schemas.key_type(variables.get(ENV_KEY_TYPE) or "S", origin=ENV_KEY_TYPE),
            ),
            KeyAttribute(
                sort_column, schemas.key_type(variables.get(ENV_SORT_KEY_TYPE) or "S", origin=ENV_SORT_KEY_TYPE)
            )
            if sort_column
            else None,
            schemas.column_types(variables.get(ENV_COLUMN_TYPES, ""), origin=ENV_COLUMN_TYPES),
            schemas.delete_column(variables.get(ENV_DELETE_COLUMN), origin=ENV_DELETE_COLUMN),
        )
    except SchemaError as exc:
        raise RuntimeError(str(exc)) from None


def _format() -> CsvFormat:
    variables = environment()
    try:
        return CsvFormat(
            delimiter=schemas.delimiter(variables.get(ENV_CSV_DELIMITER), origin=ENV_CSV_DELIMITER),
            encoding=schemas.encoding(variables.get(ENV_CSV_ENCODING), origin=ENV_CSV_ENCODING),
            max_cells=schemas.max_cells(variables.get(ENV_CSV_MAX_CELLS), origin=ENV_CSV_MAX_CELLS),
        )
    except SchemaError as exc:
        raise RuntimeError(str(exc)) from None


def _order_attribute() -> str | None:
    variables = environment()
    ordering = variables.get(ENV_ORDERING) or "on"
    if ordering not in ("on", "off"):
        raise RuntimeError(f"{ENV_ORDERING} must be on or off, not {ordering!r}")
    if ordering == "off":
        return None
    try:
        return schemas.order_attribute(variables.get(ENV_ORDER_ATTRIBUTE), origin=ENV_ORDER_ATTRIBUTE)
    except SchemaError as exc:
        raise RuntimeError(str(exc)) from None


def _write_mode() -> WriteMode:
    mode = environment().get(ENV_WRITE_MODE) or DEFAULT_WRITE_MODE
    for known in WRITE_MODES:
        if mode == known:
            return known
    raise RuntimeError(f"{ENV_WRITE_MODE} must be one of {', '.join(WRITE_MODES)}, not {mode!r}")


def _flag(name: str) -> bool:
    value = environment().get(name) or "false"
    if value not in ("true", "false"):
        raise RuntimeError(f"{name} must be true or false, not {value!r}")
    return value == "true"


def _whole_number(name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    value = environment().get(name) or str(default)
    if not value.isdecimal() or int(value) < minimum or (maximum is not None and int(value) > maximum):
        at_most = f" and at most {maximum:,}" if maximum is not None else ""
        raise RuntimeError(f"{name} must be a whole number of at least {minimum}{at_most}, not {value!r}")
    return int(value)
