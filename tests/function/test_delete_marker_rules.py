"""The delete-marker column in the rules: the setting, where the header has the column, what a marker cell means, and
the requests and checks a deleting row makes. Pure, no AWS; every schema is built inside its test, so that mutation
testing's mutants of the schema's own code meet it."""

from __future__ import annotations

import unicodedata

import pytest

from csv_ingest_engine.config import EngineConfig, function_environment
from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE, ENV_DELETE_COLUMN
from csv_ingest_engine.item_growth import ItemGrowth
from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.reading import Record
from csv_ingest_engine.requests import ORDER_CONDITION, request_for, write_actions
from csv_ingest_engine.rules import (
    MAX_PARTITION_KEY_BYTES,
    DeletingRow,
    Header,
    Rejection,
    Row,
    parse_header,
    to_row,
)
from csv_ingest_engine.schema import KeyAttribute, Schema, SchemaError, check_delete_column, delete_column
from csv_ingest_engine.values import ValueProblem, delete_marker

MARKER = "_deleted"
ACCEPTED = "use true, false or an empty cell, in any case"


def marked(*columns: str, schema: Schema | None = None, order_attribute: str | None = None) -> Header:
    """The header of a file read with the delete-marker column `_deleted` (and `schema`'s key and types)."""
    base = schema or Schema.keyed_on("customer_id")
    return parse_header(
        list(columns),
        schema=Schema(base.partition_key, base.sort_key, base.column_types, delete_column=MARKER),
        source="s3://b/k.csv",
        order_attribute=order_attribute,
    )


def outcome(cells: list[str], head: Header, *, max_attributes: int | None = None) -> Row | Rejection:
    return to_row(Record(7, cells), head, max_attributes=max_attributes)


def deleting(key: str = "1", *cells: str, name: str = "customer_id") -> DeletingRow:
    """The row that deletes the string-keyed item `key` (its cells as in the file)."""
    return DeletingRow(7, key, {name: {"S": key}}, {}, [key, *cells])


# -- the marker's values --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["true", "TRUE", "True", "tRuE", " true", "true\t", "\u00a0TRUE\u3000", "\ntrue\r"])
def test_true_in_any_case_with_whitespace_around_marks_a_delete(cell: str) -> None:
    """`true`, in any case, surrounding whitespace (any Unicode whitespace) trimmed: as a BOOL cell is read."""
    assert delete_marker(cell) is True


@pytest.mark.parametrize("cell", ["false", "FALSE", " False ", "", " ", "\t\u3000"])
def test_false_or_an_empty_cell_marks_no_delete(cell: str) -> None:
    """`false` in any case, an empty cell, and a cell of whitespace only: the row is written."""
    assert delete_marker(cell) is False


@pytest.mark.parametrize("cell", ["yes", "no", "1", "0", "t", "x", "truth", "true true", "\u200btrue", "nul"])
def test_any_other_marker_is_a_problem_quoting_the_cell_and_listing_the_accepted_values(cell: str) -> None:
    """Which of `yes`, `1`, `x` means delete would be a guess: each is refused, naming what is accepted."""
    with pytest.raises(ValueProblem) as problem:
        delete_marker(cell)
    assert str(problem.value) == f"{cell!r} is not a delete marker ({ACCEPTED})"
    assert problem.value.without_value == f"the value is not a delete marker ({ACCEPTED})"


def test_a_long_marker_is_quoted_cut() -> None:
    """A message stays one readable line: the cell is quoted up to 20 characters and `...`."""
    with pytest.raises(ValueProblem) as problem:
        delete_marker("y" * 30)
    assert str(problem.value) == f"'{'y' * 20}...' is not a delete marker ({ACCEPTED})"


# -- the header -----------------------------------------------------------------------------------------------------


def test_the_marker_column_is_found_and_never_an_attribute() -> None:
    """The header knows where the marker is; it is not among the columns that become attributes."""
    head = marked("customer_id", "name", MARKER, "city")
    assert (head.delete_index, head.value_indexes) == (2, (1, 3))


