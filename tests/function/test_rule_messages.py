"""The words a user reads when a header lacks the key column or a row is rejected: whole messages, at the limits
that change them (one column, a 40-character name, the most cells a row may have) and one past. Pure, no AWS.

Schemas and headers are built inside each test, never at import: mutation testing (scripts/mutation.sh) imports
this module once, before any mutant is switched on."""

from __future__ import annotations

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.reading import Record
from csv_ingest_engine.rules import Header, Rejection, Row, parse_header, to_row
from csv_ingest_engine.schema import KeyAttribute, Schema

SOURCE = "s3://b/k.csv"
LINE = 7
NOT_QUOTED = "not quoted here, in case the first row is data rather than a header"
ADD_THE_KEY = "Add a 'customer_id' column and upload the file again."


def header_failure(cells: list[str], *, key_column: str = "customer_id", delimiter: str = ",") -> str:
    with pytest.raises(IngestError) as failure:
        parse_header(cells, key_column=key_column, source=SOURCE, delimiter=delimiter)
    return str(failure.value)


def rejection(cells: list[str], head: Header) -> Rejection:
    result = to_row(Record(LINE, cells), head)
    assert isinstance(result, Rejection), result
    assert (result.line, result.cells) == (LINE, cells)
    return result


# -- a header without the key column ----------------------------------------------------------------------------------


def test_a_one_column_header_without_the_key_counts_one_column() -> None:
    """A lone name that could be a header or data is counted, in the singular, and not quoted."""
    assert header_failure(["name"]) == (
        f"{SOURCE}: the header has no 'customer_id' column among its 1 column ({NOT_QUOTED}). {ADD_THE_KEY}"
    )


def test_a_two_column_header_without_the_key_counts_its_columns() -> None:
    """Two names are counted in the plural, and not quoted."""
    assert header_failure(["name", "city"]) == (
        f"{SOURCE}: the header has no 'customer_id' column among its 2 columns ({NOT_QUOTED}). {ADD_THE_KEY}"
    )


def test_another_delimiter_inside_one_of_several_columns_gives_no_delimiter_hint() -> None:
    """A semicolon in the first of two columns is part of a name: the row was split, so its delimiter is right."""
    assert header_failure(["first;name", "city"]) == (
        f"{SOURCE}: the header has no 'customer_id' column among its 2 columns ({NOT_QUOTED}). {ADD_THE_KEY}"
    )


def test_a_comma_separated_header_read_with_semicolons_names_the_comma_and_nothing_else_to_do() -> None:
    """Read with a semicolon, a comma-separated header is one cell holding the key column: the fix is the delimiter
    alone (no advice to save the file as comma-separated: it already is)."""
    assert header_failure(["customer_id,name"], delimiter=";") == (
        f"{SOURCE}: the header has no 'customer_id' column (columns found: 'customer_id,name'). The header looks "
        "separated by commas (,), not semicolons (;); read it with `csv-ingest --delimiter ,` (deployed: the stack's "
        "context `csv_delimiter=,`)."
    )


def test_a_semicolon_separated_header_read_with_commas_also_suggests_saving_it_comma_separated() -> None:
    """Read with the default comma, a semicolon-separated header can be fixed either way: both are named."""
    assert header_failure(["customer_id;name"]) == (
        f"{SOURCE}: the header has no 'customer_id' column (columns found: 'customer_id;name'). The header looks "
        "separated by semicolons (;), not commas (,); read it with `csv-ingest --delimiter ';'` (deployed: the "
        "stack's context `csv_delimiter=;`), or save the file as comma-separated."
    )


def test_a_first_row_of_data_is_described_and_the_header_to_add_named() -> None:
    """A file without a header row: its first row is described by its shape, and the key column is named."""
    assert header_failure(["C-1001", "Jane Doe", "2024-05-01"]) == (
        f"{SOURCE}: the header has no 'customer_id' column: the first row looks like data, not a header (3 cells: an "
        "ID, text and a date). If the file has no header row, add one as its first line, naming every column "
        "('customer_id' among them), and upload the file again."
    )


