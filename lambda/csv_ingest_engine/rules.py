"""The file rules, with no AWS in them: header checks, and what each record becomes (a row to write, or a rejection).

A `Row` is data (its line, its item's key and attributes as DynamoDB values), not a request: the writer builds
`UpdateItem` / `PutItem` / `BatchWriteItem` calls from it, with its own table name and mode. What each cell becomes
follows the `Schema` (the table's key, the columns' types; by default a string key and strings as written).
"""

from __future__ import annotations

import base64
import shlex
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from csv_ingest_engine.constants import DEFAULT_DELIMITER, DEFAULT_KEY_COLUMN, DEFAULT_MAX_CELLS, ColumnType
from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.first_row import data_row_shape
from csv_ingest_engine.ordering import STAMP_BYTES
from csv_ingest_engine.reading import Record, too_many_cells
from csv_ingest_engine.schema import DELIMITER_NAMES, KeyAttribute, Schema
from csv_ingest_engine.values import (
    AttributeValue,
    ValueProblem,
    canonical_number,
    delete_marker,
    size_of,
    to_attribute,
    to_key,
)

# DynamoDB's documented limits: an item of at most 400 KB (attribute names and values, UTF-8 bytes); attribute
# names under 64 KB, and key attribute names of at most 255 bytes; a partition key value of at most 2,048 bytes
# (a sort key's is 1,024, for when the table gets one).
MAX_ITEM_BYTES = 400 * 1024
MAX_ATTRIBUTE_NAME_BYTES = 64 * 1024 - 1
MAX_KEY_NAME_BYTES = 255
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
# The warning for types given to columns a file does not have (`Header.untyped`).
UNTYPED_COLUMNS = "column types name columns this file does not have (a typo?); they were ignored"
# Between the parts of a composite key where one text stands for it (rejections, logs, an item's identity).
KEY_PART_SEPARATOR = " / "
# The columns a rejects report adds (see `reports`); never written, so a fixed report can be uploaded as it is.
ANNOTATION_COLUMNS = ("rejected_line", "rejected_reason")
BOM = "\ufeff"
# Unicode categories shown escaped in messages: control and format characters (zero-width spaces, byte-order
# marks), spaces other than the plain one, separators, private-use and unassigned code points.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"})
# A message names at most this many columns (or positions), each name cut to SHOWN_NAME_CHARS characters: a
# header of 200 long names (or a first row of long cells) makes a message of a few hundred bytes, not megabytes.
SHOWN_COLUMNS = 5
SHOWN_NAME_CHARS = 40


