"""The file rules, with no AWS in them: header checks and the mapping of a record to a DynamoDB request.

Requests are built in the low-level client's shape (`{"S": ...}` values) so the writer sends them as they are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from ingest_engine.errors import IngestError
from ingest_engine.reading import Record

# DynamoDB's documented limits: an item of at most 400 KB (attribute names and values, UTF-8 bytes), and an
# expression string of at most 4 KB.
MAX_ITEM_BYTES = 400 * 1024
MAX_EXPRESSION_BYTES = 4 * 1024
# The columns a rejects report adds (see `reports`); never written, so a fixed report can be uploaded as it is.
ANNOTATION_COLUMNS = ("rejected_line", "rejected_reason")


@dataclass(frozen=True, slots=True)
class Header:
    """A validated header: trimmed column names and where the key column is."""

    columns: tuple[str, ...]
    key_column: str
    key_index: int
    # Indexes of the columns that never become attributes: the key and any report annotations.
    skip: frozenset[int] = field(repr=False)
    # Per column: the UTF-8 size of its name (for the item-size rule) and its `SET` fragment, built once per file.
    name_sizes: tuple[int, ...] = field(repr=False)
    set_fragments: tuple[str, ...] = field(repr=False)
    name_placeholders: tuple[str, ...] = field(repr=False)
    value_placeholders: tuple[str, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Write:
    """One DynamoDB request for one record: `update_item` (merge attributes) or a put of a key-only item."""

    line: int
    key: str
    operation: Literal["update_item", "put_item"]
    params: dict[str, Any]


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
    return Header(
        columns=columns,
        key_column=key_column,
        key_index=columns.index(key_column),
        skip=frozenset(i for i, name in enumerate(columns) if name == key_column or name in ANNOTATION_COLUMNS),
        name_sizes=tuple(len(name.encode()) for name in columns),
        set_fragments=tuple(f"#{i}=:{i}" for i in range(len(columns))),
        name_placeholders=tuple(f"#{i}" for i in range(len(columns))),
        value_placeholders=tuple(f":{i}" for i in range(len(columns))),
    )


def to_write(record: Record, header: Header, *, table_name: str, replace: bool = False) -> Write | Rejection:
    """Map one record to its DynamoDB request, or to the reason it cannot be written.

    By default the request merges the row into the item (`update_item`); with `replace`, it is a put of the whole
    item (the row's non-empty cells), for `BatchWriteItem`.
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

    skip = header.skip
    # Empty cells are skipped: they neither write an empty string nor remove an existing attribute.
    present = [i for i, value in enumerate(cells) if value and i not in skip]
    name_sizes = header.name_sizes
    size = name_sizes[header.key_index] + len(key.encode())
    for i in present:
        size += name_sizes[i] + len(cells[i].encode())
    if size > MAX_ITEM_BYTES:
        return Rejection(
            record.line, key, f"the item would be {size:,} bytes, over DynamoDB's 400 KB item limit", cells
        )

    item_key = {header.key_column: {"S": key}}
    if replace:
        item = {**item_key, **{columns[i]: {"S": cells[i]} for i in present}}
        return Write(record.line, key, "put_item", {"TableName": table_name, "Item": item})
    if not present:
        # DynamoDB accepts an UpdateItem without an update expression, but moto crashes on it; a put guarded by
        # attribute_not_exists creates the bare item and leaves an existing one untouched, on both.
        return Write(
            record.line,
            key,
            "put_item",
            {
                "TableName": table_name,
                "Item": item_key,
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": header.key_column},
            },
        )
    fragments = header.set_fragments
    expression = "SET " + ",".join([fragments[i] for i in present])
    if len(expression) > MAX_EXPRESSION_BYTES:
        return Rejection(
            record.line,
            key,
            f"the row fills {len(present)} columns, more than one DynamoDB update expression (4 KB) can set",
            cells,
        )
    name_placeholders, value_placeholders = header.name_placeholders, header.value_placeholders
    return Write(
        record.line,
        key,
        "update_item",
        {
            "TableName": table_name,
            "Key": item_key,
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {name_placeholders[i]: columns[i] for i in present},
            "ExpressionAttributeValues": {value_placeholders[i]: {"S": cells[i]} for i in present},
        },
    )


def _key_or_none(cells: list[str], header: Header) -> str | None:
    """The record's key as written, or None when it is missing or only whitespace."""
    if header.key_index >= len(cells):
        return None
    key = cells[header.key_index]
    return key if key.strip() else None
