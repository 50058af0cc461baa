"""Header checks and row -> request mapping: pure functions, no AWS."""

from __future__ import annotations

import unicodedata

import pytest

from csv_ingest_engine import IngestError, Rejection
from csv_ingest_engine.reading import Record
from csv_ingest_engine.rules import MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES, Header, Row, parse_header, to_row


def header(*columns: str) -> Header:
    return parse_header(list(columns), key_column="customer_id", source="s3://b/k.csv")


def test_header_names_are_trimmed() -> None:
    """Whitespace around header names is not part of the name."""
    assert header(" customer_id ", "\tname ").columns == ("customer_id", "name")


def test_missing_key_column_says_how_many_columns_without_quoting_them() -> None:
    """The message names the object and the missing column; the header's cells are counted, not quoted: without a
    header row they would be a row of data (`Jane Doe,London`), which must not reach the logs."""
    with pytest.raises(IngestError) as failure:
        header("id", "name")
    assert str(failure.value) == (
        "s3://b/k.csv: the header has no 'customer_id' column among its 2 columns (not quoted here, in case the first "
        "row is data rather than a header). Add a 'customer_id' column and upload the file again."
    )


def test_a_header_with_a_near_match_of_the_key_column_lists_its_columns() -> None:
    """A column that is the key column but for case or separators makes the row a header: its columns are listed."""
    with pytest.raises(IngestError) as failure:
        header("CustomerID", "name")
    assert "(columns found: 'CustomerID', 'name'). Column 'CustomerID' nearly matches" in str(failure.value)


def test_a_semicolon_header_read_with_commas_names_the_semicolon_and_the_option_that_reads_it() -> None:
    """The one column found is `customer_id;name;age`: the message says semicolons, and how to read them; the key
    column is in it, so it does not ask for one."""
    with pytest.raises(IngestError) as failure:
        header("customer_id;name;age")
    assert str(failure.value) == (
        "s3://b/k.csv: the header has no 'customer_id' column (columns found: 'customer_id;name;age'). The header "
        "looks separated by semicolons (;), not commas (,); read it with `csv-ingest --delimiter ';'` (deployed: the "
        "stack's context `csv_delimiter=;`), or save the file as comma-separated."
    )


@pytest.mark.parametrize(
    ("name", "separated", "option"),
    [
        ("customer_id\tname", "tabs", "tab"),
        ("id|name", "pipe characters (|)", "'|'"),
        ("a;b|c;d", "semicolons (;)", "';'"),
    ],
)
def test_another_delimiter_is_named_with_its_option(name: str, separated: str, option: str) -> None:
    """Tabs read with `--delimiter tab`, pipes with `'|'` (quoted for a shell); the most frequent character wins."""
    with pytest.raises(IngestError) as failure:
        header(name)
    assert f"separated by {separated}, not commas (,); read it with `csv-ingest --delimiter {option}`" in str(
        failure.value
    )


def test_a_row_carries_every_non_empty_non_key_cell_as_an_attribute() -> None:
    """Empty cells are left out; the key is not an attribute; the cells stay as written for a report."""
    outcome = to_row(Record(2, ["1", "Ann", "", "x"]), header("customer_id", "name", "status", "a.b #c"))
    assert outcome == Row(
        2, "1", {"customer_id": {"S": "1"}}, {"name": {"S": "Ann"}, "a.b #c": {"S": "x"}}, ["1", "Ann", "", "x"]
    )


def test_a_key_only_row_has_no_attributes() -> None:
    """A bare key is still a row to write (it creates the item if missing)."""
    outcome = to_row(Record(2, ["1", "", ""]), header("customer_id", "name", "age"))
    assert isinstance(outcome, Row)
    assert outcome.attributes == {}


def test_key_column_need_not_be_first() -> None:
    """The key is found by name wherever it stands."""
    outcome = to_row(Record(2, ["Ann", "7"]), header("name", "customer_id"))
    assert isinstance(outcome, Row)
    assert (outcome.key, outcome.attributes) == ("7", {"name": {"S": "Ann"}})


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
    with pytest.raises(IngestError, match=r"column 2 has a name of 65,536 bytes"):
        header("customer_id", "x" * 65_536)


def test_a_key_column_name_over_255_bytes_fails_the_file() -> None:
    """A key attribute's name is at most 255 bytes in DynamoDB."""
    long_key = "k" * 256
    with pytest.raises(IngestError, match="key column's name is 256 bytes"):
        parse_header([long_key, "name"], key_column=long_key, source="s3://b/k.csv")


def missing_key_message(*columns: str) -> str:
    with pytest.raises(IngestError) as failure:
        header(*columns)
    return str(failure.value)


# Keys (issue 10, item 3)