@dataclass(frozen=True, slots=True)
class Header:
    """A validated header: trimmed column names, where the key columns are, and what each column becomes."""

    # The named columns; nameless columns after the last named one are not among them (see `width`).
    columns: tuple[str, ...]
    key_column: str
    key_index: int
    # How many cells the header row has, nameless trailing ones included: a value in one of those rejects its row.
    width: int
    # Indexes of the columns that become attributes (not the keys, not report annotations), with their names'
    # UTF-8 sizes for the item-size rule and their types (None: a string as written); worked out once per file.
    value_indexes: tuple[int, ...] = field(repr=False)
    name_sizes: tuple[int, ...] = field(repr=False)
    schema: Schema = field(default_factory=Schema.keyed_on, repr=False)
    # The key attributes with their columns' indexes: the partition key, then the sort key.
    key_indexes: tuple[tuple[KeyAttribute, int], ...] = field(default=(), repr=False)
    value_types: tuple[ColumnType | None, ...] = field(default=(), repr=False)
    # Columns given a type that this file does not have (one configuration serves many files: a warning, no error).
    untyped: tuple[str, ...] = ()
    # Whether anything but a single string key and string attributes is written (the fast path when not).
    typed: bool = False
    # The attribute the writes stamp with the upload's order (None: unstamped), and what the stamp adds to every
    # item besides the row, counted toward the 400 KB.
    order_attribute: str | None = None
    reserved_bytes: int = 0
    # The most cells a row may have (`CsvFormat.max_cells`): a wider one is rejected.
    max_cells: int = DEFAULT_MAX_CELLS
    # Where the schema's delete-marker column is (None: no such setting, or this file lacks the column, and no row
    # deletes); it is never among `value_indexes`.
    delete_index: int | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """A record the rules accept: where it is in the file, its item's key, the attributes to set, and its cells as
    written.

    `key` is the item's identity as text: the key cell trimmed and in Unicode NFC (with a sort key, both parts
    joined; a number key in one spelling per value), so rows of one item have one `key`. `item_key` and
    `attributes` are DynamoDB values; `attributes` maps each non-empty, non-key cell's column to its value (a
    string as written unless the column has a type); empty cells are not in it (they neither write an empty value
    nor remove an existing attribute).
    """

    line: int
    key: str
    item_key: dict[str, AttributeValue]
    attributes: dict[str, AttributeValue]
    cells: list[str] = field(repr=False)
    # False: one string key and string attributes only (`Header.typed`), which the writer measures the quick way.
    typed: bool = field(default=False, repr=False)
    # A class attribute, not a field: every row is built with the same arguments as before deletes existed.
    deletes: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class DeletingRow(Row):
    """A record whose delete marker is `true`: it deletes its item. `attributes` is empty; its cells but the key's
    are not read."""

    deletes: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that was not written, why, and its cells as they were in the file.

    `failed` marks a row the table never refused but could not take in time (throttling, retries exhausted):
    nothing is wrong with it, and loading it again later will work.
    """

    line: int
    key: str | None
    reason: str
    cells: list[str]
    failed: bool = False
    # `reason` without the cells it quotes (None: it quotes none), for the function's log, where no cell of a row
    # but its key may go: "column 'age' (N): the value is not a number" for "column 'age' (N): '3O' is not a number".
    reason_without_values: str | None = None

    @property
    def loggable_reason(self) -> str:
        """The reason in words that quote no cell of the row (its key aside)."""
        return self.reason if self.reason_without_values is None else self.reason_without_values


def parse_header(
    cells: list[str] | None,
    *,
    key_column: str = DEFAULT_KEY_COLUMN,
    source: str,
    schema: Schema | None = None,
    delimiter: str = DEFAULT_DELIMITER,
    order_attribute: str | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> Header:
    """Validate a header record; raise `IngestError` naming every problem a user must fix.

    `schema` gives the key columns and the columns' types; without one, the file is read for a table keyed on a
    string `key_column` with every other column a string. Names are trimmed of whitespace and byte-order marks and
    put in Unicode NFC. Nameless columns after the last named one (Excel writes them for formatted but empty
    columns) are dropped. `delimiter` is the one the cells were split by, for the hint when the header seems to use
    another. `order_attribute` is the attribute the writes stamp with the upload's order (None: no stamp): no column
    may have its name, and the stamp counts toward each item's size. `max_cells` is the most cells a record may have
    (`CsvFormat.max_cells`): a header with more fails the file, a row with more is rejected. The schema's delete-marker
    column, if the file has it, is read by `to_row` and never written; a file without it is read as if no column
    were set (no row deletes).
    """
    schema = schema or Schema.keyed_on(key_column)
    key_column = schema.partition_key.name
    if not cells:
        raise IngestError(source, f"the file is empty: expected a header row with a '{key_column}' column")
    if len(cells) > max_cells:
        raise IngestError(source, too_many_cells(len(cells), max_cells, header=True))
    names = _names(cells)
    named = len(names)
    while named and not names[named - 1]:
        named -= 1
    columns = tuple(names[:named])
    for wanted_name in schema.key_names:
        if unicodedata.normalize("NFC", wanted_name) not in columns:
            raise IngestError(source, _missing_key_column(wanted_name, columns, delimiter, schema.key_names))
    wanted = unicodedata.normalize("NFC", key_column)
    _check_names(columns, source=source, order_attribute=order_attribute)
    name_sizes = tuple(len(name.encode()) for name in columns)
    key_index = columns.index(wanted)
    key_indexes = tuple((key, columns.index(unicodedata.normalize("NFC", key.name))) for key in schema.keys)
    for _key, index in key_indexes:
        if name_sizes[index] > MAX_KEY_NAME_BYTES:
            raise IngestError(
                source,
                f"the key column's name is {name_sizes[index]:,} bytes long; DynamoDB allows at most "
                f"{MAX_KEY_NAME_BYTES} bytes for a key attribute's name",
            )
    too_long = [(i, size) for i, size in enumerate(name_sizes) if size > MAX_ATTRIBUTE_NAME_BYTES]
    if too_long:
        i, size = too_long[0]
        raise IngestError(
            source,
            f"column {i + 1:,} has a name of {size:,} bytes; DynamoDB allows "
            "attribute names under 64 KB. Shorten the column's name (a cell that long in the header usually means "
            "the file has no header row)",
        )
    keys = {index for _key, index in key_indexes}
    marker = unicodedata.normalize("NFC", schema.delete_column) if schema.delete_column is not None else None
    delete_index = columns.index(marker) if marker in columns else None
    value_indexes = tuple(
        i for i, name in enumerate(columns) if i not in keys and i != delete_index and name not in ANNOTATION_COLUMNS
    )
    types = schema.column_types
    return Header(
        columns=columns,
        key_column=key_column,
        key_index=key_index,
        width=len(cells),
        value_indexes=value_indexes,
        name_sizes=name_sizes,
        schema=schema,
        key_indexes=key_indexes,
        # S is how every cell is written anyway: only other types need converting.
        value_types=tuple(_type(types.get(columns[i])) for i in value_indexes),
        untyped=tuple(name for name in types if name not in columns),
        typed=not schema.is_default_key or any(types.get(columns[i], "S") != "S" for i in value_indexes),
        order_attribute=order_attribute,
        reserved_bytes=len(order_attribute.encode()) + STAMP_BYTES if order_attribute is not None else 0,
        max_cells=max_cells,
        delete_index=delete_index,
    )


def _check_names(columns: tuple[str, ...], *, source: str, order_attribute: str | None) -> None:
    """Every column named, once, and none named like the attribute the pipeline keeps the upload order in."""
    empty = [f"{i:,}" for i, name in enumerate(columns, start=1) if not name]
    if empty:
        raise IngestError(
            source,
            f"the header has empty column names at position {_listed(empty)} (columns found: "
            f"{_listed([_quoted(name) for name in columns])}); name every column or remove the empty ones",
        )
    if order_attribute is not None and order_attribute in columns:
        raise IngestError(
            source,
            f"the header has a column {_quoted(order_attribute)}, the attribute where the pipeline keeps each item's "
            "upload order; rename the column, or give the order attribute another name (context order_attribute, "
            "csv-ingest --order-attribute)",
        )
    duplicates = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicates:
        raise IngestError(
            source,
            f"the header repeats column names {_listed([_quoted(name) for name in duplicates])}; "
            "every column needs a unique name",
        )


def _type(kind: ColumnType | None) -> ColumnType | None:
    return None if kind == "S" else kind


def _missing_key_column(key_column: str, columns: tuple[str, ...], delimiter: str, key_names: Sequence[str]) -> str:
    """Why a header without the key column fails. Its columns are named only when the row is surely a header (it
    has another key column, or one that nearly matches, or the key column in cells of another delimiter): a file
    without a header row has a row of data there, described by its shape when it looks like data, and never quoted.
    """
    hint = ""
    near = _near_match_hint(key_column, columns)
    advice = near or f"Add a {_quoted(key_column)} column and upload the file again."
    header = bool(near) or any(unicodedata.normalize("NFC", name) in columns for name in key_names)
    alone = columns[0] if len(columns) == 1 else ""
    seen = [character for character in DELIMITER_NAMES if character != delimiter and character in alone]
    cells: Sequence[str] = columns
    if seen:
        character = max(seen, key=alone.count)  # the most frequent: `a;b;c|d` is separated by semicolons
        cells = [cell.strip() for cell in alone.split(character)]
        value = "tab" if character == "\t" else character  # as the option and the context take it
        save = ", or save the file as comma-separated." if delimiter == DEFAULT_DELIMITER else "."
        hint = (
            f" The header looks separated by {_delimiter_shown(character)}, not {_delimiter_shown(delimiter)}; read "
            f"it with `csv-ingest --delimiter {shlex.quote(value)}` (deployed: the stack's context "
            f"`csv_delimiter={value}`){save}"
        )
        if unicodedata.normalize("NFC", key_column) in cells:
            advice = ""  # the column is there: the delimiter is the only fix
            header = True
    missing = f"the header has no {_quoted(key_column)} column"
    if header:
        return f"{missing} (columns found: {_listed([_quoted(name) for name in columns])}).{hint} {advice}".rstrip()
    shape = data_row_shape(cells)
    if shape is None:
        among = f"among its {len(columns):,} {'column' if len(columns) == 1 else 'columns'}"
        unquoted = "not quoted here, in case the first row is data rather than a header"
        return f"{missing} {among} ({unquoted}).{hint} {advice}".rstrip()
    return (
        f"{missing}: the first row looks like data, not a header ({shape}).{hint} If the file has no header row, add "
        f"one as its first line, naming every column ({_quoted(key_column)} among them), and upload the file again."
    )


def _delimiter_shown(character: str) -> str:
    """`semicolons (;)`, `tabs`, `pipe characters (|)`: a delimiter's name, with the character where it shows."""
    name = DELIMITER_NAMES[character]
    return name if character == "\t" or character in name else f"{name} ({character})"


