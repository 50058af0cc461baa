"""What the rows are written as: the table's key schema and the columns' types, and the file format's settings;
parsed and checked here once for the stack (context), the functions (environment) and the command line (options).

Pure Python with no AWS in it: the stack imports it at synth time.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from csv_ingest_engine.constants import (
    COLUMN_TYPES,
    DEFAULT_DELIMITER,
    DEFAULT_ENCODING,
    DEFAULT_KEY_COLUMN,
    DEFAULT_KEY_TYPE,
    DEFAULT_MAX_CELLS,
    DEFAULT_ORDER_ATTRIBUTE,
    DELIMITERS,
    ENCODINGS,
    KEY_TYPES,
    MAX_CELLS_CEILING,
    ColumnType,
    KeyType,
)

TYPE_NAMES: dict[str, str] = {
    "S": "string",
    "N": "number",
    "BOOL": "boolean",
    "JSON": "JSON value",
    "B": "binary",
}


# The delimiters read (constants.DELIMITERS), as messages name them ("separated by commas", "cells that contain
# semicolons").
DELIMITER_NAMES: dict[str, str] = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipe characters (|)"}


class SchemaError(ValueError):
    """A setting that cannot be used (a column type, a key type, a delimiter, an encoding); the message names it."""


@dataclass(frozen=True, slots=True)
class KeyAttribute:
    """One attribute of the table's primary key: the CSV column it comes from and its DynamoDB type."""

    name: str
    type: KeyType = DEFAULT_KEY_TYPE

    def describe(self, role: str) -> str:
        """`a string (S) partition key named 'customer_id'`."""
        return f"a {TYPE_NAMES[self.type]} ({self.type}) {role} named '{self.name}'"


@dataclass(frozen=True, slots=True)
class Schema:
    """The table's key (a partition key, and a sort key or none) and the types of other columns (default S).

    The default, `Schema.keyed_on(column)`, is the project's lossless one: a string partition key, no sort key,
    every other column a string as written.
    """

    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    column_types: Mapping[str, ColumnType] = field(default_factory=dict)
    # The delete-marker column (None: no row deletes): a row whose cell there is `true` deletes its item, and the
    # column is never written as an attribute (see `values.delete_marker`).
    delete_column: str | None = None

    def __post_init__(self) -> None:
        if self.sort_key is not None and self.sort_key.name == self.partition_key.name:
            raise SchemaError(
                f"the sort key's column '{self.sort_key.name}' is the partition key's: name another column"
            )
        for name in self.key_names:
            if name in self.column_types:
                raise SchemaError(
                    f"column '{name}' is a key column, whose type is the key's ({self.key(name).type}); remove it "
                    "from the column types (a key's type is set as the key's)"
                )
        marker = self.delete_column
        if marker is not None and marker in self.key_names:
            raise SchemaError(
                f"the delete-marker column '{marker}' is a key column: a row's key cells say which item it deletes, "
                "so the marker needs a column of its own; name another column"
            )
        if marker is not None and marker in self.column_types:
            raise SchemaError(
                f"column '{marker}' is the delete-marker column, read as true, false or empty: remove it from the "
                "column types (it is never written, so it has no type)"
            )

    @classmethod
    def keyed_on(cls, column: str = DEFAULT_KEY_COLUMN, column_types: Mapping[str, ColumnType] | None = None) -> Schema:
        """A table keyed on a string partition key named `column` and nothing else."""
        return cls(KeyAttribute(column), None, dict(column_types or {}))

    @property
    def keys(self) -> tuple[KeyAttribute, ...]:
        """The key attributes: the partition key, then the sort key if there is one."""
        return (self.partition_key,) if self.sort_key is None else (self.partition_key, self.sort_key)

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    @property
    def is_default_key(self) -> bool:
        """One string partition key: the key's text is the item's identity as it is (the fast path)."""
        return self.sort_key is None and self.partition_key.type == "S"

    def key(self, name: str) -> KeyAttribute:
        return next(key for key in self.keys if key.name == name)

    def describe(self) -> str:
        """`a string (S) partition key named 'customer_id', and no sort key`, for messages."""
        sort = self.sort_key.describe("sort key") if self.sort_key else "no sort key"
        return f"{self.partition_key.describe('partition key')}, and {sort}"


@dataclass(frozen=True, slots=True)
class CsvFormat:
    """How a file's text is written: its delimiter and encoding (see `delimiter` and `encoding` for the names), and
    the most cells a record may have (see `max_cells`)."""

    delimiter: str = DEFAULT_DELIMITER
    encoding: str = DEFAULT_ENCODING
    max_cells: int = DEFAULT_MAX_CELLS


def gzipped(name: str) -> bool:
    """Whether a file or object of this name is gzip-compressed CSV (`.csv.gz`), to be decompressed as it is read."""
    return name.lower().endswith(".gz")


