"""Typed columns and key schemas in the rules: what a row becomes, and why one is rejected. Pure, no AWS."""

from __future__ import annotations

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.reading import Record
from csv_ingest_engine.rules import Header, Rejection, Row, key_of, parse_header, to_row
from csv_ingest_engine.schema import KeyAttribute, Schema, SchemaError, column_types


def orders() -> Schema:
    """A number partition key and a string sort key; built in each test, so that mutation testing's mutants of the
    schema's own code meet it (an object built at import is built before they are in place)."""
    return Schema(KeyAttribute("customer_id", "N"), KeyAttribute("order_date"))


def header(*columns: str, schema: Schema) -> Header:
    return parse_header(list(columns), schema=schema, source="s3://b/k.csv")


def row(cells: list[str], head: Header, line: int = 2) -> Row:
    outcome = to_row(Record(line, cells), head)
    assert isinstance(outcome, Row), outcome
    return outcome


def rejection(cells: list[str], head: Header, line: int = 2) -> Rejection:
    outcome = to_row(Record(line, cells), head)
    assert isinstance(outcome, Rejection), outcome
    return outcome


def test_typed_columns_become_dynamodb_values() -> None:
    """N, BOOL and JSON columns are written as numbers, booleans and native values; other columns stay strings."""
    head = header(
        "customer_id", "age", "active", "tags", "name",
        schema=Schema.keyed_on("customer_id", {"age": "N", "active": "BOOL", "tags": "JSON"}),
    )  # fmt: skip
    outcome = row(["7", " 42 ", "TRUE", '{"a": [1, 2.50], "b": null}', "00123"], head)
    assert outcome.item_key == {"customer_id": {"S": "7"}}
    assert outcome.attributes == {
        "age": {"N": "42"},
        "active": {"BOOL": True},
        "tags": {"M": {"a": {"L": [{"N": "1"}, {"N": "2.50"}]}, "b": {"NULL": True}}},
        "name": {"S": "00123"},
    }


def test_a_cell_that_does_not_convert_rejects_the_row_naming_column_type_and_value() -> None:
    """`column 'age' (N): '3O' is not a number`: the row is rejected, its cells kept as written for the report."""
    head = header("customer_id", "age", schema=Schema.keyed_on("customer_id", {"age": "N"}))
    outcome = rejection(["7", "3O"], head, line=5)
    assert (outcome.line, outcome.key, outcome.cells) == (5, "7", ["7", "3O"])
    assert outcome.reason.startswith("column 'age' (N): '3O' is not a number")


def test_empty_typed_cells_are_skipped_as_untyped_ones_are() -> None:
    """An empty cell under a typed column sets nothing (it is not an invalid number)."""
    head = header("customer_id", "age", schema=Schema.keyed_on("customer_id", {"age": "N"}))
    assert row(["7", ""], head).attributes == {}


def test_a_number_key_is_converted_and_one_item_whatever_its_spelling() -> None:
    """`1`, `1.0` and `01` are one number: one item, so rows of it keep their order in one place."""
    head = header("customer_id", "order_date", schema=orders())
    first, second = row(["1", "2024-01-01"], head), row([" 01.0 ", "2024-01-01"], head)
    assert first.item_key == {"customer_id": {"N": "1"}, "order_date": {"S": "2024-01-01"}}
    assert first.key == second.key == key_of(["1.00", "2024-01-01"], head)


def test_rows_sharing_only_the_partition_key_are_distinct_items() -> None:
    """With a sort key, the item is the pair: another date is another item."""
    head = header("customer_id", "order_date", schema=orders())
    assert row(["1", "2024-01-01"], head).key != row(["1", "2024-01-02"], head).key


def test_a_key_cell_that_is_not_of_the_key_type_rejects_the_row() -> None:
    """A partition key of type N given `abc` is rejected with the column and type named."""
    head = header("customer_id", "order_date", schema=orders())
    assert rejection(["abc", "2024-01-01"], head).reason.startswith("column 'customer_id' (N): 'abc' is not a number")


def test_a_missing_sort_key_cell_rejects_the_row() -> None:
    """Both key cells are needed: an empty sort key cell is named."""
    head = header("customer_id", "order_date", schema=orders())
    assert rejection(["1", " "], head).reason == "the 'order_date' cell is empty"


def test_a_sort_key_over_1024_bytes_is_rejected() -> None:
    """DynamoDB allows a sort key of at most 1,024 bytes (a partition key 2,048)."""
    head = header("customer_id", "order_date", schema=orders())
    assert "at most 1,024 bytes for a sort key" in rejection(["1", "é" * 513], head).reason
    assert row(["1", "x" * 1024], head).item_key["order_date"] == {"S": "x" * 1024}


def test_a_binary_key_is_read_as_base64() -> None:
    """A B key cell is base64; invalid base64 rejects the row."""
    head = header("id", schema=Schema(KeyAttribute("id", "B")))
    assert row(["aGk="], head).item_key == {"id": {"B": b"hi"}}
    assert "is not base64" in rejection(["not base64!"], head).reason


def test_a_file_without_the_sort_key_column_fails_listing_the_columns_found() -> None:
    """The header must have every key column: the missing one is named, with the columns the file has."""
    with pytest.raises(IngestError) as failure:
        header("customer_id", "name", schema=orders())
    assert "the header has no 'order_date' column (columns found: 'customer_id', 'name')" in str(failure.value)


def test_types_for_columns_the_file_lacks_are_listed_not_fatal() -> None:
    """One configuration serves many files: a typed column a file does not have is a warning, not an error."""
    head = header("customer_id", "name", schema=Schema.keyed_on("customer_id", {"age": "N", "name": "S"}))
    assert head.untyped == ("age",)


def test_the_item_size_counts_numbers_as_dynamodb_does() -> None:
    """A 38-digit number counts 20 bytes (1 per two digits + 1), not its 38 characters of text."""
    digits = "1" * 38
    head = header("customer_id", *(f"n{i}" for i in range(15_000)), schema=Schema.keyed_on(
        "customer_id", {f"n{i}": "N" for i in range(15_000)}
    ))  # fmt: skip
    # 15,000 numbers of 20 bytes plus their names: ~373 KB as numbers, but 570 KB of digits as text.
    outcome = to_row(Record(2, ["1", *(digits for _ in range(15_000))]), head)
    assert isinstance(outcome, Row), outcome


def test_a_type_for_a_key_column_is_refused() -> None:
    """A key column's type is the key's: giving it a column type too is an error naming it."""
    with pytest.raises(SchemaError, match="'customer_id' is a key column"):
        Schema.keyed_on("customer_id", {"customer_id": "N"})


def test_without_types_the_rows_are_todays() -> None:
    """The default schema writes every cell as the string it is, the key trimmed: nothing is lost."""
    head = header("customer_id", "zip", schema=Schema.keyed_on())
    outcome = row([" 42 ", "00123"], head)
    assert (outcome.key, outcome.item_key, outcome.attributes) == (
        "42",
        {"customer_id": {"S": "42"}},
        {"zip": {"S": "00123"}},
    )


def test_column_types_naming_one_column_twice_are_refused() -> None:
    """`age` and ` age` are one column once trimmed: a mapping with both is an error, not a silent overwrite."""
    with pytest.raises(SchemaError, match="names column 'age' twice"):
        column_types({"age": "N", " age": "S"}, origin="context column_types")