def test_without_the_setting_a_column_of_that_name_is_an_attribute() -> None:
    """No delete-marker column set: `_deleted` is a column like any other."""
    head = parse_header(["customer_id", MARKER], schema=Schema.keyed_on("customer_id"), source="s3://b/k.csv")
    assert (head.delete_index, head.value_indexes) == (None, (1,))


def test_a_file_without_the_marker_column_is_read_as_without_the_setting() -> None:
    """The setting serves many files: one without the column is written whole, none of its rows deletes."""
    head = marked("customer_id", "name")
    assert (head.delete_index, head.value_indexes) == (None, (1,))
    assert outcome(["1", "true"], head) == Row(
        7, "1", {"customer_id": {"S": "1"}}, {"name": {"S": "true"}}, ["1", "true"]
    )


def test_the_marker_column_is_the_header_name_trimmed_and_in_nfc() -> None:
    """A header name is compared trimmed and in NFC, as the key column's is: `café` typed on a Mac names it too."""
    schema = Schema(KeyAttribute("customer_id"), delete_column="supprimé")
    head = parse_header(
        ["customer_id", unicodedata.normalize("NFD", " supprimé ")], schema=schema, source="s3://b/k.csv"
    )
    assert (head.delete_index, head.value_indexes) == (1, ())


def test_the_marker_column_name_is_compared_in_its_case() -> None:
    """Column names are case-sensitive: `_Deleted` is not `_deleted`, and is written as an attribute."""
    head = marked("customer_id", "_Deleted")
    assert (head.delete_index, head.value_indexes) == (None, (1,))


# -- rows -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["true", "TRUE", " True "])
def test_a_true_marker_makes_a_row_that_deletes_its_item_with_its_key_only(cell: str) -> None:
    """The row is its key and nothing else: no attribute, the marker included."""
    head = marked("customer_id", "name", MARKER)
    assert outcome([" 1 ", "Ann", cell], head) == DeletingRow(
        7, "1", {"customer_id": {"S": "1"}}, {}, [" 1 ", "Ann", cell]
    )


@pytest.mark.parametrize("cell", ["false", "FALSE", "", "  "])
def test_a_false_or_empty_marker_writes_the_row_without_the_marker(cell: str) -> None:
    """The row is written as if the column were not in the file."""
    head = marked("customer_id", "name", MARKER)
    assert outcome(["1", "Ann", cell], head) == Row(
        7, "1", {"customer_id": {"S": "1"}}, {"name": {"S": "Ann"}}, ["1", "Ann", cell]
    )


def test_a_row_that_ends_before_the_marker_column_is_written() -> None:
    """A missing marker cell is an empty one (a row may have fewer cells than the header)."""
    head = marked("customer_id", "name", MARKER)
    assert outcome(["1", "Ann"], head) == Row(7, "1", {"customer_id": {"S": "1"}}, {"name": {"S": "Ann"}}, ["1", "Ann"])


def test_a_row_that_ends_at_the_marker_column_reads_it() -> None:
    """The marker is the row's last cell: it is read (a delete), and the row's end is not taken for its absence."""
    head = marked("customer_id", MARKER, "name")
    assert outcome(["1", "true"], head) == deleting("1", "true")
    assert outcome(["1"], head) == Row(7, "1", {"customer_id": {"S": "1"}}, {}, ["1"])


def test_any_other_marker_rejects_the_row_with_a_reason_the_log_may_show_without_the_cell() -> None:
    """The rejects report quotes the cell; the log's reason quotes none."""
    head = marked("customer_id", "name", MARKER)
    rejected = outcome(["1", "Ann", "yes"], head)
    assert rejected == Rejection(
        7,
        "1",
        f"column '{MARKER}' (the delete marker): 'yes' is not a delete marker ({ACCEPTED})",
        ["1", "Ann", "yes"],
        reason_without_values=f"column '{MARKER}' (the delete marker): the value is not a delete marker ({ACCEPTED})",
    )
    assert isinstance(rejected, Rejection)
    assert "yes" not in rejected.loggable_reason


