"""The header checks as a user meets them: the exact message that fails the file (with the file's name), at each
limit and one past it, and the Header a valid header row becomes (issue 23)."""

from __future__ import annotations

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.constants import DEFAULT_MAX_CELLS
from csv_ingest_engine.ordering import STAMP_BYTES
from csv_ingest_engine.rules import MAX_KEY_NAME_BYTES, Header, parse_header

SOURCE = "s3://b/k.csv"
ORDER = "_upload_order"


def header(
    cells: list[str] | None,
    *,
    key_column: str = "customer_id",
    order_attribute: str | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> Header:
    return parse_header(
        cells, key_column=key_column, source=SOURCE, order_attribute=order_attribute, max_cells=max_cells
    )


def failure(
    cells: list[str] | None,
    *,
    key_column: str = "customer_id",
    order_attribute: str | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> str:
    """The message of the IngestError that `cells` as a header row fail the file with."""
    with pytest.raises(IngestError) as raised:
        header(cells, key_column=key_column, order_attribute=order_attribute, max_cells=max_cells)
    return str(raised.value)


@pytest.mark.parametrize("cells", [None, []], ids=["no record", "no cells"])
def test_an_empty_file_fails_naming_the_key_column_it_needs(cells: list[str] | None) -> None:
    """A file with no header row fails, and the message says which column the header must have."""
    assert failure(cells, key_column="order_id") == (
        f"{SOURCE}: the file is empty: expected a header row with a 'order_id' column"
    )


def test_a_header_as_wide_as_max_cells_is_read_whole() -> None:
    """A header of exactly `max_cells` cells passes, and its Header keeps the limit its rows are held to."""
    parsed = header(["customer_id", "name", "city"], max_cells=3)
    assert (parsed.columns, parsed.width, parsed.max_cells) == (("customer_id", "name", "city"), 3, 3)


def test_a_header_one_cell_wider_than_max_cells_fails_the_file() -> None:
    """One cell past `max_cells` fails the file with the count, the limit and the settings that raise it."""
    assert failure(["customer_id", "name", "city", "country"], max_cells=3) == (
        f"{SOURCE}: the header row has 4 cells, more than the 3 a row may have (context csv_max_cells, csv-ingest "
        "--max-cells); remove the empty cells at its end (a spreadsheet exported with empty columns?), or quote the "
        "cells that contain the delimiter"
    )


def test_trailing_nameless_columns_are_dropped_but_count_toward_the_width() -> None:
    """Empty names after the last named column (a spreadsheet's formatted columns) are not columns, but the row is
    as wide as all its cells."""
    parsed = header([" customer_id ", "name", "", " "])
    assert (parsed.columns, parsed.key_column, parsed.key_index, parsed.width) == (
        ("customer_id", "name"),
        "customer_id",
        0,
        4,
    )


def test_an_empty_name_between_columns_fails_naming_its_position() -> None:
    """An empty name before a named column fails the file, naming where it is and the columns found."""
    assert failure(["customer_id", "", "name"]) == (
        f"{SOURCE}: the header has empty column names at position 2 (columns found: 'customer_id', '', 'name'); "
        "name every column or remove the empty ones"
    )


def test_a_repeated_name_fails_the_file_naming_it() -> None:
    """A name that appears twice (once after trimming) fails the file."""
    assert failure(["customer_id", "name", " name"]) == (
        f"{SOURCE}: the header repeats column names 'name'; every column needs a unique name"
    )


def test_five_repeated_names_are_all_named() -> None:
    """Five repeated names (SHOWN_COLUMNS) are all named, with no count of more."""
    names = ["a", "b", "c", "d", "e"]
    assert failure(["customer_id", *names, *names]) == (
        f"{SOURCE}: the header repeats column names 'a', 'b', 'c', 'd', 'e'; every column needs a unique name"
    )


def test_six_repeated_names_name_five_and_count_one_more() -> None:
    """One past SHOWN_COLUMNS: five names are shown, sorted, and the sixth is counted."""
    names = ["f", "e", "d", "c", "b", "a"]
    assert failure(["customer_id", *names, *names]) == (
        f"{SOURCE}: the header repeats column names 'a', 'b', 'c', 'd', 'e' and 1 more; every column needs a unique "
        "name"
    )


def test_a_column_named_like_the_order_attribute_fails_the_file() -> None:
    """A column that the upload-order stamp would overwrite fails the file, saying how to rename either."""
    assert failure(["customer_id", ORDER], order_attribute=ORDER) == (
        f"{SOURCE}: the header has a column '{ORDER}', the attribute where the pipeline keeps each item's upload "
        "order; rename the column, or give the order attribute another name (context order_attribute, csv-ingest "
        "--order-attribute)"
    )


def test_the_order_attribute_is_kept_and_counted_toward_each_item() -> None:
    """Without a column of its name, the order attribute is what the writes stamp, its name and stamp reserved."""
    parsed = header(["customer_id", "name"], order_attribute=ORDER)
    assert (parsed.order_attribute, parsed.reserved_bytes) == (ORDER, len(ORDER) + STAMP_BYTES)


def test_a_key_column_name_of_255_bytes_is_accepted() -> None:
    """A key column's name at DynamoDB's 255-byte limit (multi-byte characters counted as bytes) is the key."""
    name = "é" * (MAX_KEY_NAME_BYTES // 2) + "k"
    parsed = header([name, "name"], key_column=name)
    assert (parsed.key_column, parsed.key_index) == (name, 0)


def test_a_key_column_name_of_256_bytes_fails_the_file() -> None:
    """One byte past the key-name limit fails the file with the name's size in bytes."""
    name = "é" * (MAX_KEY_NAME_BYTES // 2 + 1)
    assert failure(["name", name], key_column=name) == (
        f"{SOURCE}: the key column's name is 256 bytes long; DynamoDB allows at most 255 bytes for a key attribute's "
        "name"
    )


def test_an_attribute_name_just_under_64_kb_is_accepted() -> None:
    """A column name of 65,535 bytes (DynamoDB: under 64 KB) is a column."""
    name = "n" * 65_535
    assert header(["customer_id", name]).columns == ("customer_id", name)


def test_an_attribute_name_of_64_kb_fails_the_file_by_position() -> None:
    """A 65,536-byte name fails the file naming its column's position and size, not the name."""
    assert failure(["customer_id", "name", "n" * 65_536]) == (
        f"{SOURCE}: column 3 has a name of 65,536 bytes; DynamoDB allows attribute names under 64 KB. Shorten the "
        "column's name (a cell that long in the header usually means the file has no header row)"
    )