def to_row(record: Record, header: Header, *, max_attributes: int | None = None) -> Row | Rejection:
    """What `record` becomes: the row to write, or the reason it cannot be written.

    `max_attributes` is the most attributes one request of the writer's mode can set (None: no limit).
    """
    cells = record.cells
    columns = header.columns
    width = len(cells)
    if width > len(columns):
        reason = _width_problem(cells, header)
        if reason is not None:
            return Rejection(record.line, key_of(cells, header), reason, cells)
    if header.typed:
        return _typed_row(record, header, max_attributes)
    key = key_of(cells, header)
    if key is None:
        return Rejection(record.line, None, f"the '{header.key_column}' cell is empty", cells)
    if key == columns[header.key_index]:
        return Rejection(record.line, key, _header_row_reason(cells, columns), cells)
    key_size = len(key.encode())
    if key_size > MAX_PARTITION_KEY_BYTES:
        return Rejection(record.line, key, _key_too_long(key_size, MAX_PARTITION_KEY_BYTES, "partition"), cells)
    # A row whose delete marker is true deletes its item, whatever its other cells: they are not read.
    if header.delete_index is not None and (
        deletion := _deletion(record, header, key, {header.key_column: {"S": key}})
    ):
        return deletion

    # Empty cells are skipped: they neither write an empty string nor remove an existing attribute.
    present = [i for i in header.value_indexes if i < width and cells[i]]
    name_sizes = header.name_sizes
    size = header.reserved_bytes + name_sizes[header.key_index] + key_size
    for i in present:
        size += name_sizes[i] + len(cells[i].encode())
    # Checked inline, as every row of every file passes here; `_oversized` words the rejection.
    if size > MAX_ITEM_BYTES or (max_attributes is not None and len(present) > max_attributes):
        return _oversized(record, key, size, len(present), max_attributes, header.reserved_bytes)
    return Row(record.line, key, {header.key_column: {"S": key}}, {columns[i]: {"S": cells[i]} for i in present}, cells)