@pytest.mark.parametrize("cell", ["42", " 42", "42 ", "\t42", " 42\t ", "\u00a042"])
def test_surrounding_whitespace_is_not_part_of_the_key(cell: str) -> None:
    """` 42`, `42 ` and `\t42` are the key `42`: one item, not four."""
    outcome = to_row(Record(2, [cell, "Ann"]), header("customer_id", "name"))
    assert isinstance(outcome, Row)
    assert outcome.key == "42"


@pytest.mark.parametrize(
    "cell",
    ["\u202f42", "42\u2003", "\u300042\u3000", "\x0b42", "42\n", "\u00a0\u200942\x85", "\ufeff 42 \ufeff"],
    ids=["narrow-nbsp", "em-space", "ideographic-space", "vertical-tab", "line-feed", "mixed", "bom-and-space"],
)
def test_any_unicode_whitespace_at_either_end_is_not_part_of_the_key(cell: str) -> None:
    """The README's list: every Unicode whitespace character at the ends goes, not only spaces, tabs and `\xa0`."""
    outcome = to_row(Record(2, [cell, "Ann"]), header("customer_id", "name"))
    assert isinstance(outcome, Row)
    assert outcome.key == "42"


@pytest.mark.parametrize(("cell", "key"), [("4 2", "4 2"), ("4\u3000\t2", "4\u3000\t2"), ("4\ufeff2", "42")])
def test_whitespace_inside_a_key_stays_but_a_byte_order_mark_goes_wherever_it_is(cell: str, key: str) -> None:
    """`4 2` is not `42`; a byte-order mark is never part of a key, wherever in the cell it is."""
    outcome = to_row(Record(2, [cell, "Ann"]), header("customer_id", "name"))
    assert isinstance(outcome, Row)
    assert outcome.key == key


def test_a_zero_width_space_is_part_of_the_key() -> None:
    """`\u200b` is not whitespace (Unicode's own list): `\u200b42` is another item than `42`, as the README says."""
    outcome = to_row(Record(2, ["\u200b42", "Ann"]), header("customer_id", "name"))
    assert isinstance(outcome, Row)
    assert outcome.key == "\u200b42"


def test_a_trimmed_key_keeps_its_cells_as_written() -> None:
    """Only the key is cleaned: the row's cells, for a rejects report, stay exactly as in the file."""
    outcome = to_row(Record(2, [" 42 ", " Ann "]), header("customer_id", "name"))
    assert isinstance(outcome, Row)
    assert (outcome.cells, outcome.attributes) == ([" 42 ", " Ann "], {"name": {"S": " Ann "}})


def test_keys_are_normalised_to_nfc() -> None:
    """`café` typed on a Mac (NFD) and on Windows (NFC) is one key: DynamoDB compares key bytes."""
    nfd = unicodedata.normalize("NFD", "café")
    outcome = to_row(Record(2, [nfd, "Ann"]), header("customer_id", "name"))
    assert isinstance(outcome, Row)
    assert outcome.key == "caf\u00e9"


def test_values_other_than_the_key_are_not_normalised() -> None:
    """Non-key cells are data: an NFD value is written as it is."""
    nfd = unicodedata.normalize("NFD", "café")
    outcome = to_row(Record(2, ["1", nfd]), header("customer_id", "name"))
    assert isinstance(outcome, Row)
    assert outcome.attributes == {"name": {"S": nfd}}


def test_header_names_are_normalised_to_nfc() -> None:
    """A column typed in NFD is the same attribute as one typed in NFC."""
    assert header("customer_id", unicodedata.normalize("NFD", "café")).columns == ("customer_id", "caf\u00e9")


# Key size (issue 10, item 5)