def test_a_deleting_row_is_not_checked_beyond_its_key() -> None:
    """Its other cells are not read: a typed cell that is not its type, a cell over the item size and more columns
    than one update can set do not reject it."""
    head = marked("customer_id", "age", "bio", "a", "b", MARKER, schema=Schema.keyed_on("customer_id", {"age": "N"}))
    cells = ["1", "3O", "x" * 500_000, "a", "b", "true"]
    row = outcome(cells, head, max_attributes=1)
    assert row == DeletingRow(7, "1", {"customer_id": {"S": "1"}}, {}, cells, typed=True)


def test_an_untyped_deleting_row_is_not_checked_for_its_item_size() -> None:
    """On the untyped fast path too: a cell over 400 KB in a deleting row does not reject it."""
    head = marked("customer_id", "bio", MARKER)
    cells = ["1", "x" * 500_000, "true"]
    assert outcome(cells, head, max_attributes=0) == DeletingRow(7, "1", {"customer_id": {"S": "1"}}, {}, cells)


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (["", "true"], "the 'customer_id' cell is empty"),
        (["customer_id", MARKER], "repeated header row (two files joined into one, each with its header?); it is not "
         "data, so remove it"),
        (["k" * (MAX_PARTITION_KEY_BYTES + 1), "true"], f"the key is {MAX_PARTITION_KEY_BYTES + 1:,} bytes long in "
         "UTF-8; DynamoDB allows at most 2,048 bytes for a partition key, so shorten it"),
        (["1", "true", "past"], "the row has 3 fields but the header has 2 columns (an unquoted comma in a cell?)"),
    ],
    ids=["empty-key", "header-again", "key-too-long", "too-many-fields"],
)  # fmt: skip
def test_a_deleting_row_needs_its_key_and_its_shape(cells: list[str], reason: str) -> None:
    """A row that cannot name its item (or that the header would read shifted) is rejected for that, marker or not;
    a repeated header is a header, not an unknown marker."""
    head = marked("customer_id", MARKER)
    rejected = outcome(cells, head)
    assert isinstance(rejected, Rejection)
    assert rejected.reason == reason


def test_a_typed_key_deletes_the_item_of_its_value() -> None:
    """A number key in another spelling names the same item; the row is marked typed for the writer."""
    schema = Schema(KeyAttribute("customer_id", "N"), KeyAttribute("order_date"))
    head = marked(
        "customer_id",
        "order_date",
        "total",
        MARKER,
        schema=Schema(schema.partition_key, schema.sort_key, {"total": "N"}),
    )
    cells = ["042", "2024-05-01", "not a number", "TRUE"]
    assert outcome(cells, head) == DeletingRow(
        7,
        "42 / 2024-05-01",
        {"customer_id": {"N": "042"}, "order_date": {"S": "2024-05-01"}},
        {},
        cells,
        typed=True,
    )


def test_a_typed_row_with_a_false_marker_is_written_without_it() -> None:
    schema = Schema(KeyAttribute("customer_id", "N"))
    head = marked("customer_id", MARKER, "total", schema=Schema(schema.partition_key, None, {"total": "N"}))
    assert outcome(["7", "false", "12"], head) == Row(
        7, "7", {"customer_id": {"N": "7"}}, {"total": {"N": "12"}}, ["7", "false", "12"], typed=True
    )


def test_a_typed_row_with_an_unknown_marker_is_rejected_naming_its_item() -> None:
    schema = Schema(KeyAttribute("customer_id", "N"))
    head = marked("customer_id", MARKER, schema=schema)
    rejected = outcome(["07", "deleted"], head)
    assert isinstance(rejected, Rejection)
    assert (rejected.key, rejected.reason) == (
        "7",
        f"column '{MARKER}' (the delete marker): 'deleted' is not a delete marker ({ACCEPTED})",
    )
    assert rejected.loggable_reason == (
        f"column '{MARKER}' (the delete marker): the value is not a delete marker ({ACCEPTED})"
    )


