"""Header checks and row -> request mapping: pure functions, no AWS."""

from __future__ import annotations

import pytest

from csv_ingest_engine import IngestError, Rejection
from csv_ingest_engine.reading import Record
from csv_ingest_engine.rules import MAX_ITEM_BYTES, Header, Row, parse_header, to_row


def header(*columns: str) -> Header:
    return parse_header(list(columns), key_column="customer_id", source="s3://b/k.csv")


def test_header_names_are_trimmed() -> None:
    """Whitespace around header names is not part of the name."""
    assert header(" customer_id ", "\tname ").columns == ("customer_id", "name")


def test_missing_key_column_lists_the_columns_found() -> None:
    """The message names the object, the missing column and what the header had."""
    with pytest.raises(IngestError) as failure:
        header("id", "name")
    assert str(failure.value).startswith("s3://b/k.csv: the header has no 'customer_id' column")
    assert "(columns found: 'id', 'name')" in str(failure.value)


def test_a_row_carries_every_non_empty_non_key_cell_as_an_attribute() -> None:
    """Empty cells are left out; the key is not an attribute; the cells stay as written for a report."""
    outcome = to_row(Record(2, ["1", "Ann", "", "x"]), header("customer_id", "name", "status", "a.b #c"))
    assert outcome == Row(2, "1", {"name": "Ann", "a.b #c": "x"}, ["1", "Ann", "", "x"])


def test_a_key_only_row_has_no_attributes() -> None:
    """A bare key is still a row to write (it creates the item if missing)."""
    outcome = to_row(Record(2, ["1", "", ""]), header("customer_id", "name", "age"))
    assert isinstance(outcome, Row)
    assert outcome.attributes == {}


def test_key_column_need_not_be_first() -> None:
    """The key is found by name wherever it stands."""
    outcome = to_row(Record(2, ["Ann", "7"]), header("name", "customer_id"))
    assert isinstance(outcome, Row)
    assert (outcome.key, outcome.attributes) == ("7", {"name": "Ann"})


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (["", "Ann"], "the 'customer_id' cell is empty"),
        ([" \t", "Ann"], "the 'customer_id' cell is empty"),
        (["1", "Ann", "extra"], "the row has 3 fields but the header has 2 columns"),
    ],
)
def test_rows_that_cannot_be_written_are_rejected_with_their_cells(cells: list[str], reason: str) -> None:
    """A rejection keeps the line, the reason and the original cells for the report."""
    outcome = to_row(Record(9, cells), header("customer_id", "name"))
    assert isinstance(outcome, Rejection)
    assert (outcome.line, outcome.cells) == (9, cells)
    assert reason in outcome.reason


def test_item_size_counts_utf8_bytes_of_names_and_values() -> None:
    """DynamoDB sizes strings in UTF-8 bytes: a row of multi-byte characters hits the limit sooner."""
    h = header("customer_id", "v")
    # Exactly at the limit: key name (11) + key (1) + name "v" (1) + value bytes.
    fits = "é" * ((MAX_ITEM_BYTES - 13) // 2)
    assert isinstance(to_row(Record(2, ["1", fits]), h), Row)
    too_big = fits + "é"
    rejection = to_row(Record(2, ["1", too_big]), h)
    assert isinstance(rejection, Rejection)
    assert "over DynamoDB's 400 KB item limit" in rejection.reason


def test_a_row_too_wide_for_one_update_expression_is_rejected() -> None:
    """DynamoDB caps an expression at 4 KB; a row filling more columns than that is rejected, not sent."""
    columns = ["customer_id", *(f"c{i}" for i in range(1000))]
    outcome = to_row(Record(2, ["1", *("v" for _ in range(1000))]), header(*columns), max_attributes=431)
    assert isinstance(outcome, Rejection)
    assert "update expression (4 KB)" in outcome.reason


def test_a_column_name_over_dynamodbs_attribute_name_limit_fails_the_file() -> None:
    """DynamoDB refuses attribute names of 64 KB or more: the header fails, naming the column, before any row."""
    with pytest.raises(IngestError, match=r"column 2 \('xxxx.*has a name of 65,536 bytes"):
        header("customer_id", "x" * 65_536)


def test_a_key_column_name_over_255_bytes_fails_the_file() -> None:
    """A key attribute's name is at most 255 bytes in DynamoDB."""
    long_key = "k" * 256
    with pytest.raises(IngestError, match="key column's name is 256 bytes"):
        parse_header([long_key, "name"], key_column=long_key, source="s3://b/k.csv")
