"""Header checks and row -> request mapping: pure functions, no AWS."""

from __future__ import annotations

import pytest

from ingest_engine import IngestError, Rejection
from ingest_engine.reading import Record
from ingest_engine.rules import MAX_ITEM_BYTES, Write, parse_header, to_write


def header(*columns: str):
    return parse_header(list(columns), key_column="customer_id", source="s3://b/k.csv")


def test_header_names_are_trimmed():
    """Whitespace around header names is not part of the name."""
    assert header(" customer_id ", "\tname ").columns == ("customer_id", "name")


def test_missing_key_column_lists_the_columns_found():
    """The message names the object, the missing column and what the header had."""
    with pytest.raises(IngestError) as failure:
        header("id", "name")
    assert str(failure.value).startswith("s3://b/k.csv: the header has no 'customer_id' column")
    assert "(columns found: 'id', 'name')" in str(failure.value)


def test_update_sets_every_non_empty_non_key_cell_through_placeholders():
    """Column names never appear in the expression itself: reserved words and odd characters are safe."""
    h = header("customer_id", "name", "status", "a.b #c")
    write = to_write(Record(2, ["1", "Ann", "", "x"]), h, table_name="t")
    assert isinstance(write, Write)
    assert write.params == {
        "TableName": "t",
        "Key": {"customer_id": {"S": "1"}},
        "UpdateExpression": "SET #1=:1,#3=:3",
        "ExpressionAttributeNames": {"#1": "name", "#3": "a.b #c"},
        "ExpressionAttributeValues": {":1": {"S": "Ann"}, ":3": {"S": "x"}},
    }


def test_key_only_row_is_a_put_that_cannot_overwrite():
    """A bare key becomes a put guarded by attribute_not_exists, so an existing item is never replaced."""
    write = to_write(Record(2, ["1", "", ""]), header("customer_id", "name", "age"), table_name="t")
    assert isinstance(write, Write)
    assert write.operation == "put_item"
    assert write.params["ConditionExpression"] == "attribute_not_exists(#k)"
    assert write.params["ExpressionAttributeNames"] == {"#k": "customer_id"}


def test_key_column_need_not_be_first():
    """The key is found by name wherever it stands."""
    write = to_write(Record(2, ["Ann", "7"]), header("name", "customer_id"), table_name="t")
    assert isinstance(write, Write)
    assert write.params["Key"] == {"customer_id": {"S": "7"}}


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (["", "Ann"], "the 'customer_id' cell is empty"),
        ([" \t", "Ann"], "the 'customer_id' cell is empty"),
        (["1", "Ann", "extra"], "the row has 3 fields but the header has 2 columns"),
    ],
)
def test_rows_that_cannot_be_written_are_rejected_with_their_cells(cells: list[str], reason: str):
    """A rejection keeps the line, the reason and the original cells for the report."""
    outcome = to_write(Record(9, cells), header("customer_id", "name"), table_name="t")
    assert isinstance(outcome, Rejection)
    assert (outcome.line, outcome.cells) == (9, cells)
    assert reason in outcome.reason


def test_item_size_counts_utf8_bytes_of_names_and_values():
    """DynamoDB sizes strings in UTF-8 bytes: a row of multi-byte characters hits the limit sooner."""
    h = header("customer_id", "v")
    # Exactly at the limit: key name (11) + key (1) + name "v" (1) + value bytes.
    fits = "é" * ((MAX_ITEM_BYTES - 13) // 2)
    assert isinstance(to_write(Record(2, ["1", fits]), h, table_name="t"), Write)
    too_big = fits + "é"
    rejection = to_write(Record(2, ["1", too_big]), h, table_name="t")
    assert isinstance(rejection, Rejection)
    assert "over DynamoDB's 400 KB item limit" in rejection.reason


def test_a_row_too_wide_for_one_update_expression_is_rejected():
    """DynamoDB caps an expression at 4 KB; a row filling more columns than that is rejected, not sent."""
    columns = ["customer_id", *(f"c{i}" for i in range(1000))]
    outcome = to_write(Record(2, ["1", *("v" for _ in range(1000))]), header(*columns), table_name="t")
    assert isinstance(outcome, Rejection)
    assert "update expression (4 KB)" in outcome.reason