def test_a_typed_key_that_is_not_its_type_rejects_a_deleting_row() -> None:
    head = marked("customer_id", MARKER, schema=Schema(KeyAttribute("customer_id", "N")))
    rejected = outcome(["abc", "true"], head)
    assert isinstance(rejected, Rejection)
    assert rejected.reason == "column 'customer_id' (N): 'abc' is not a number"


# -- the setting ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "name"), [(None, None), ("", None), (" _deleted ", "_deleted"), ("a b", "a b")])
def test_the_setting_is_a_column_name_trimmed_or_none(given: str | None, name: str | None) -> None:
    assert delete_column(given, origin="--delete-column") == name


def test_the_setting_is_put_in_nfc() -> None:
    assert delete_column(unicodedata.normalize("NFD", "supprimé"), origin="x") == "supprimé"


@pytest.mark.parametrize("given", ["   ", 5])
def test_a_setting_that_names_no_column_is_refused(given: object) -> None:
    with pytest.raises(SchemaError) as refused:
        delete_column(given, origin="context delete_column")
    assert str(refused.value) == f"context delete_column: {given!r} is not a column name"


@pytest.mark.parametrize("key", ["customer_id", "order_date"])
def test_the_marker_cannot_be_a_key_column(key: str) -> None:
    """A row's key cells say which item it deletes: the marker needs a column of its own."""
    with pytest.raises(SchemaError) as refused:
        Schema(KeyAttribute("customer_id"), KeyAttribute("order_date"), delete_column=key)
    assert str(refused.value) == (
        f"the delete-marker column '{key}' is a key column: a row's key cells say which item it deletes, so the "
        "marker needs a column of its own; name another column"
    )


def test_the_marker_cannot_have_a_column_type() -> None:
    with pytest.raises(SchemaError) as refused:
        Schema(KeyAttribute("customer_id"), None, {MARKER: "BOOL"}, delete_column=MARKER)
    assert str(refused.value) == (
        f"column '{MARKER}' is the delete-marker column, read as true, false or empty: remove it from the column "
        "types (it is never written, so it has no type)"
    )


def test_a_schema_with_a_marker_beside_other_types_and_keys_is_fine() -> None:
    schema = Schema(KeyAttribute("customer_id"), KeyAttribute("order_date"), {"age": "N"}, delete_column=MARKER)
    assert schema.delete_column == MARKER


def test_the_marker_cannot_be_the_order_attribute() -> None:
    """No file may have a column named like the order attribute, so a marker of that name could never be read."""
    with pytest.raises(SchemaError) as refused:
        check_delete_column(DEFAULT_ORDER_ATTRIBUTE, DEFAULT_ORDER_ATTRIBUTE)
    assert str(refused.value) == (
        f"the delete-marker column '{DEFAULT_ORDER_ATTRIBUTE}' is the order attribute, where the pipeline keeps each "
        "item's upload order (no file may have that column); name another column, or give the order attribute "
        "another name"
    )


@pytest.mark.parametrize(
    ("marker", "order_attribute"),
    [(DEFAULT_ORDER_ATTRIBUTE, None), (None, DEFAULT_ORDER_ATTRIBUTE), (None, None), (MARKER, DEFAULT_ORDER_ATTRIBUTE)],
)
def test_a_marker_apart_from_the_order_attribute_or_with_ordering_off_is_fine(
    marker: str | None, order_attribute: str | None
) -> None:
    """With ordering off no stamp is written, so the name is free."""
    check_delete_column(marker, order_attribute)


