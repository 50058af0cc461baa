"""`changed` mode's decisions, with no AWS: a row against its item as read back (write, unchanged, superseded),
DynamoDB's equality of typed values, and the item as a row's write leaves it."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from csv_ingest_engine.changes import Stored, Verdict, after_write, delete_verdict, same_value, verdict
from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE
from csv_ingest_engine.ordering import Ordering

STAMP = "2026-12-01T10:00:00.000000Z 000000000000000000000002"
OLDER = "2026-12-01T09:00:00.000000Z 000000000000000000000009"
NEWER = "2026-12-01T10:00:00.000000Z 000000000000000000000003"
ORDERING = Ordering(DEFAULT_ORDER_ATTRIBUTE, STAMP)
KEY = {"customer_id": {"S": "1"}}


def item(stamp: str | None = None, **attributes: Any) -> dict[str, Any]:
    """An item as read back: its key, `attributes` (DynamoDB values) and, with `stamp`, an upload's order stamp."""
    stamped = {DEFAULT_ORDER_ATTRIBUTE: {"S": stamp}} if stamp is not None else {}
    return {**KEY, **attributes, **stamped}


# -- same_value ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "held"),
    [
        ({"S": "Ann"}, {"S": "Ann"}),
        ({"N": "1.50"}, {"N": "1.5"}),  # DynamoDB keeps a number, not its spelling
        ({"N": "1e2"}, {"N": "100"}),
        ({"N": "-0.0"}, {"N": "0"}),
        ({"BOOL": True}, {"BOOL": True}),
        ({"BOOL": False}, {"BOOL": False}),
        ({"NULL": True}, {"NULL": True}),
        ({"B": b"\x00\x01"}, {"B": b"\x00\x01"}),
        ({"B": b"\x00\x01"}, {"B": base64.b64encode(b"\x00\x01").decode()}),  # as DynamoDB's JSON carries it
        ({"M": {"a": {"N": "1.0"}, "b": {"S": "x"}}}, {"M": {"b": {"S": "x"}, "a": {"N": "1"}}}),
        ({"L": [{"N": "2.50"}, {"S": "x"}]}, {"L": [{"N": "2.5"}, {"S": "x"}]}),
        ({"M": {"deep": {"L": [{"M": {"n": {"N": "10"}}}]}}}, {"M": {"deep": {"L": [{"M": {"n": {"N": "1E1"}}}]}}}),
        ({"M": {}}, {"M": {}}),
        ({"L": []}, {"L": []}),
        ({"SS": ["a", "b"]}, {"SS": ["b", "a"]}),
        ({"NS": ["1.0", "2"]}, {"NS": ["2", "1"]}),
        ({"BS": [b"a", b"b"]}, {"BS": [base64.b64encode(b"b").decode(), b"a"]}),
    ],
)
def test_values_dynamodb_compares_equal_are_the_same(written: dict[str, Any], held: dict[str, Any]) -> None:
    """Numbers by value, maps whatever their names' order, lists element by element, sets whatever their order,
    binaries by their bytes, the rest exactly."""
    assert same_value(written, held)