def test_a_key_column_without_letters_or_digits_nearly_matches_no_column() -> None:
    """Compared loosely, `#` is empty: a column `-`, also empty so, is not taken for a near match of it."""
    assert header_failure(["-", "name"], key_column="#") == (
        f"{SOURCE}: the header has no '#' column among its 2 columns ({NOT_QUOTED}). Add a '#' column and upload the "
        "file again."
    )


def test_a_near_match_of_40_characters_is_quoted_whole_with_the_commands_to_use_it() -> None:
    """A name of exactly SHOWN_NAME_CHARS characters is shown uncut, so the commands naming it can be copied."""
    name = "Customer" + "_" * 30 + "ID"
    assert len(name) == 40
    assert header_failure([name, "name"]) == (
        f"{SOURCE}: the header has no 'customer_id' column (columns found: '{name}', 'name'). Column '{name}' nearly "
        f"matches: rename it to 'customer_id' and upload the file again, or, to make it the table's key column, "
        f"deploy with `-c key_column={name}` (`csv-ingest load --key-column {name}` for a local load)."
    )


def test_a_near_match_of_41_characters_is_cut_and_only_renaming_suggested() -> None:
    """One character longer, the name is shown as its first 37 characters and "...": no command can quote it."""
    name = "Customer" + "_" * 31 + "ID"
    shown = "Customer" + "_" * 29 + "..."
    assert (len(name), len(shown)) == (41, 40)
    assert header_failure([name, "name"]) == (
        f"{SOURCE}: the header has no 'customer_id' column (columns found: '{shown}', 'name'). Column '{shown}' nearly "
        "matches: rename it to 'customer_id' and upload the file again."
    )


# -- rows ----------------------------------------------------------------------------------------------------------


def test_a_row_of_exactly_the_most_cells_is_written() -> None:
    """`max_cells` cells, the ones past the named columns empty (a spreadsheet's padding), make a row."""
    head = parse_header(["customer_id", "name"], source=SOURCE, max_cells=4)
    assert to_row(Record(LINE, ["C1", "Jane", "", ""]), head) == Row(
        LINE, "C1", {"customer_id": {"S": "C1"}}, {"name": {"S": "Jane"}}, ["C1", "Jane", "", ""]
    )


def test_a_row_of_one_cell_more_than_the_most_is_rejected_saying_how_many() -> None:
    """One cell past `max_cells`, empty or not, rejects the row with both counts and the setting to change."""
    head = parse_header(["customer_id", "name"], source=SOURCE, max_cells=4)
    result = rejection(["C1", "Jane", "", "", ""], head)
    assert (result.key, result.reason) == (
        "C1",
        "the row has 5 cells, more than the 4 a row may have (context csv_max_cells, csv-ingest --max-cells); remove "
        "the empty cells at its end (a spreadsheet exported with empty columns?), or quote the cells that contain the "
        "delimiter",
    )


def test_a_typed_cell_that_is_not_its_type_is_logged_without_its_value() -> None:
    """The reason quotes the cell for the rejects report; the log's reason says the same without the cell."""
    head = parse_header(["customer_id", "age"], schema=Schema.keyed_on("customer_id", {"age": "N"}), source=SOURCE)
    result = rejection(["C1", "3O"], head)
    assert (result.key, result.reason, result.loggable_reason) == (
        "C1",
        "column 'age' (N): '3O' is not a number",
        "column 'age' (N): the value is not a number",
    )


def test_a_key_cell_that_is_not_its_type_is_logged_without_its_value() -> None:
    """A number key that is not a number: the reason quotes the cell, the log's reason does not."""
    head = parse_header(["customer_id", "name"], schema=Schema(KeyAttribute("customer_id", "N")), source=SOURCE)
    result = rejection(["C-1", "Jane"], head)
    assert (result.key, result.reason, result.loggable_reason) == (
        "C-1",
        "column 'customer_id' (N): 'C-1' is not a number",
        "column 'customer_id' (N): the value is not a number",
    )


def test_a_column_name_is_shown_with_its_accents_and_its_invisible_characters_escaped() -> None:
    """Visible letters outside ASCII are shown as they are; a zero-width space is shown as `\\u200b`."""
    name = "âge\u200b"
    head = parse_header(["customer_id", name], schema=Schema.keyed_on("customer_id", {name: "N"}), source=SOURCE)
    assert rejection(["C1", "x"], head).reason == "column 'âge\\u200b' (N): 'x' is not a number"
