"""Every kind of rejection, whole: the line, the key, the reason and the cells a rejects report and the log get, on
the default path and the typed one. Pure, no AWS."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from csv_ingest_engine.ordering import STAMP_BYTES
from csv_ingest_engine.reading import Record
from csv_ingest_engine.rules import MAX_ITEM_BYTES, Header, Rejection, Row, key_of, parse_header, to_row
from csv_ingest_engine.schema import KeyAttribute, Schema

SOURCE = "s3://b/k.csv"
LINE = 7
HEADER_AGAIN = (
    "the key is the key column's own name, but the other cells differ from the header: this looks like the header "
    "of another file joined on, and the rows after it are read with this file's columns; split the file here and "
    "upload each part on its own"
)


def header(*columns: str, schema: Schema | None = None, order_attribute: str | None = None) -> Header:
    return parse_header(list(columns), schema=schema, source=SOURCE, order_attribute=order_attribute)


def rejection(cells: list[str], head: Header, *, max_attributes: int | None = None) -> Rejection:
    result = to_row(Record(LINE, cells), head, max_attributes=max_attributes)
    assert isinstance(result, Rejection), result
    assert result.line == LINE
    assert result.cells == cells  # the report gets the row as it was written
    return result


def orders() -> Schema:
    return Schema(KeyAttribute("customer_id"), KeyAttribute("order_date"))


def typed() -> Schema:
    return Schema.keyed_on("customer_id", {"age": "N"})


# -- the default path (a string key, strings as written) -------------------------------------------------------------


def test_a_header_again_is_rejected_with_its_key_and_cells() -> None:
    head = header("customer_id", "name")
    result = rejection(["customer_id", "Name of another file"], head)
    assert (result.key, result.reason) == ("customer_id", HEADER_AGAIN)


def test_a_key_too_long_is_rejected_with_its_key_and_cells() -> None:
    head = header("customer_id", "name")
    result = rejection(["k" * 2049, "Jane"], head)
    assert result.key == "k" * 2049


def test_a_row_with_more_fields_than_the_header_is_rejected_saying_so() -> None:
    head = header("customer_id", "name")
    result = rejection(["C-1", "Jane", "Doe"], head)
    assert (result.key, result.reason) == (
        "C-1",
        "the row has 3 fields but the header has 2 columns (an unquoted comma in a cell?)",
    )


@pytest.mark.parametrize("schema", [None, typed], ids=["default", "typed"])
def test_an_item_over_400_kb_is_rejected_with_its_key_and_how_many_bytes(schema: Callable[[], Schema] | None) -> None:
    head = header("customer_id", "notes", "age", schema=schema() if schema else None)
    result = rejection(["C-1", "x" * MAX_ITEM_BYTES, ""], head)
    size = len("customer_id") + len("C-1") + len("notes") + MAX_ITEM_BYTES
    assert (result.key, result.reason) == (
        "C-1",
        f"the item would be {size:,} bytes, over DynamoDB's 400 KB item limit",
    )


@pytest.mark.parametrize("schema", [None, typed], ids=["default", "typed"])
def test_a_stamped_item_over_400_kb_says_how_much_the_stamp_takes(schema: Callable[[], Schema] | None) -> None:
    head = header("customer_id", "notes", "age", schema=schema() if schema else None, order_attribute="_order")
    result = rejection(["C-1", "x" * MAX_ITEM_BYTES, ""], head)
    stamp = len("_order") + STAMP_BYTES
    size = len("customer_id") + len("C-1") + len("notes") + MAX_ITEM_BYTES + stamp
    assert result.reason == (
        f"the item would be {size:,} bytes ({stamp} of them the upload's order stamp), over DynamoDB's 400 KB item "
        "limit"
    )


@pytest.mark.parametrize("schema", [None, typed], ids=["default", "typed"])
def test_a_row_at_400_kb_with_too_many_columns_is_rejected_for_its_columns(schema: Callable[[], Schema] | None) -> None:
    """The item-size reason is for items over 400 KB; one of exactly 400 KB is rejected for what is wrong with it."""
    head = header("customer_id", "notes", "more", "age", schema=schema() if schema else None)
    fits = MAX_ITEM_BYTES - len("customer_id") - len("C-1") - len("notes") - len("more") - 1
    result = rejection(["C-1", "x" * fits, "y", ""], head, max_attributes=1)
    assert (result.key, result.reason) == (
        "C-1",
        "the row fills 2 columns, more than one DynamoDB update expression (4 KB) can set (1)",
    )


def test_a_row_that_ends_right_before_the_key_column_is_rejected_for_its_empty_key() -> None:
    head = header("name", "age", "customer_id")
    result = rejection(["Jane", "30"], head)
    assert (result.key, result.reason) == (None, "the 'customer_id' cell is empty")


# -- the typed path ---------------------------------------------------------------------------------------------------


def test_typed_an_empty_key_is_rejected_without_a_key() -> None:
    head = header("customer_id", "age", schema=typed())
    result = rejection([" ", "30"], head)
    assert (result.key, result.reason) == (None, "the 'customer_id' cell is empty")


def test_typed_a_row_that_ends_right_before_the_key_column_is_rejected_for_its_empty_key() -> None:
    head = header("name", "age", "customer_id", schema=typed())
    result = rejection(["Jane", "30"], head)
    assert (result.key, result.reason) == (None, "the 'customer_id' cell is empty")
    assert key_of(["Jane", "30"], head) is None


def test_an_empty_sort_key_is_rejected_with_the_partition_key() -> None:
    head = header("customer_id", "order_date", schema=orders())
    result = rejection([" C-1 ", ""], head)
    assert (result.key, result.reason) == ("C-1", "the 'order_date' cell is empty")


def test_typed_a_header_again_is_rejected_with_its_key_and_cells() -> None:
    head = header("customer_id", "order_date", schema=orders())
    result = rejection(["customer_id", "2026-01-01"], head)
    assert (result.key, result.reason) == ("customer_id", HEADER_AGAIN)


def test_a_key_not_of_its_type_is_rejected_with_the_key_as_written() -> None:
    head = header("id", schema=Schema(KeyAttribute("id", "N")))
    result = rejection([" 4x2 "], head)
    assert result.key == "4x2"
    assert result.reason.startswith("column 'id' (N): '4x2' is not a number")


def test_typed_a_key_too_long_is_rejected_with_its_key_and_cells() -> None:
    head = header("customer_id", "order_date", schema=orders())
    result = rejection(["C-1", "d" * 1025], head)
    assert result.key == "C-1"
    assert result.reason == (
        "the key is 1,025 bytes long in UTF-8; DynamoDB allows at most 1,024 bytes for a sort key, so shorten it"
    )


def test_a_composite_key_counts_both_parts_toward_400_kb() -> None:
    head = header("customer_id", "order_date", "notes", schema=orders())
    fits = MAX_ITEM_BYTES - len("customer_id") - len("C-1") - len("order_date") - len("2026-01-01") - len("notes")
    assert isinstance(to_row(Record(LINE, ["C-1", "2026-01-01", "x" * fits]), head), Row)
    assert "over DynamoDB's 400 KB item limit" in rejection(["C-1", "2026-01-01", "x" * (fits + 1)], head).reason


def test_typed_an_empty_cell_skips_only_its_column() -> None:
    head = header("customer_id", "name", "age", "city", schema=typed())
    row = to_row(Record(LINE, ["C-1", "", "", "Paris"]), head)
    assert isinstance(row, Row)
    assert row.attributes == {"city": {"S": "Paris"}}


def test_a_typed_row_is_written_with_its_line_and_cells_and_measured_as_typed() -> None:
    head = header("customer_id", "age", schema=typed())
    row = to_row(Record(LINE, ["C-1", "42"]), head)
    assert isinstance(row, Row)
    assert (row.line, row.key, row.cells, row.typed) == (LINE, "C-1", ["C-1", "42"], True)
    # Typed: the writer measures it attribute by attribute (its number has no "S" for the string-only arithmetic).
    assert row == Row(LINE, "C-1", {"customer_id": {"S": "C-1"}}, {"age": {"N": "42"}}, ["C-1", "42"], typed=True)


def test_a_typed_column_with_a_non_ascii_name_is_named_as_written() -> None:
    head = header("customer_id", "âge", schema=Schema.keyed_on("customer_id", {"âge": "N"}))
    assert rejection(["C-1", "old"], head).reason.startswith("column 'âge' (N): 'old' is not a number")


def test_invisible_characters_in_a_column_name_are_shown_escaped() -> None:
    head = header("customer_id", "a\u200bge", schema=Schema.keyed_on("customer_id", {"a\u200bge": "N"}))
    assert rejection(["C-1", "old"], head).reason.startswith("column 'a\\u200bge' (N): 'old' is not a number")