@pytest.mark.parametrize(
    ("written", "held"),
    [
        ({"S": "Ann"}, {"S": "ann"}),
        ({"S": "1"}, {"N": "1"}),  # merge would write another type
        ({"N": "1"}, {"S": "1"}),
        ({"N": "1.5"}, {"N": "1.51"}),
        ({"N": "10"}, {"N": "1"}),
        ({"BOOL": True}, {"BOOL": False}),
        ({"BOOL": True}, {"S": "true"}),
        ({"NULL": True}, {"BOOL": False}),
        ({"B": b"a"}, {"B": b"b"}),
        ({"B": b"a"}, {"B": base64.b64encode(b"b").decode()}),
        ({"M": {"a": {"N": "1"}}}, {"M": {"a": {"N": "2"}}}),
        ({"M": {"a": {"N": "1"}}}, {"M": {"a": {"N": "1"}, "b": {"N": "1"}}}),
        ({"M": {"a": {"N": "1"}, "b": {"N": "1"}}}, {"M": {"a": {"N": "1"}}}),
        ({"M": {"a": {"N": "1"}}}, {"M": {"b": {"N": "1"}}}),
        ({"L": [{"N": "1"}, {"N": "2"}]}, {"L": [{"N": "2"}, {"N": "1"}]}),  # a list's order is its value
        ({"L": [{"N": "1"}]}, {"L": [{"N": "1"}, {"N": "1"}]}),
        ({"L": [{"N": "1"}, {"N": "1"}]}, {"L": [{"N": "1"}]}),
        ({"L": []}, {"M": {}}),
        ({"SS": ["a"]}, {"SS": ["a", "b"]}),
        ({"NS": ["1"]}, {"NS": ["1.1"]}),
        ({"BS": [b"a"]}, {"BS": [b"b"]}),
        ({"SS": ["1"]}, {"NS": ["1"]}),
    ],
)
def test_values_dynamodb_compares_different_are_not_the_same(written: dict[str, Any], held: dict[str, Any]) -> None:
    """Another value, or the same text as another type, is a difference: merge would write it."""
    assert not same_value(written, held)


# -- verdict ---------------------------------------------------------------------------------------------------


def test_a_row_whose_attributes_all_hold_their_values_is_unchanged() -> None:
    """Every attribute the row sets holds that value (the item's stamp is this upload's)."""
    stored = item(STAMP, name={"S": "Ann"}, age={"N": "40"})
    assert verdict({"name": {"S": "Ann"}, "age": {"N": "40.0"}}, stored, ORDERING) is Verdict.UNCHANGED


def test_attributes_the_row_does_not_set_are_not_compared() -> None:
    """An empty cell writes nothing in merge, and a column the file lacks neither: neither is a difference."""
    stored = item(STAMP, name={"S": "Ann"}, city={"S": "Oslo"})
    assert verdict({"name": {"S": "Ann"}}, stored, ORDERING) is Verdict.UNCHANGED


def test_one_attribute_with_another_value_is_a_change() -> None:
    stored = item(STAMP, name={"S": "Ann"}, city={"S": "Oslo"})
    assert verdict({"name": {"S": "Ann"}, "city": {"S": "Rome"}}, stored, ORDERING) is Verdict.WRITE


def test_an_attribute_the_item_lacks_is_a_change() -> None:
    """Including one that was not read back: when in doubt, the row is written."""
    stored = item(STAMP, name={"S": "Ann"})
    assert verdict({"name": {"S": "Ann"}, "city": {"S": "Oslo"}}, stored, ORDERING) is Verdict.WRITE


def test_a_missing_item_is_written() -> None:
    assert verdict({"name": {"S": "Ann"}}, None, ORDERING) is Verdict.WRITE


@pytest.mark.parametrize(("stored", "expected"), [(None, Verdict.WRITE), (item(OLDER), Verdict.UNCHANGED)])
def test_a_key_only_row_creates_a_missing_item_and_leaves_an_existing_one(
    stored: dict[str, Any] | None, expected: Verdict
) -> None:
    """A row of only its key sets nothing: an item that exists holds all of it."""
    assert verdict({}, stored, ORDERING) is expected


def test_an_item_not_known_is_written() -> None:
    """After a write whose outcome is not known (retries ran out), the key's later rows are written."""
    assert verdict({"name": {"S": "Ann"}}, Stored.UNKNOWN, ORDERING) is Verdict.WRITE


def test_an_item_a_newer_upload_wrote_since_it_was_read_supersedes_the_row() -> None:
    assert verdict({"name": {"S": "Ann"}}, Stored.NEWER, ORDERING) is Verdict.SUPERSEDED
    assert verdict({}, Stored.NEWER, None) is Verdict.SUPERSEDED


@pytest.mark.parametrize("attributes", [{"name": {"S": "Ann"}}, {"name": {"S": "Bob"}}, {}])
def test_an_item_with_a_newer_uploads_stamp_supersedes_the_row_changed_or_not(attributes: dict[str, Any]) -> None:
    """As merge's condition would refuse the update."""
    assert verdict(attributes, item(NEWER, name={"S": "Ann"}), ORDERING) is Verdict.SUPERSEDED