def column_types(value: object, *, origin: str) -> dict[str, ColumnType]:
    """A column -> type mapping from JSON text or a mapping (context, environment, --types-file), checked.

    Raises `SchemaError` naming the first bad entry and `origin` (where the mapping came from).
    """
    if isinstance(value, str | bytes):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise SchemaError(
                f'{origin} is not valid JSON ({exc}); give a JSON object, e.g. {{"age": "N", "active": "BOOL"}}'
            ) from exc
    if not isinstance(value, Mapping):
        raise SchemaError(
            f'{origin} must be a JSON object of column -> type, e.g. {{"age": "N"}}, not {type(value).__name__}'
        )
    types: dict[str, ColumnType] = {}
    for name, kind in value.items():
        column = column_name(name, origin=origin)
        if column in types:
            raise SchemaError(f"{origin} names column {column!r} twice (names are trimmed and compared in NFC)")
        types[column] = column_type(kind, origin=f"{origin}, column {name!r}")
    return types


def type_option(text: str) -> tuple[str, ColumnType]:
    """`COLUMN=TYPE` (the command line's --type) as (column, type); raises `SchemaError` when it is not that."""
    name, equals, kind = text.rpartition("=")
    if not equals or not name:
        raise SchemaError(f"{text!r} is not COLUMN=TYPE (e.g. age=N); types: {', '.join(COLUMN_TYPES)}")
    return column_name(name, origin=repr(text)), column_type(kind, origin=repr(text))


def column_name(name: object, *, origin: str) -> str:
    """A column name as the header's are compared: trimmed, in NFC; it must not be empty."""
    if not isinstance(name, str) or not name.strip():
        raise SchemaError(f"{origin}: {name!r} is not a column name")
    return unicodedata.normalize("NFC", name.strip())


def column_type(kind: object, *, origin: str) -> ColumnType:
    for known in COLUMN_TYPES:
        if isinstance(kind, str) and kind.strip().upper() == known:
            return known
    raise SchemaError(f"{origin}: {kind!r} is not a column type; use one of {', '.join(COLUMN_TYPES)}")


def key_type(kind: object, *, origin: str) -> KeyType:
    for known in KEY_TYPES:
        if isinstance(kind, str) and kind.strip().upper() == known:
            return known
    raise SchemaError(f"{origin}: {kind!r} is not a key type; DynamoDB keys are one of {', '.join(KEY_TYPES)}")


def delimiter(text: object, *, origin: str) -> str:
    """The delimiter a setting names (`,`, `;`, `|`, `tab`), as the character."""
    if not text:
        return DEFAULT_DELIMITER
    if isinstance(text, str) and text.lower() in DELIMITERS:
        return DELIMITERS[text.lower()]
    raise SchemaError(f"{origin}: {text!r} is not a delimiter this pipeline reads; use one of , ; | tab")


# An order attribute's name: DynamoDB allows longer attribute names, but a name this long is surely a mistake.
MAX_ORDER_ATTRIBUTE_BYTES = 255


def order_attribute(text: object, *, origin: str) -> str:
    """The attribute a setting names for the upload order stamp (the default when not set), trimmed, in NFC."""
    if text is None or text == "":
        return DEFAULT_ORDER_ATTRIBUTE
    name = column_name(text, origin=origin)
    if len(name.encode()) > MAX_ORDER_ATTRIBUTE_BYTES:
        raise SchemaError(f"{origin}: the order attribute's name may be at most {MAX_ORDER_ATTRIBUTE_BYTES} bytes")
    return name


def delete_column(text: object, *, origin: str) -> str | None:
    """The delete-marker column a setting names (None when not set: no row deletes), trimmed, in NFC."""
    if text is None or text == "":
        return None
    return column_name(text, origin=origin)


def check_delete_column(delete_column: str | None, order_attribute: str | None) -> None:
    """The delete-marker column is not the attribute the upload order stamp is kept in (None: ordering off, which
    writes no stamp); raises `SchemaError` saying so."""
    if delete_column is not None and delete_column == order_attribute:
        raise SchemaError(
            f"the delete-marker column '{order_attribute}' is the order attribute, where the pipeline keeps each "
            "item's upload order (no file may have that column); name another column, or give the order attribute "
            "another name"
        )


def encoding(text: object, *, origin: str) -> str:
    """The encoding a setting names, by its canonical name here (`utf-8`, `cp1252`, `latin-1`, `utf-16`)."""
    if not text:
        return DEFAULT_ENCODING
    if isinstance(text, str):
        wanted = text.strip().lower().replace("_", "-")
        aliases = {"utf8": "utf-8", "windows-1252": "cp1252", "latin1": "latin-1", "iso-8859-1": "latin-1"}
        wanted = aliases.get(wanted, wanted)
        if wanted in ENCODINGS:
            return wanted
    raise SchemaError(f"{origin}: {text!r} is not an encoding this pipeline reads; use one of {', '.join(ENCODINGS)}")


def max_cells(value: object, *, origin: str) -> int:
    """The most cells a record may have, as a setting gives it (the default when not set): a whole number from 1 to
    MAX_CELLS_CEILING, the most attributes an item could ever have."""
    if value is None or value == "":
        return DEFAULT_MAX_CELLS
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdecimal() or not 1 <= int(text) <= MAX_CELLS_CEILING:
        raise SchemaError(
            f"{origin}: {value!r} is not a number of cells from 1 to {MAX_CELLS_CEILING:,} (an item is at most "
            "400 KB, and each of its attributes takes at least a byte, so no row with more cells could be written)"
        )
    return int(text)