def _width_problem(cells: list[str], header: Header) -> str | None:
    """Why a record with more cells than the header has named columns is rejected (None: it is not)."""
    width = len(cells)
    if width > header.max_cells:
        return too_many_cells(width, header.max_cells, header=False)
    # Empty cells past the named columns carry nothing (Excel pads rows to its widest one); a value there has no
    # column to go to.
    for i in range(len(header.columns), width):
        if cells[i]:
            if i < header.width:
                return (
                    f"the row has a value in column {i + 1}, which has no name in the header; name the column, or "
                    "remove the value"
                )
            return (
                f"the row has {width} fields but the header has {header.width} columns (an unquoted comma in a cell?)"
            )
    return None


def _typed_row(record: Record, header: Header, max_attributes: int | None) -> Row | Rejection:
    """`to_row` for a schema with a sort key, a key that is not a string, or typed columns."""
    cells = record.cells
    columns = header.columns
    keyed = _item_key(record, header)
    if isinstance(keyed, Rejection):
        return keyed
    item_key, size = keyed
    size += header.reserved_bytes
    key = identity_of(item_key, header.schema.key_names)
    if header.delete_index is not None and (deletion := _deletion(record, header, key, item_key, typed=True)):
        return deletion
    attributes: dict[str, AttributeValue] = {}
    width = len(cells)
    for i, kind in zip(header.value_indexes, header.value_types, strict=True):
        if i >= width or not cells[i]:
            continue  # empty cells are skipped, typed or not
        if kind is None:
            attributes[columns[i]] = {"S": cells[i]}
            size += header.name_sizes[i] + len(cells[i].encode())
            continue
        try:
            value = to_attribute(cells[i], kind)
        except ValueProblem as problem:
            column = f"column {_quoted(columns[i])} ({kind})"
            return Rejection(
                record.line,
                key,
                f"{column}: {problem}",
                cells,
                reason_without_values=f"{column}: {problem.without_value}",
            )
        attributes[columns[i]] = value
        size += header.name_sizes[i] + size_of(value)
    if size > MAX_ITEM_BYTES or (max_attributes is not None and len(attributes) > max_attributes):
        return _oversized(record, key, size, len(attributes), max_attributes, header.reserved_bytes)
    return Row(record.line, key, item_key, attributes, cells, typed=True)


