"""A row can delete its item, on the one-invocation path, on both DynamoDB backends: the stack deployed with a
delete-marker column (DELETE_COLUMN), files uploaded, the table, the summary, the log, the metrics and the report
looked at as a user would."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE, ENV_DELETE_COLUMN
from csv_ingest_engine.objects import rejects_report_key
from handler import handler
from tests.support import Aws, DemoContext, emf_metrics, json_logs

MARKER = "_deleted"
EARLIER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(minutes=5)
ACCEPTED = "use true, false or an empty cell, in any case"


@pytest.fixture
def deleting(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The account, its functions told the delete-marker column `_deleted` (as `-c delete_column=_deleted` does)."""
    monkeypatch.setenv(ENV_DELETE_COLUMN, MARKER)
    return aws


def ingest(aws: Aws, key: str, body: str, when: datetime | None = None) -> dict[str, object]:
    """Upload `body` as `key` and have the trigger handle its event (at `when`: default now); its summary entry."""
    version = aws.upload(key, body)
    (entry,) = handler(aws.event(key, version, event_time=when), DemoContext())["files"]
    return dict(entry)


def counts(entry: dict[str, object]) -> tuple[object, ...]:
    """(written, deleted, superseded, rejected)."""
    return entry["rows_written"], entry["rows_deleted"], entry["rows_superseded"], entry["rows_rejected"]


def test_a_true_marker_deletes_its_item_in_any_case_and_the_marker_is_never_stored(
    deleting: Aws, stdout: pytest.CaptureFixture[str]
) -> None:
    """`true`, `TRUE` and ` True ` delete; `false` and an empty cell write the row; no item gets the marker."""
    # given
    ingest(deleting, "base.csv", "customer_id,name\n1,Ann\n2,Bob\n3,Cy\n4,Di\n")
    stdout.readouterr()
    # when
    entry = ingest(
        deleting,
        "changes.csv",
        f"customer_id,name,{MARKER}\n1,,true\n2,Bob,TRUE\n3,, True \n4,Dina,false\n5,Ed,\n",
    )
    # then
    assert (entry["status"], *counts(entry)) == ("ingested", 2, 3, 0, 0)
    assert deleting.items() == {
        "4": {"customer_id": "4", "name": "Dina"},
        "5": {"customer_id": "5", "name": "Ed"},
    }
    items = deleting.dynamodb.scan(TableName=deleting.table)["Items"]
    assert {name for item in items for name in item} == {"customer_id", "name", DEFAULT_ORDER_ATTRIBUTE}
    out = stdout.readouterr().out
    assert emf_metrics(out)["RowsDeleted"] == [3.0]
    (log,) = [log for log in json_logs(out) if log["message"] == "file ingested"]
    assert (log["rows_written"], log["rows_deleted"]) == (2, 3)


def test_the_marker_column_is_not_written_even_where_no_row_deletes(deleting: Aws) -> None:
    """Every row false or empty: the items have the file's other columns, and the order stamp, only."""
    ingest(deleting, "a.csv", f"customer_id,{MARKER},name\n1,false,Ann\n2,,Bob\n3\n")
    assert deleting.items() == {
        "1": {"customer_id": "1", "name": "Ann"},
        "2": {"customer_id": "2", "name": "Bob"},
        "3": {"customer_id": "3"},
    }
    items = deleting.dynamodb.scan(TableName=deleting.table)["Items"]
    assert {name for item in items for name in item} == {"customer_id", "name", DEFAULT_ORDER_ATTRIBUTE}


def test_another_marker_rejects_the_row_naming_the_accepted_values_and_the_log_does_not_quote_it(
    deleting: Aws, stdout: pytest.CaptureFixture[str]
) -> None:
    """The report quotes the cell, as written, for fixing; the log names the line and key and words the reason
    without the cell. The item stays as it was."""
    # given
    ingest(deleting, "base.csv", "customer_id,name\n1,Ann\n")
    stdout.readouterr()
    # when
    entry = ingest(deleting, "changes.csv", f"customer_id,name,{MARKER}\n1,Ann B,yes\n2,Bob,\n")
    # then
    assert counts(entry) == (1, 0, 0, 1)
    assert deleting.items() == {"1": {"customer_id": "1", "name": "Ann"}, "2": {"customer_id": "2", "name": "Bob"}}
    report = deleting.reports()[rejects_report_key("changes.csv", entry["version_id"])]  # type: ignore[arg-type]
    (rejected,) = csv.DictReader(io.StringIO(report.removeprefix("\ufeff")))
    assert rejected == {
        "customer_id": "1",
        "name": "Ann B",
        MARKER: "yes",
        "rejected_line": "2",
        "rejected_reason": f"column '{MARKER}' (the delete marker): 'yes' is not a delete marker ({ACCEPTED})",
    }
    (logged,) = [log for log in json_logs(stdout.readouterr().out) if log["message"] == "row rejected"]
    assert (logged["line"], logged["key"], logged["reason"]) == (
        2,
        "1",
        f"column '{MARKER}' (the delete marker): the value is not a delete marker ({ACCEPTED})",
    )


