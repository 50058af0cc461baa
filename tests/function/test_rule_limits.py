"""The rules at DynamoDB's exact limits and one past them, on the typed path as on the default one; and the rules a
refactor could break without another test noticing (each found by mutation testing: see scripts/mutation.sh).

Pure, no AWS: what a row becomes (the item, or the rejection's reason), as the writer and the report get it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.ordering import STAMP_BYTES
from csv_ingest_engine.partitioning import MIN_CHUNK_BYTES, ChunkedPartitions, read_chunk
from csv_ingest_engine.reading import FIELD_SIZE_LIMIT, Record
from csv_ingest_engine.rules import (
    MAX_ITEM_BYTES,
    Header,
    Rejection,
    Row,
    parse_header,
    to_row,
)
from csv_ingest_engine.schema import KeyAttribute, Schema
from csv_ingest_engine.values import ValueProblem, canonical_number, to_attribute

SOURCE = "s3://b/k.csv"
OVER_400_KB = "over DynamoDB's 400 KB item limit"


def header(*columns: str, schema: Schema | None = None, order_attribute: str | None = None) -> Header:
    return parse_header(list(columns), schema=schema, source=SOURCE, order_attribute=order_attribute)


def outcome(cells: list[str], head: Header, *, max_attributes: int | None = None) -> Row | Rejection:
    return to_row(Record(2, cells), head, max_attributes=max_attributes)


def written(cells: list[str], head: Header, *, max_attributes: int | None = None) -> Row:
    result = outcome(cells, head, max_attributes=max_attributes)
    assert isinstance(result, Row), result
    return result


def rejected(cells: list[str], head: Header, *, max_attributes: int | None = None) -> Rejection:
    result = outcome(cells, head, max_attributes=max_attributes)
    assert isinstance(result, Rejection), result
    return result


# The same file read two ways: the default path (a string key, strings as written) and the typed one (a type on a
# column the rows leave empty, so that both write the same item).
def default_schema() -> Schema:
    return Schema.keyed_on("customer_id")


def typed_schema() -> Schema:
    return Schema.keyed_on("customer_id", {"age": "N"})


PATHS = pytest.mark.parametrize("schema", [default_schema, typed_schema], ids=["default", "typed"])


# -- the item size: 400 KB, exactly -----------------------------------------------------------------------------------


@PATHS
@pytest.mark.parametrize("order_attribute", [None, "_csv_ingest_order"], ids=["unstamped", "stamped"])
def test_an_item_of_exactly_400_kb_is_written_and_one_byte_more_is_rejected(
    schema: Callable[[], Schema], order_attribute: str | None
) -> None:
    head = header("customer_id", "notes", "age", schema=schema(), order_attribute=order_attribute)
    assert head.typed is (schema is typed_schema)
    stamp = len(order_attribute) + STAMP_BYTES if order_attribute else 0
    # The key's name and value, the column's name and value, and the stamp: 409,600 bytes.
    fits = MAX_ITEM_BYTES - stamp - len("customer_id") - len("C-1") - len("notes")

    assert written(["C-1", "x" * fits, ""], head).attributes == {"notes": {"S": "x" * fits}}
    reason = rejected(["C-1", "x" * (fits + 1), ""], head).reason
    assert OVER_400_KB in reason
    assert f"{MAX_ITEM_BYTES + 1:,} bytes" in reason


def test_a_typed_value_counts_toward_400_kb_as_dynamodb_sizes_it() -> None:
    """A number's size is DynamoDB's (about one byte per two digits), not its text's: the row at the limit with a
    number is written, one byte more is rejected."""
    head = header("customer_id", "notes", "age", schema=typed_schema())
    # "12345678901234567890" as a number: 20 significant digits, 10 bytes + 1.
    number_size = 11
    fits = MAX_ITEM_BYTES - len("customer_id") - len("C-1") - len("notes") - len("age") - number_size
    assert written(["C-1", "x" * fits, "12345678901234567890"], head).attributes["age"] == {"N": "12345678901234567890"}
    assert OVER_400_KB in rejected(["C-1", "x" * (fits + 1), "12345678901234567890"], head).reason


# -- the attributes one update expression can set ---------------------------------------------------------------------


@PATHS
def test_a_row_filling_exactly_the_attribute_cap_is_written_and_one_more_is_rejected(
    schema: Callable[[], Schema],
) -> None:
    head = header("customer_id", "a", "b", "c", "age", schema=schema())
    assert len(written(["C-1", "1", "2", "3", ""], head, max_attributes=3).attributes) == 3
    reason = rejected(["C-1", "1", "2", "3", "4"], head, max_attributes=3).reason
    assert reason == "the row fills 4 columns, more than one DynamoDB update expression (4 KB) can set (3)"


def test_typed_rows_obey_the_attribute_cap_too() -> None:
    head = header("customer_id", "age", "score", schema=Schema.keyed_on("customer_id", {"age": "N", "score": "N"}))
    assert len(written(["C-1", "1", "2"], head, max_attributes=2).attributes) == 2
    assert "fills 2 columns" in rejected(["C-1", "1", "2"], head, max_attributes=1).reason


# -- every column of a typed row --------------------------------------------------------------------------------------


def test_string_columns_before_a_typed_one_are_all_written() -> None:
    """On the typed path, each string cell is set and the next columns still are (strings first, typed last)."""
    head = header("customer_id", "name", "city", "age", schema=typed_schema())
    assert written(["C-1", "Jane", "Paris", "42"], head).attributes == {
        "name": {"S": "Jane"},
        "city": {"S": "Paris"},
        "age": {"N": "42"},
    }


# -- headers ----------------------------------------------------------------------------------------------------------


@PATHS
def test_one_trailing_nameless_column_is_dropped_and_the_named_ones_kept(schema: Callable[[], Schema]) -> None:
    head = header("customer_id", "name", "", schema=schema())
    assert head.columns == ("customer_id", "name")
    assert written(["C-1", "Jane", ""], head).attributes == {"name": {"S": "Jane"}}


@pytest.mark.parametrize(
    "schema",
    [lambda name: Schema.keyed_on(name), lambda name: Schema(KeyAttribute(name, "N"), KeyAttribute("order_date"))],
    ids=["default", "typed"],
)
def test_a_key_column_name_of_255_bytes_is_allowed_and_256_refused(schema: Callable[[str], Schema]) -> None:
    name = "k" * 255
    head = header(name, "order_date", schema=schema(name))
    assert head.key_column == name
    with pytest.raises(IngestError, match="the key column's name is 256 bytes long; DynamoDB allows at most 255"):
        header("k" * 256, "order_date", schema=schema("k" * 256))


@PATHS
def test_a_column_name_of_65535_bytes_is_allowed_and_65536_refused(schema: Callable[[], Schema]) -> None:
    longest = "é" * 32767 + "x"  # 65,535 UTF-8 bytes
    head = header("customer_id", longest, "age", schema=schema())
    assert written(["C-1", "v", ""], head).attributes == {longest: {"S": "v"}}
    with pytest.raises(IngestError, match="has a name of 65,536 bytes; DynamoDB allows attribute names under 64 KB"):
        header("customer_id", longest + "x", "age", schema=schema())


# -- short rows -------------------------------------------------------------------------------------------------------


@PATHS
def test_a_row_shorter_than_the_header_writes_the_cells_it_has(schema: Callable[[], Schema]) -> None:
    head = header("customer_id", "name", "age", schema=schema())
    assert written(["C-1"], head).attributes == {}
    assert written(["C-1", "Jane"], head).attributes == {"name": {"S": "Jane"}}


@PATHS
def test_a_row_that_ends_before_the_key_column_is_rejected_for_its_empty_key(schema: Callable[[], Schema]) -> None:
    head = header("name", "age", "customer_id", schema=schema())
    result = rejected(["Jane"], head)
    assert (result.key, result.reason) == (None, "the 'customer_id' cell is empty")


def test_a_row_that_ends_before_the_sort_key_is_rejected_for_it() -> None:
    head = header("customer_id", "order_date", schema=Schema(KeyAttribute("customer_id"), KeyAttribute("order_date")))
    result = rejected(["C-1"], head)
    assert (result.key, result.reason) == ("C-1", "the 'order_date' cell is empty")


# -- key sizes --------------------------------------------------------------------------------------------------------


@PATHS
def test_a_partition_key_of_2048_bytes_is_written_and_2049_rejected(schema: Callable[[], Schema]) -> None:
    head = header("customer_id", "age", schema=schema())
    assert written(["k" * 2048], head).item_key == {"customer_id": {"S": "k" * 2048}}
    reason = rejected(["k" * 2049], head).reason
    assert reason.startswith(
        "the key is 2,049 bytes long in UTF-8; DynamoDB allows at most 2,048 bytes for a partition key"
    )


def test_with_a_sort_key_the_partition_key_may_still_be_2048_bytes_and_the_sort_key_1024() -> None:
    head = header("customer_id", "order_date", schema=Schema(KeyAttribute("customer_id"), KeyAttribute("order_date")))
    assert written(["k" * 2048, "d" * 1024], head).item_key == {
        "customer_id": {"S": "k" * 2048},
        "order_date": {"S": "d" * 1024},
    }
    assert "at most 2,048 bytes for a partition key" in rejected(["k" * 2049, "d"], head).reason
    assert "at most 1,024 bytes for a sort key" in rejected(["k", "d" * 1025], head).reason


# -- a header again, in the data --------------------------------------------------------------------------------------


def test_only_the_partition_key_cell_marks_a_row_as_a_header_again() -> None:
    head = header("customer_id", "order_date", schema=Schema(KeyAttribute("customer_id"), KeyAttribute("order_date")))
    assert "repeated header row" in rejected(["customer_id", "order_date"], head).reason
    assert "looks like the header of another file" in rejected(["customer_id", "2026-01-01"], head).reason
    # A sort key whose value happens to be its column's name is data.
    assert written(["C-1", "order_date"], head).item_key == {
        "customer_id": {"S": "C-1"},
        "order_date": {"S": "order_date"},
    }


# -- numbers as keys --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1.5", "1.5"),
        ("15", "15"),
        ("0.15", "0.15"),
        ("150", "150"),
        ("1.50", "1.5"),
        ("-12.345", "-12.345"),
        ("123.4", "123.4"),
        ("1.5e1", "15"),
    ],
)
def test_a_number_has_one_spelling_per_value(text: str, canonical: str) -> None:
    assert canonical_number(text) == canonical


def test_number_keys_that_differ_only_by_the_point_are_two_items() -> None:
    head = header("id", schema=Schema(KeyAttribute("id", "N")))
    assert written(["1.5"], head).key != written(["15"], head).key
    assert written(["1.5"], head).key == written(["01.50"], head).key


# -- JSON nesting -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("opening", "closing"), [('{"a": ', "}"), ("[", "]")], ids=["objects", "arrays"])
def test_31_json_objects_or_arrays_inside_one_another_are_allowed_and_32_refused(opening: str, closing: str) -> None:
    assert to_attribute(opening * 31 + "1" + closing * 31, "JSON")
    with pytest.raises(ValueProblem, match="the JSON is nested 33 levels deep; DynamoDB allows at most 32"):
        to_attribute(opening * 32 + "1" + closing * 32, "JSON")


# -- partition chunks -------------------------------------------------------------------------------------------------


def test_a_partition_chunk_is_handed_on_as_soon_as_it_reaches_the_chunk_size() -> None:
    head = header("customer_id", "name")
    emitted: list[tuple[int, int, bytes]] = []
    chunks = ChunkedPartitions(
        head, ["customer_id", "name"], 1, lambda *chunk: emitted.append(chunk), budget_bytes=MIN_CHUNK_BYTES
    )
    header_bytes = len(b"customer_id,name\r\n")
    row_overhead = len(b"2,C-1,\r\n")
    name = "x" * (MIN_CHUNK_BYTES - header_bytes - row_overhead)

    chunks.add_all([Record(2, ["C-1", name])])

    assert [(index, chunk, len(data)) for index, chunk, data in emitted] == [(0, 0, MIN_CHUNK_BYTES)]


def test_a_chunk_holds_a_cell_as_large_as_the_reader_allows() -> None:
    text = io.StringIO()
    csv.writer(text).writerows([["customer_id", "notes"], [2, "C-1", "x" * FIELD_SIZE_LIMIT]])

    cells, records = read_chunk(io.BytesIO(text.getvalue().encode()), source=SOURCE)

    assert cells == ["customer_id", "notes"]
    assert [(r.line, r.cells[0], len(r.cells[1])) for r in records] == [(2, "C-1", FIELD_SIZE_LIMIT)]


def test_a_malformed_chunk_is_an_error_not_a_silently_different_row() -> None:
    chunk = b'customer_id,name\r\n2,C-1,"Ja"ne\r\n'
    _cells, records = read_chunk(io.BytesIO(chunk), source=SOURCE)
    with pytest.raises(csv.Error):
        list(records)