def test_the_setting_travels_in_the_functions_environment_and_back() -> None:
    """Told to every function that reads rows (left out when not set), and read back as the same schema."""
    schema = Schema(KeyAttribute("customer_id"), delete_column=MARKER)
    variables = EngineConfig(schema=schema).to_env("reading")
    assert variables[ENV_DELETE_COLUMN] == MARKER
    assert ENV_DELETE_COLUMN not in EngineConfig().to_env("reading")
    with function_environment(variables):
        assert EngineConfig.from_env().schema == schema


def test_an_environment_whose_marker_is_the_order_attribute_fails_the_invocation_naming_it() -> None:
    with function_environment({ENV_DELETE_COLUMN: DEFAULT_ORDER_ATTRIBUTE}), pytest.raises(RuntimeError) as failed:
        EngineConfig.from_env()
    assert str(failed.value).startswith(f"{ENV_DELETE_COLUMN}: the delete-marker column '{DEFAULT_ORDER_ATTRIBUTE}'")
    with function_environment({ENV_DELETE_COLUMN: DEFAULT_ORDER_ATTRIBUTE, "ORDERING": "off"}):
        assert EngineConfig.from_env().schema.delete_column == DEFAULT_ORDER_ATTRIBUTE


# -- what the writer sends ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_a_deleting_row_is_a_delete_item_on_the_writes_own_condition(mode: str) -> None:
    """The same condition as every write: the item has no stamp, or one not newer than this upload's."""
    ordering = Ordering("_order", "2026-12-01T09:00:00.000000Z 000000000000000000000000")
    assert request_for(deleting("1"), table_name="t", mode=mode, ordering=ordering) == (  # type: ignore[arg-type]
        "delete_item",
        {
            "TableName": "t",
            "Key": {"customer_id": {"S": "1"}},
            "ConditionExpression": ORDER_CONDITION,
            "ExpressionAttributeNames": {"#o": "_order"},
            "ExpressionAttributeValues": {":o": {"S": ordering.stamp}},
        },
    )


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_without_ordering_a_deleting_row_is_an_unconditional_delete_item(mode: str) -> None:
    assert request_for(deleting("1"), table_name="t", mode=mode) == (  # type: ignore[arg-type]
        "delete_item",
        {"TableName": "t", "Key": {"customer_id": {"S": "1"}}},
    )


@pytest.mark.parametrize(
    ("mode", "ordered", "actions"),
    [
        ("merge", True, ("dynamodb:UpdateItem",)),
        ("replace", True, ("dynamodb:PutItem",)),
        ("merge", False, ("dynamodb:UpdateItem", "dynamodb:PutItem")),
        ("replace", False, ("dynamodb:BatchWriteItem", "dynamodb:PutItem")),
    ],
)
def test_delete_item_is_allowed_only_with_a_marker_column(mode: str, ordered: bool, actions: tuple[str, ...]) -> None:
    """The writer's IAM actions: DeleteItem added to each mode's own when rows may delete, and only then."""
    assert write_actions(mode, ordered=ordered) == actions  # type: ignore[arg-type]
    assert write_actions(mode, ordered=ordered, deletes=True) == (*actions, "dynamodb:DeleteItem")  # type: ignore[arg-type]


# -- what validate works out ----------------------------------------------------------------------------------------


def test_validate_counts_nothing_of_a_deleted_item_toward_the_key_s_later_rows() -> None:
    """In merge, a key's rows add up to one item; a delete empties it, so the rows after it start a new one: rows
    that would take it past 400 KB together are refused only without the delete between them."""
    head = marked("customer_id", "a", "b", MARKER)
    first, later = ["1", "x" * 250_000, "", ""], ["1", "", "y" * 250_000, ""]

    def refused(rows: list[list[str]]) -> list[int]:
        growth = ItemGrowth(head)
        lines = []
        for line, cells in enumerate(rows):
            row = to_row(Record(line, cells), head)
            assert isinstance(row, Row)
            if growth.add(row) is not None:
                lines.append(line)
        return lines

    assert refused([first, later]) == [1]
    assert refused([first, ["1", "", "", "true"], later]) == []