def test_an_older_files_delete_leaves_a_newer_uploads_item_and_counts_it_superseded(deleting: Aws) -> None:
    """The delete is conditional like every write: an item a newer upload wrote is not deleted by an older file
    handled late. An item no upload stamped (written by an application) and an item that is not there are
    deleted (DeleteItem of a missing item succeeds, and is counted as deleted)."""
    # given
    ingest(deleting, "new.csv", "customer_id,name\n1,Ann (new)\n", LATER)
    deleting.put_item(customer_id="2", name="Bob (by the application)")
    # when
    late = ingest(deleting, "old.csv", f"customer_id,{MARKER}\n1,true\n2,true\n3,true\n", EARLIER)
    # then
    assert counts(late) == (0, 2, 1, 0)
    assert deleting.items() == {"1": {"customer_id": "1", "name": "Ann (new)"}}
    assert deleting.reports() == {}  # superseded deletes are not rejected rows


def test_a_newer_files_delete_removes_an_older_uploads_item(deleting: Aws) -> None:
    """In order, the newer upload's delete applies; the older upload's item and its stamp are gone."""
    ingest(deleting, "old.csv", "customer_id,name\n1,Ann\n2,Bob\n", EARLIER)
    entry = ingest(deleting, "new.csv", f"customer_id,{MARKER}\n1,true\n", LATER)
    assert counts(entry) == (0, 1, 0, 0)
    assert deleting.items() == {"2": {"customer_id": "2", "name": "Bob"}}


def test_rows_of_one_key_apply_in_file_order_around_a_delete(deleting: Aws) -> None:
    """A delete after a write of the key removes the item; a write after a delete makes a new item with that row's
    attributes only (not the deleted item's, nor the earlier rows')."""
    # given: item 2 has an attribute no row of the file sets
    ingest(deleting, "base.csv", "customer_id,name,extra\n2,Bob,kept until deleted\n")
    # when
    entry = ingest(
        deleting,
        "changes.csv",
        f"customer_id,name,city,{MARKER}\n1,Ann,Oslo,\n1,,,true\n2,,Rome,\n2,,,TRUE\n2,Bo,,\n3,,,true\n3,Cy,Lima,false\n",
    )
    # then
    assert counts(entry) == (4, 3, 0, 0)
    assert deleting.items() == {
        "2": {"customer_id": "2", "name": "Bo"},
        "3": {"customer_id": "3", "name": "Cy", "city": "Lima"},
    }


def test_without_ordering_a_delete_is_unconditional(deleting: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """With `ordering=off` nothing is stamped and every delete applies, whichever upload wrote the item."""
    monkeypatch.setenv("ORDERING", "off")
    ingest(deleting, "new.csv", "customer_id,name\n1,Ann\n2,Bob\n", LATER)
    entry = ingest(deleting, "old.csv", f"customer_id,{MARKER}\n1,true\n9,true\n", EARLIER)
    assert counts(entry) == (0, 2, 0, 0)
    assert deleting.stamps() == {"2": None}


@pytest.mark.parametrize("ordering", ["on", "off"], ids=["replace", "replace-batched"])
def test_replace_mode_deletes_with_delete_item_and_keeps_file_order(
    deleting: Aws, monkeypatch: pytest.MonkeyPatch, ordering: str
) -> None:
    """In replace a delete is the same DeleteItem; with ordering off, among batches of puts (one writer thread, so
    that writes and deletes of keys share batches): the puts before a delete go first, each key keeps file order."""
    monkeypatch.setenv("WRITE_MODE", "replace")
    monkeypatch.setenv("ORDERING", ordering)
    monkeypatch.setenv("WRITE_CONCURRENCY", "1")
    ingest(deleting, "base.csv", "customer_id,name,extra\n4,Di,old\n")
    entry = ingest(
        deleting,
        "changes.csv",
        f"customer_id,name,{MARKER}\n1,Ann,\n2,Bob,\n1,,true\n3,Cy,\n2,,true\n2,Bob 2,\n4,,true\n5,Ed,\n",
    )
    assert counts(entry) == (5, 3, 0, 0)
    assert deleting.items() == {
        "2": {"customer_id": "2", "name": "Bob 2"},
        "3": {"customer_id": "3", "name": "Cy"},
        "5": {"customer_id": "5", "name": "Ed"},
    }


def test_a_file_without_the_marker_column_loads_without_deletes(
    deleting: Aws, stdout: pytest.CaptureFixture[str]
) -> None:
    """The setting serves many files: one without the column is written whole, and counts 0 deleted."""
    entry = ingest(deleting, "plain.csv", "customer_id,name\n1,true\n")
    assert counts(entry) == (1, 0, 0, 0)
    assert deleting.items() == {"1": {"customer_id": "1", "name": "true"}}
    assert emf_metrics(stdout.readouterr().out)["RowsDeleted"] == [0.0]


def test_without_the_setting_the_column_is_data_and_no_deleted_metric_is_published(
    aws: Aws, stdout: pytest.CaptureFixture[str]
) -> None:
    """No delete_column: `_deleted` is a column like any other, and RowsDeleted (a metric only ever zero here) is not
    published; the summary still counts 0 deleted."""
    entry = ingest(aws, "a.csv", f"customer_id,{MARKER}\n1,true\n")
    assert counts(entry) == (1, 0, 0, 0)
    assert aws.items() == {"1": {"customer_id": "1", MARKER: "true"}}
    assert "RowsDeleted" not in emf_metrics(stdout.readouterr().out)
