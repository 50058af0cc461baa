"""The newest upload wins, per item, on the one-invocation path: uploads handled out of order (a late retry, a replay
from the failed-events queue, two versions at once) leave every item as the newest upload that has it wrote it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE
from handler import handler
from tests.support import Aws, DemoContext, emf_metrics, json_logs

EARLIER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(minutes=5)
OLD = "customer_id,name,city\n1,Ann,Oslo\n2,Bob,Rome\n3,Cy,Lima\n"
NEW = "customer_id,name,city\n2,Bob,Paris\n3,Cy,Quito\n4,Di,Kyiv\n"
# Each item as the newest upload that has it wrote it: 1 only in OLD, 2-3 in both (NEW wins), 4 only in NEW.
NEWEST = {
    "1": {"customer_id": "1", "name": "Ann", "city": "Oslo"},
    "2": {"customer_id": "2", "name": "Bob", "city": "Paris"},
    "3": {"customer_id": "3", "name": "Cy", "city": "Quito"},
    "4": {"customer_id": "4", "name": "Di", "city": "Kyiv"},
}


def ingest(aws: Aws, key: str, version: str, when: datetime) -> dict[str, object]:
    """The summary entry of the trigger handling the upload of `key` at `when`."""
    (entry,) = handler(aws.event(key, version, event_time=when), DemoContext())["files"]
    return dict(entry)


def test_an_older_upload_handled_after_a_newer_one_leaves_the_newer_rows(
    aws: Aws, stdout: pytest.CaptureFixture[str]
) -> None:
    """The fixed file went in first; the first upload's late retry supersedes its shared rows instead of rolling
    them back, and still writes the row only it has."""
    # given
    old_version, new_version = aws.upload("c.csv", OLD), aws.upload("c.csv", NEW)
    ingest(aws, "c.csv", new_version, LATER)
    stdout.readouterr()
    # when
    late = ingest(aws, "c.csv", old_version, EARLIER)
    # then
    assert aws.items() == NEWEST
    assert (late["status"], late["rows_written"], late["rows_rejected"], late["rows_superseded"]) == (
        "ingested",
        1,
        0,
        2,
    )
    assert aws.reports() == {}  # superseded rows are not rejected rows
    out = stdout.readouterr().out
    assert emf_metrics(out)["RowsSuperseded"] == [2.0]
    (log,) = [log for log in json_logs(out) if log["message"] == "file ingested"]
    assert log["rows_superseded"] == 2


def test_a_newer_upload_overwrites_an_older_one(aws: Aws) -> None:
    """In order, every row of the newer upload is written over the older one's."""
    old_version, new_version = aws.upload("c.csv", OLD), aws.upload("c.csv", NEW)
    ingest(aws, "c.csv", old_version, EARLIER)
    entry = ingest(aws, "c.csv", new_version, LATER)
    assert (entry["rows_written"], entry["rows_superseded"]) == (3, 0)
    assert aws.items() == NEWEST


def test_uploads_of_different_keys_are_ordered_by_their_time(aws: Aws) -> None:
    """Two files with rows of the same customer: the one S3 created later wins, whichever is handled last."""
    late_file, early_file = aws.upload("b.csv", NEW), aws.upload("a.csv", OLD)
    ingest(aws, "b.csv", late_file, LATER)
    ingest(aws, "a.csv", early_file, EARLIER)
    assert aws.items() == NEWEST


def test_two_uploads_in_one_millisecond_are_ordered_by_the_sequencer(aws: Aws) -> None:
    """S3's sequencer orders versions of one key created in the same millisecond, compared as hexadecimal numbers
    (a shorter one padded on the left): 0x100 is newer than 0xFF."""
    old_version, new_version = aws.upload("c.csv", OLD), aws.upload("c.csv", NEW)
    for version, sequencer in ((new_version, "0100"), (old_version, "FF")):
        event = aws.event("c.csv", version, event_time=EARLIER)
        event["Records"][0]["s3"]["object"]["sequencer"] = sequencer
        handler(event, DemoContext())
    assert aws.items() == NEWEST


def test_every_item_carries_the_order_stamp_of_the_upload_that_wrote_it(aws: Aws) -> None:
    """The stamp is the event's time then its sequencer, padded: readable, and sorting as the uploads do."""
    old_version, new_version = aws.upload("c.csv", OLD), aws.upload("c.csv", NEW)
    ingest(aws, "c.csv", new_version, LATER)
    ingest(aws, "c.csv", old_version, EARLIER)
    stamps = aws.stamps()
    assert stamps["1"] is not None and stamps["1"].startswith("2026-12-01T09:00:00.000000Z ")
    assert {stamps[key][:27] for key in ("2", "3", "4")} == {"2026-12-01T09:05:00.000000Z"}  # type: ignore[index]


def test_key_only_rows_of_an_older_upload_create_missing_items_and_leave_newer_ones(aws: Aws) -> None:
    """A row with only its key creates a missing item (stamped) and is superseded by a newer one."""
    new_version = aws.upload("c.csv", "customer_id,name\n1,Ann\n")
    old_version = aws.upload("c.csv", "customer_id,name\n1,\n2,\n")
    ingest(aws, "c.csv", new_version, LATER)
    late = ingest(aws, "c.csv", old_version, EARLIER)
    assert (late["rows_written"], late["rows_superseded"]) == (1, 1)
    assert aws.items() == {"1": {"customer_id": "1", "name": "Ann"}, "2": {"customer_id": "2"}}
    assert aws.stamps()["2"] is not None