def _deletion(
    record: Record, header: Header, key: str, item_key: dict[str, AttributeValue], *, typed: bool = False
) -> Row | Rejection | None:
    """The row that deletes the item keyed `item_key` when the record's delete marker is true (its other cells are
    not read); the rejection when the marker is not one; None when the record is a row to write (false or empty,
    a cell past the row's end included)."""
    index = header.delete_index
    cells = record.cells
    if index is None or index >= len(cells):
        return None
    try:
        deletes = delete_marker(cells[index])
    except ValueProblem as problem:
        column = f"column {_quoted(header.columns[index])} (the delete marker)"
        return Rejection(
            record.line, key, f"{column}: {problem}", cells, reason_without_values=f"{column}: {problem.without_value}"
        )
    return DeletingRow(record.line, key, item_key, {}, cells, typed=typed) if deletes else None


def _item_key(record: Record, header: Header) -> tuple[dict[str, AttributeValue], int] | Rejection:
    """The item's key attributes from the key cells, with their size (names included); or why the row has none.
    A rejection names the partition key's cell as written (trimmed) where there is one."""
    cells = record.cells
    columns = header.columns
    shown = _clean_key(cells[header.key_index]) if header.key_index < len(cells) else None
    item_key: dict[str, AttributeValue] = {}
    size = 0
    for attribute, index in header.key_indexes:
        text = _clean_key(cells[index]) if index < len(cells) else None
        if text is None:
            return Rejection(record.line, shown, f"the '{attribute.name}' cell is empty", cells)
        if attribute is header.schema.partition_key and text == columns[index]:
            return Rejection(record.line, shown, _header_row_reason(cells, columns), cells)
        try:
            value = to_key(text, attribute.type)
        except ValueProblem as problem:
            column = f"column {_quoted(attribute.name)} ({attribute.type})"
            return Rejection(
                record.line,
                shown,
                f"{column}: {problem}",
                cells,
                reason_without_values=f"{column}: {problem.without_value}",
            )
        value_size = size_of(value)
        sort = attribute is header.schema.sort_key
        limit = MAX_SORT_KEY_BYTES if sort else MAX_PARTITION_KEY_BYTES
        if value_size > limit:
            return Rejection(
                record.line, shown, _key_too_long(value_size, limit, "sort" if sort else "partition"), cells
            )
        item_key[attribute.name] = value
        size += header.name_sizes[index] + value_size
    return item_key, size


def _oversized(
    record: Record, key: str, size: int, attributes: int, max_attributes: int | None, reserved: int
) -> Rejection:
    """The rejection of a row over the item size limit (`size` bytes, `reserved` of them the writes' own) or with
    more attributes than `max_attributes`."""
    if size > MAX_ITEM_BYTES:
        stamp = f" ({reserved} of them the upload's order stamp)" if reserved else ""
        reason = f"the item would be {size:,} bytes{stamp}, over DynamoDB's 400 KB item limit"
    else:
        reason = (
            f"the row fills {attributes} columns, more than one DynamoDB update expression (4 KB) can set "
            f"({max_attributes})"
        )
    return Rejection(record.line, key, reason, record.cells)


def _key_too_long(size: int, limit: int, role: str) -> str:
    return (
        f"the key is {size:,} bytes long in UTF-8; DynamoDB allows at most {limit:,} bytes for a {role} key, so "
        "shorten it"
    )


def key_of(cells: list[str], header: Header) -> str | None:
    """The record's item identity (see `Row.key`): the key cell trimmed, without byte-order marks and in NFC; with a
    sort key both parts, numbers in one spelling. None when a key cell is missing or blank, or not of its type."""
    if not header.typed:
        return _clean_key(cells[header.key_index]) if header.key_index < len(cells) else None
    parts = []
    for attribute, index in header.key_indexes:
        text = _clean_key(cells[index]) if index < len(cells) else None
        if text is None:
            return None
        try:
            parts.append(_identity_part(to_key(text, attribute.type)))
        except ValueProblem:
            return None
    return KEY_PART_SEPARATOR.join(parts)