@pytest.mark.parametrize("stamp", [STAMP, OLDER, None], ids=["this-uploads", "older", "none"])
def test_an_item_with_this_or_an_older_uploads_stamp_or_none_is_compared(stamp: str | None) -> None:
    """Its stamp is not newer: the values decide (an unchanged row leaves the item's stamp as it is)."""
    stored = item(stamp, name={"S": "Ann"})
    assert verdict({"name": {"S": "Ann"}}, stored, ORDERING) is Verdict.UNCHANGED
    assert verdict({"name": {"S": "Bob"}}, stored, ORDERING) is Verdict.WRITE


def test_a_stamp_that_is_not_text_leaves_the_decision_to_the_condition() -> None:
    """An order attribute of another type than this pipeline writes: the row is written, and DynamoDB's condition
    decides."""
    stored = {**item(name={"S": "Ann"}), DEFAULT_ORDER_ATTRIBUTE: {"N": "1"}}
    assert verdict({"name": {"S": "Ann"}}, stored, ORDERING) is Verdict.WRITE


def test_without_ordering_the_stamp_is_not_looked_at() -> None:
    """Unordered writes carry no condition: a newer stamp supersedes nothing, the values decide."""
    stored = item(NEWER, name={"S": "Ann"})
    assert verdict({"name": {"S": "Ann"}}, stored, None) is Verdict.UNCHANGED
    assert verdict({"name": {"S": "Bob"}}, stored, None) is Verdict.WRITE


# -- after_write -----------------------------------------------------------------------------------------------


def test_a_write_sets_the_rows_attributes_and_stamp_and_keeps_the_rest() -> None:
    stored = item(OLDER, name={"S": "Ann"}, city={"S": "Oslo"})
    written = after_write(stored, KEY, {"name": {"S": "Bob"}}, ORDERING)
    assert written == item(STAMP, name={"S": "Bob"}, city={"S": "Oslo"})
    assert stored == item(OLDER, name={"S": "Ann"}, city={"S": "Oslo"})  # what was read is left as it was


@pytest.mark.parametrize("stored", [None, Stored.UNKNOWN, Stored.NEWER])
def test_a_write_to_an_item_not_read_leaves_its_key_and_the_rows_attributes(stored: Stored | None) -> None:
    written = after_write(stored, KEY, {"name": {"S": "Bob"}}, ORDERING)
    assert written == item(STAMP, name={"S": "Bob"})


def test_an_unordered_write_sets_no_stamp() -> None:
    stored = item(OLDER, name={"S": "Ann"})
    assert after_write(stored, KEY, {"name": {"S": "Bob"}}, None) == item(OLDER, name={"S": "Bob"})


# -- delete_verdict --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "ordering", "expected"),
    [
        (None, ORDERING, Verdict.UNCHANGED),  # nothing there to delete
        (None, None, Verdict.UNCHANGED),
        (Stored.UNKNOWN, ORDERING, Verdict.WRITE),  # a write of it may have gone through: delete, the condition decides
        (Stored.NEWER, ORDERING, Verdict.SUPERSEDED),
        (item(OLDER, name={"S": "Ann"}), ORDERING, Verdict.WRITE),
        (item(STAMP), ORDERING, Verdict.WRITE),  # this upload's own stamp: a row of this file wrote it
        (item(NEWER), ORDERING, Verdict.SUPERSEDED),
        (item(), ORDERING, Verdict.WRITE),  # no stamp: an item no upload of this pipeline wrote
        (item(NEWER), None, Verdict.WRITE),  # unordered: whatever the item holds
        ({**KEY, DEFAULT_ORDER_ATTRIBUTE: {"N": "1"}}, ORDERING, Verdict.WRITE),  # not a stamp: the condition decides
    ],
)
def test_a_deleting_row_deletes_an_item_that_is_there_unless_a_newer_upload_wrote_it(
    stored: Any, ordering: Ordering | None, expected: Verdict
) -> None:
    assert delete_verdict(stored, ordering) is expected