def test_a_newer_uploads_empty_cell_keeps_the_older_value_only_when_the_older_was_handled_first(aws: Aws) -> None:
    """In merge an empty cell keeps what the item has; an older upload handled after the newer one is superseded as
    a whole, so the value it would have left is not written (the README's "Many uploads" says so)."""
    older, newer = "customer_id,name,city\n{key},Ann,Oslo\n", "customer_id,name,city\n{key},Ann B,\n"
    in_order = [aws.upload("a.csv", older.format(key=1)), aws.upload("a.csv", newer.format(key=1))]
    ingest(aws, "a.csv", in_order[0], EARLIER)
    ingest(aws, "a.csv", in_order[1], LATER)
    late = [aws.upload("b.csv", older.format(key=2)), aws.upload("b.csv", newer.format(key=2))]
    ingest(aws, "b.csv", late[1], LATER)
    ingest(aws, "b.csv", late[0], EARLIER)
    assert aws.items() == {
        "1": {"customer_id": "1", "name": "Ann B", "city": "Oslo"},
        "2": {"customer_id": "2", "name": "Ann B"},
    }


def test_replace_mode_supersedes_older_rows_too(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """In replace mode each stamped row is a conditional put: an older upload's puts do not replace newer items."""
    monkeypatch.setenv("WRITE_MODE", "replace")
    old_version, new_version = aws.upload("c.csv", OLD), aws.upload("c.csv", NEW)
    ingest(aws, "c.csv", new_version, LATER)
    late = ingest(aws, "c.csv", old_version, EARLIER)
    assert (late["rows_written"], late["rows_superseded"]) == (1, 2)
    assert aws.items() == NEWEST


def test_rows_of_one_file_still_apply_in_file_order(aws: Aws) -> None:
    """Rows of one upload share its stamp: a later row of a key overwrites an earlier one, as without ordering."""
    version = aws.upload("c.csv", "customer_id,name\n1,first\n1,second\n")
    entry = ingest(aws, "c.csv", version, EARLIER)
    assert (entry["rows_written"], entry["rows_superseded"]) == (2, 0)
    assert aws.items() == {"1": {"customer_id": "1", "name": "second"}}


def test_the_same_event_twice_writes_the_same_items(aws: Aws) -> None:
    """S3 delivers at least once: an upload's own stamp does not supersede its own rows."""
    version = aws.upload("c.csv", OLD)
    ingest(aws, "c.csv", version, EARLIER)
    again = ingest(aws, "c.csv", version, EARLIER)
    assert (again["rows_written"], again["rows_superseded"]) == (3, 0)


def test_with_ordering_off_the_last_handled_upload_wins_and_items_carry_no_stamp(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ORDERING=off (context ordering=off): unconditional writes, no stamp attribute; an older upload handled last
    overwrites (what the stack did before uploads were ordered)."""
    monkeypatch.setenv("ORDERING", "off")
    old_version, new_version = aws.upload("c.csv", OLD), aws.upload("c.csv", NEW)
    ingest(aws, "c.csv", new_version, LATER)
    late = ingest(aws, "c.csv", old_version, EARLIER)
    assert (late["rows_written"], late["rows_superseded"]) == (3, 0)
    assert aws.items()["2"]["city"] == "Rome"
    assert set(aws.stamps().values()) == {None}


def test_the_order_attribute_name_is_a_setting(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """ORDER_ATTRIBUTE (context order_attribute) names the attribute the stamp is kept in."""
    monkeypatch.setenv("ORDER_ATTRIBUTE", "loaded_at")
    version = aws.upload("c.csv", OLD)
    ingest(aws, "c.csv", version, EARLIER)
    item = aws.dynamodb.get_item(TableName=aws.table, Key={"customer_id": {"S": "1"}})["Item"]
    assert item["loaded_at"]["S"].startswith("2026-12-01T09:00:00")
    assert DEFAULT_ORDER_ATTRIBUTE not in item


def test_a_column_named_like_the_order_attribute_fails_the_file(aws: Aws) -> None:
    """A file may not write the pipeline's own attribute: it fails as a whole, before any row, saying what to do."""
    version = aws.upload("c.csv", f"customer_id,{DEFAULT_ORDER_ATTRIBUTE}\n1,x\n")
    with pytest.raises(IngestError, match=f"the header has a column '{DEFAULT_ORDER_ATTRIBUTE}'.*order_attribute"):
        handler(aws.event("c.csv", version), DemoContext())
    assert aws.items() == {}


def test_an_event_without_a_time_is_ordered_as_of_now(aws: Aws, stdout: pytest.CaptureFixture[str]) -> None:
    """A hand-made event without eventTime (S3's always have one) still ingests, ordered as of now, with a warning;
    an upload S3 created earlier is then superseded by it."""
    version = aws.upload("c.csv", NEW)
    event = aws.event("c.csv", version)
    del event["Records"][0]["eventTime"], event["Records"][0]["s3"]["object"]["sequencer"]
    handler(event, DemoContext())
    assert any("no readable eventTime" in log["message"] for log in json_logs(stdout.readouterr().out))
    late = ingest(aws, "c.csv", aws.upload("c.csv", OLD), datetime.now(UTC) - timedelta(minutes=1))
    assert (late["rows_written"], late["rows_superseded"]) == (1, 2)
    assert aws.items() == NEWEST
