"""The file rules, with no AWS in them: header checks, and what each record becomes (a row to write, or a rejection).

A `Row` is data (its line, key and attributes), not a request: the writer builds `UpdateItem` / `PutItem` /
`BatchWriteItem` calls from it, with its own table name and mode.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.reading import Record

# DynamoDB's documented limits: an item of at most 400 KB (attribute names and values, UTF-8 bytes); attribute
# names under 64 KB, and key attribute names of at most 255 bytes.
MAX_ITEM_BYTES = 400 * 1024
MAX_ATTRIBUTE_NAME_BYTES = 64 * 1024 - 1
MAX_KEY_NAME_BYTES = 255
# The columns a rejects report adds (see `reports`); never written, so a fixed report can be uploaded as it is.
ANNOTATION_COLUMNS = ("rejected_line", "rejected_reason")


@dataclass(frozen=True, slots=True)
class Header:
    """A validated header: trimmed column names and where the key column is."""

    columns: tuple[str, ...]
    key_column: str
    key_index: int
    # Indexes of the columns that become attributes (not the key, not report annotations), with their names'
    # UTF-8 sizes for the item-size rule; worked out once per file.
    value_indexes: tuple[int, ...] = field(repr=False)
    name_sizes: tuple[int, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Row:
    """A record the rules accept: where it is in the file, its key, the attributes to set, and its cells as written.

    `attributes` maps each non-empty, non-key cell's column to its text; empty cells are not in it (they neither
    write an empty value nor remove an existing attribute).
    """

    line: int
    key: str
    attributes: dict[str, str]
    cells: list[str] = field(repr=False)


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


def parse_header(cells: list[str] | None, *, key_column: str, source: str) -> Header:
    """Validate a header record; raise `IngestError` naming every problem a user must fix."""
    if not cells:
        raise IngestError(source, f"the file is empty: expected a header row with a '{key_column}' column")
    columns = tuple(cell.strip() for cell in cells)
    found = ", ".join(f"'{c}'" for c in columns)
    if key_column not in columns:
        hint = ""
        if len(columns) == 1 and any(sep in columns[0] for sep in (";", "\t", "|")):
            hint = " The header looks separated by something other than commas; save the file as comma-separated."
        raise IngestError(
            source,
            f"the header has no '{key_column}' column (columns found: {found}).{hint} "
            f"Add a '{key_column}' column and upload the file again.",
        )
    empty = [str(i) for i, name in enumerate(columns, start=1) if not name]
    if empty:
        raise IngestError(
            source,
            f"the header has empty column names at position {', '.join(empty)} (columns found: {found}); "
            "name every column or remove the empty ones",
        )
    duplicates = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicates:
        raise IngestError(
            source,
            f"the header repeats column names {', '.join(repr(d) for d in duplicates)}; "
            "every column needs a unique name",
        )
    name_sizes = tuple(len(name.encode()) for name in columns)
    key_index = columns.index(key_column)
    if name_sizes[key_index] > MAX_KEY_NAME_BYTES:
        raise IngestError(
            source,
            f"the key column's name is {name_sizes[key_index]:,} bytes long; DynamoDB allows at most "
            f"{MAX_KEY_NAME_BYTES} bytes for a key attribute's name",
        )
    too_long = [(i, size) for i, size in enumerate(name_sizes) if size > MAX_ATTRIBUTE_NAME_BYTES]
    if too_long:
        i, size = too_long[0]
        raise IngestError(
            source,
            f"column {i + 1} ('{columns[i][:40]}...') has a name of {size:,} bytes; DynamoDB allows attribute names "
            "under 64 KB. Shorten the column's name (a cell that long in the header usually means the file has no "
            "header row)",
        )
    return Header(
        columns=columns,
        key_column=key_column,
        key_index=key_index,
        value_indexes=tuple(i for i, name in enumerate(columns) if i != key_index and name not in ANNOTATION_COLUMNS),
        name_sizes=name_sizes,
    )


def to_row(record: Record, header: Header, *, max_attributes: int | None = None) -> Row | Rejection:
    """What `record` becomes: the row to write, or the reason it cannot be written.

    `max_attributes` is the most attributes one request of the writer's mode can set (None: no limit).
    """
    cells = record.cells
    columns = header.columns
    if len(cells) > len(columns):
        return Rejection(
            record.line,
            _key_or_none(cells, header),
            f"the row has {len(cells)} fields but the header has {len(columns)} columns (an unquoted comma in a cell?)",
            cells,
        )
    key = _key_or_none(cells, header)
    if key is None:
        return Rejection(record.line, None, f"the '{header.key_column}' cell is empty", cells)

    width = len(cells)
    # Empty cells are skipped: they neither write an empty string nor remove an existing attribute.
    present = [i for i in header.value_indexes if i < width and cells[i]]
    name_sizes = header.name_sizes
    size = name_sizes[header.key_index] + len(key.encode())
    for i in present:
        size += name_sizes[i] + len(cells[i].encode())
    if size > MAX_ITEM_BYTES:
        return Rejection(
            record.line, key, f"the item would be {size:,} bytes, over DynamoDB's 400 KB item limit", cells
        )
    if max_attributes is not None and len(present) > max_attributes:
        return Rejection(
            record.line,
            key,
            f"the row fills {len(present)} columns, more than one DynamoDB update expression (4 KB) can set "
            f"({max_attributes})",
            cells,
        )
    return Row(record.line, key, {columns[i]: cells[i] for i in present}, cells)


def _key_or_none(cells: list[str], header: Header) -> str | None:
    """The record's key as written, or None when it is missing or only whitespace."""
    if header.key_index >= len(cells):
        return None
    key = cells[header.key_index]
    return key if key.strip() else None