def test_a_key_of_2048_utf8_bytes_is_written() -> None:
    """DynamoDB's partition key limit is 2,048 bytes: a key exactly that long is fine."""
    key = "é" * (MAX_PARTITION_KEY_BYTES // 2)
    assert isinstance(to_row(Record(2, [key]), header("customer_id")), Row)


def test_a_key_over_2048_utf8_bytes_is_rejected() -> None:
    """The limit is in UTF-8 bytes, not characters: 1,025 characters can be 2,049 bytes."""
    key = "é" * (MAX_PARTITION_KEY_BYTES // 2) + "x"
    outcome = to_row(Record(2, [key, "Ann"]), header("customer_id", "name"))
    assert isinstance(outcome, Rejection)
    assert outcome.reason == (
        "the key is 2,049 bytes long in UTF-8; DynamoDB allows at most 2,048 bytes for a partition key, so shorten it"
    )


# Excel's empty columns (issue 10, item 6)


def test_trailing_nameless_header_columns_are_dropped() -> None:
    """`customer_id,name,,` is a two-column header: Excel pads rows to its widest formatted column."""
    assert header("customer_id", "name", "", " ").columns == ("customer_id", "name")


def test_empty_cells_under_nameless_columns_are_ignored() -> None:
    """A row padded with empty cells to the header's width is written as if they were not there."""
    outcome = to_row(Record(2, ["1", "Ann", "", ""]), header("customer_id", "name", "", ""))
    assert outcome == Row(2, "1", {"customer_id": {"S": "1"}}, {"name": {"S": "Ann"}}, ["1", "Ann", "", ""])


def test_empty_cells_past_the_header_are_ignored() -> None:
    """Trailing empty cells beyond the header carry nothing, so they do not make a row "too wide"."""
    outcome = to_row(Record(2, ["1", "Ann", ""]), header("customer_id", "name"))
    assert isinstance(outcome, Row)


def test_a_value_under_a_nameless_column_rejects_the_row() -> None:
    """The value has no column name to be stored under: the row is rejected, saying which column."""
    outcome = to_row(Record(5, ["1", "Ann", "", "note"]), header("customer_id", "name", "", ""))
    assert isinstance(outcome, Rejection)
    assert (outcome.key, outcome.reason) == (
        "1",
        "the row has a value in column 4, which has no name in the header; name the column, or remove the value",
    )


def test_a_nameless_column_between_named_ones_fails_the_file() -> None:
    """Only trailing columns may be nameless: one in the middle is a forgotten name."""
    with pytest.raises(IngestError, match="empty column names at position 2"):
        header("customer_id", "", "name")


# Concatenated exports (issue 10, item 7)


def test_a_row_equal_to_the_header_after_its_bom_is_rejected_as_a_repeated_header() -> None:
    """Two exports joined with `cat`: the second header (with its BOM) is not an item."""
    outcome = to_row(Record(4, ["\ufeffcustomer_id", "name"]), header("customer_id", "name"))
    assert isinstance(outcome, Rejection)
    assert outcome.reason.startswith("repeated header row")


def test_a_header_row_with_other_columns_is_rejected() -> None:
    """A second header that differs from the first would misname every row after it: it is rejected, saying so."""
    outcome = to_row(Record(4, ["customer_id", "email"]), header("customer_id", "name"))
    assert isinstance(outcome, Rejection)
    assert "looks like the header of another file" in outcome.reason


def test_a_bom_inside_a_key_cell_is_not_part_of_the_key() -> None:
    """A byte-order mark is never written into a key."""
    outcome = to_row(Record(2, ["\ufeff42", "Ann"]), header("customer_id", "name"))
    assert isinstance(outcome, Row)
    assert outcome.key == "42"


def test_a_bom_in_a_header_name_is_not_part_of_the_name() -> None:
    """A header row whose first cell kept a second BOM still has its key column."""
    assert header("\ufeffcustomer_id", "name").columns == ("customer_id", "name")


def test_header_names_lose_byte_order_marks_anywhere_and_unicode_whitespace_at_the_ends() -> None:
    """As keys do: `\u3000name\ufeff` is `name`; a space inside a name stays."""
    assert header("customer_id", "\u3000na\ufeffme\u202f", "first name").columns == (
        "customer_id",
        "name",
        "first name",
    )


# Near matches for the key column (issue 10, item 9)


@pytest.mark.parametrize("near", ["Customer_ID", "customer id", "CustomerId", "customer-id"])
def test_a_near_match_for_the_key_column_is_named_with_how_to_use_it(near: str) -> None:
    """Case, spaces, separators: the message names the column and both ways out (rename, or key on it)."""
    message = missing_key_message(near, "name")
    assert f"Column '{near}' nearly matches: rename it to 'customer_id'" in message
    assert "-c " in message
    assert "--key-column " in message


def test_a_near_match_with_a_space_is_quoted_for_the_shell() -> None:
    """The suggested commands can be pasted into a shell as they are."""
    message = missing_key_message("customer id", "name")
    assert "deploy with `-c 'key_column=customer id'`" in message
    assert "`csv-ingest load --key-column 'customer id'`" in message


def test_a_zero_width_character_in_a_column_name_is_shown_escaped() -> None:
    """An invisible character is shown as `\\u200b`, and the hint says to retype the name."""
    message = missing_key_message("customer\u200b_id", "name")
    assert "\u200b" not in message
    assert "(columns found: 'customer\\u200b_id', 'name')" in message
    assert "Column 'customer\\u200b_id' nearly matches: its name has invisible characters in it" in message


def test_a_column_that_only_shares_a_prefix_is_not_a_near_match() -> None:
    """`customer_name` is another column, not a misspelt key column."""
    assert "nearly matches" not in missing_key_message("customer_name", "name")