def identity_of(item_key: Mapping[str, AttributeValue], names: Sequence[str]) -> str:
    """The identity (see `Row.key`) of the item whose key attributes, named `names` in key order, are `item_key`."""
    return KEY_PART_SEPARATOR.join(_identity_part(item_key[name]) for name in names)


def _identity_part(value: AttributeValue) -> str:
    """One key value as text that is equal exactly when DynamoDB compares the values equal."""
    if "N" in value:
        return canonical_number(value["N"])
    if "B" in value:
        return base64.b64encode(value["B"]).decode("ascii")
    text: str = value["S"]
    return text


def _clean_key(cell: str) -> str | None:
    """A key cell without byte-order marks (wherever they are) or whitespace at its ends (any Unicode whitespace,
    as str.strip() removes it: `\u3000` and `\x0b` too, not `\u200b`), in NFC; None when blank."""
    # Only keys are cleaned: they name the item, so ` 42` and `42` (or `café` typed on a Mac, NFD, and on
    # Windows, NFC) must be one item; DynamoDB compares key bytes. Other cells stay as written.
    key = cell.strip()
    if BOM in key:  # two exports joined with `cat`: the second one's BOM lands inside the first cell
        key = key.replace(BOM, "").strip()
    if not key.isascii():
        key = unicodedata.normalize("NFC", key)
    return key or None


def _names(cells: list[str]) -> list[str]:
    """Header cells as column names: without surrounding whitespace or byte-order marks, in NFC."""
    return [unicodedata.normalize("NFC", cell.replace(BOM, "").strip()) for cell in cells]


def _header_row_reason(cells: list[str], columns: tuple[str, ...]) -> str:
    """Why a row whose key is the key column's own name is rejected: a header again, the same one or another."""
    names = _names(cells)
    if names[: len(columns)] == list(columns) and not any(names[len(columns) :]):
        return "repeated header row (two files joined into one, each with its header?); it is not data, so remove it"
    return (
        "the key is the key column's own name, but the other cells differ from the header: this looks like the header "
        "of another file joined on, and the rows after it are read with this file's columns; split the file here "
        "and upload each part on its own"
    )


def _near_match_hint(key_column: str, columns: tuple[str, ...]) -> str:
    """A sentence naming a column that is the key column but for case, separators or invisible characters."""
    wanted = _loose(key_column)
    near = [c for c in columns if c and _loose(c) == wanted] if wanted else []
    if not near:
        return ""
    name = near[0]
    if any(_invisible(ch) for ch in name):
        return (
            f"Column {_quoted(name)} nearly matches: its name has invisible characters in it (shown escaped). "
            f"Retype the name as {_quoted(key_column)} and upload the file again."
        )
    rename = f"Column {_quoted(name)} nearly matches: rename it to {_quoted(key_column)} and upload the file again"
    if len(name) > SHOWN_NAME_CHARS:  # shown cut: no command can be written with it
        return f"{rename}."
    return (
        f"{rename}, or, to make it the table's key column, deploy with `-c {shlex.quote('key_column=' + name)}` "
        f"(`csv-ingest load --key-column {shlex.quote(name)}` for a local load)."
    )


def _loose(name: str) -> str:
    """`name` compared loosely: compatibility-normalised, case-folded, letters and digits only."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", name).casefold() if ch.isalnum())


def _invisible(ch: str) -> bool:
    return ch != " " and unicodedata.category(ch) in INVISIBLE_CATEGORIES


def _shown(name: str) -> str:
    """`name` for a message: cut to SHOWN_NAME_CHARS characters (ending in "..."), invisible characters escaped
    (`\\u200b`), everything else as it is."""
    if len(name) > SHOWN_NAME_CHARS:
        name = name[: SHOWN_NAME_CHARS - 3] + "..."
    return "".join(ch.encode("unicode_escape").decode("ascii") if _invisible(ch) else ch for ch in name)


def _listed(items: Sequence[str]) -> str:
    """The first SHOWN_COLUMNS of `items`, comma-separated, and how many more there are."""
    shown = ", ".join(items[:SHOWN_COLUMNS])
    more = len(items) - SHOWN_COLUMNS
    return f"{shown} and {more:,} more" if more > 0 else shown


def _quoted(name: str) -> str:
    return f"'{_shown(name)}'"
