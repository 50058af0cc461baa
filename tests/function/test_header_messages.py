"""A header that fails the file is described in a message of bounded size: at most a few columns named, each cut
short, and a first row that looks like data described by its shape, never quoted (issue 19, items 2 and 3)."""

from __future__ import annotations

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.first_row import cell_kind
from csv_ingest_engine.rules import SHOWN_COLUMNS, SHOWN_NAME_CHARS, parse_header
from csv_ingest_engine.schema import KeyAttribute, Schema

SOURCE = "s3://b/k.csv"
# A first row of data, as a file without a header row starts.
DATA_ROW = ["C-1001", "Jane Doe", "jane.doe@example.com", "078-05-1120"]


def header_failure(cells: list[str]) -> str:
    with pytest.raises(IngestError) as failure:
        parse_header(cells, source=SOURCE)
    return str(failure.value)


def test_a_header_of_200_long_names_fails_in_a_message_under_a_kilobyte() -> None:
    """200 names of 10,000 characters each (2 MB) and an empty one make a message that names 5 of them, each cut to
    40 characters."""
    names = ["customer_id", ""] + [f"column {i:03d} " + "x" * 10_000 for i in range(199)]
    message = header_failure(names)
    assert len(message.encode()) < 1024
    cut = [f"'{name[: SHOWN_NAME_CHARS - 3]}...'" for name in names[2:5]]
    assert f"(columns found: 'customer_id', '', {', '.join(cut)} and 196 more)" in message
    assert "column 003" not in message


def test_a_first_row_of_200_long_cells_fails_in_a_message_under_a_kilobyte() -> None:
    """Without the key column, 200 cells of 10,000 characters (a name is not that long) are described, not quoted."""
    message = header_failure([f"column {i:03d} " + "x" * 10_000 for i in range(200)])
    assert len(message.encode()) < 1024
    assert "(200 cells: long text, long text, long text, long text, long text and 195 more)" in message
    assert "column 000" not in message


def test_a_header_with_the_key_lists_at_most_five_columns_and_empty_positions() -> None:
    """Empty names at 100 positions name the first five positions and columns, then how many more."""
    cells = ["customer_id"] + [name for i in range(100) for name in (f"c{i}", "")] + ["last"]
    message = header_failure(cells)
    assert "empty column names at position 3, 5, 7, 9, 11 and 95 more" in message
    assert "(columns found: 'customer_id', 'c0', '', 'c1', '' and 197 more)" in message


def test_repeated_names_are_listed_five_at_most_and_cut() -> None:
    """A header that repeats 50 long names names five of them, each cut to SHOWN_NAME_CHARS characters."""
    names = [f"name {i:02d} " + "y" * 500 for i in range(50)]
    message = header_failure(["customer_id", *names, *names])
    assert message.count("'name ") == SHOWN_COLUMNS
    assert f"'{('name 00 ' + 'y' * 500)[: SHOWN_NAME_CHARS - 3]}...'" in message
    assert "and 45 more; every column needs a unique name" in message


def test_a_file_without_a_header_row_is_described_by_its_first_rows_shape() -> None:
    """The first row of data is not quoted: its cells are counted and said to look like an ID, an address..."""
    message = header_failure(DATA_ROW)
    assert message == (
        f"{SOURCE}: the header has no 'customer_id' column: the first row looks like data, not a header (4 cells: an "
        "ID, text, an e-mail address and an ID). If the file has no header row, add one as its first line, naming "
        "every column ('customer_id' among them), and upload the file again."
    )


def test_a_data_row_read_with_the_wrong_delimiter_is_described_and_the_delimiter_named() -> None:
    """A semicolon-separated row of data read as one comma-separated cell: its semicolon cells are described, the
    delimiter hint stays, and no cell is quoted."""
    message = header_failure([";".join([*DATA_ROW, "2024-05-01"])])
    assert "not a header (5 cells: an ID, text, an e-mail address, an ID and a date)" in message
    assert "The header looks separated by semicolons (;), not commas (,)" in message
    assert not any(cell in message for cell in ["Jane Doe", "jane.doe", "1001", "1120", "2024"])


def test_a_long_data_row_is_described_five_cells_at_most() -> None:
    """A first row of 30 cells describes five of them and counts the rest."""
    message = header_failure([f"{1000 + i}" for i in range(30)])
    assert "(30 cells: a number, a number, a number, a number, a number and 25 more)" in message


@pytest.mark.parametrize(
    ("cell", "kind"),
    [
        ("jane.doe@example.com", "an e-mail address"),
        ("078-05-1120", "an ID"),
        ("C-1001", "an ID"),
        ("+1 555 0100", "an ID"),
        ("2024-05-01", "a date"),
        ("01/05/2024 10:30", "a date"),
        ("42.5", "a number"),
        ("Jane Doe", None),
        ("customer_id", None),
        ("address_2", None),
        ("2023_revenue", None),
    ],
)
def test_cells_that_look_like_values_are_told_from_names(cell: str, kind: str | None) -> None:
    """IDs, dates, numbers and e-mail addresses look like values; names (digits and all) do not."""
    assert cell_kind(cell) == kind


@pytest.mark.parametrize("cell", ["x@" + ".a" * 500_000 + "@", "1@" * 500_000, "a" * 1024 * 1024])
def test_a_cell_as_long_as_the_reader_allows_is_long_text(cell: str) -> None:
    """A 1 MiB cell (the field limit) is judged by its length first, in one pass (an e-mail pattern that backtracked
    would take hours on a cell of dots and @s)."""
    assert cell_kind(cell) == "long text"


@pytest.mark.parametrize(
    "cells",
    [["name", "age", "date_of_birth", "favourite_colour"], ["Jane Doe", "London", "Engineer", "hunter2"]],
    ids=["names", "a row of text"],
)
def test_a_first_row_of_words_without_the_key_column_is_counted_not_quoted(cells: list[str]) -> None:
    """Words could be column names or a person's name and city: without the key column (or one like it) to show
    that the row is a header, its cells are counted, never quoted."""
    message = header_failure(cells)
    assert "among its 4 columns (not quoted here, in case the first row is data rather than a header)" in message
    assert not any(cell in message for cell in cells)


def test_a_header_with_another_key_column_lists_its_columns() -> None:
    """A header with the partition key but not the sort key is surely a header: its columns are listed."""
    with pytest.raises(IngestError) as failure:
        parse_header(
            ["customer_id", "name"],
            schema=Schema(KeyAttribute("customer_id"), KeyAttribute("order_date")),
            source="s3://b/k.csv",
        )
    assert "the header has no 'order_date' column (columns found: 'customer_id', 'name')" in str(failure.value)
