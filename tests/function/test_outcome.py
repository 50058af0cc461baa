"""A file's outcome as the pipeline announces it (no AWS): the event's detail type and detail, its size, the tags
and how they merge with the user's own, and the outcome read back from the tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from csv_ingest_engine import FileResult, IngestError
from csv_ingest_engine.constants import (
    MAX_OUTCOME_ERROR_CHARS,
    OUTCOME_COUNTS,
    PATH_ONE_INVOCATION,
    PATH_STATE_MACHINE,
    S3_MAX_OBJECT_TAGS,
)
from csv_ingest_engine.objects import MAX_KEY_BYTES
from csv_ingest_engine.outcome import (
    CUT_ERROR,
    FileOutcome,
    ObjectVersion,
    RecordedOutcome,
    bounded_error,
    merged_tags,
    outcome_counts,
    rows_from_tag,
    rows_tag,
)

OBJ = ObjectVersion("uploads", "customers/2026-12.csv", "v1")
AT = datetime(2026, 12, 7, 6, 31, 57, 123456, tzinfo=UTC)
# EventBridge's limit on one PutEvents entry, and how it counts an entry's size (its developer guide, "Calculating
# PutEvents event entry size"): 14 bytes for Time, then the UTF-8 bytes of Source, DetailType, Detail and Resources.
EVENT_MAX_BYTES = 256 * 1024
TIME_BYTES = 14


def entry_size(entry: dict[str, object]) -> int:
    return TIME_BYTES + sum(len(str(entry[name]).encode()) for name in ("Source", "DetailType", "Detail"))


def test_a_file_with_no_rejected_row_is_loaded() -> None:
    """Counts from the summary, status `loaded`, detail type "CSV file loaded", no report and no error."""
    summary = {"status": "ingested", "rows_written": 5, "rows_rejected": 0, "rows_superseded": 2}
    outcome = FileOutcome.ingested(OBJ, summary, path=PATH_ONE_INVOCATION, seconds=1.23456)
    assert outcome.detail_type == "CSV file loaded"
    assert outcome.detail() == {
        "bucket": "uploads",
        "key": "customers/2026-12.csv",
        "version_id": "v1",
        "status": "loaded",
        "rows_written": 5,
        "rows_rejected": 0,
        "rows_superseded": 2,
        "rows_failed": 0,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "rejects_report": None,
        "path": "one-invocation",
        "duration_seconds": 1.235,
        "execution_name": None,
        "error": None,
    }


def test_a_file_with_a_rejected_row_is_loaded_with_rejected_rows() -> None:
    """One rejected row makes it `loaded-with-rejected-rows`, naming the report."""
    report = "s3://rejects/customers/2026-12.v1.rejected.csv"
    summary = {"rows_written": 4, "rows_rejected": 1, "rows_superseded": 0, "rejects_report": report}
    outcome = FileOutcome.ingested(
        OBJ, summary, path=PATH_STATE_MACHINE, seconds=None, execution_name="customers-2026-12-abc"
    )
    detail = outcome.detail()
    assert outcome.detail_type == "CSV file loaded with rejected rows"
    assert (detail["status"], detail["rows_rejected"], detail["rejects_report"]) == (
        "loaded-with-rejected-rows",
        1,
        report,
    )
    assert (detail["path"], detail["duration_seconds"], detail["execution_name"]) == (
        "state-machine",
        None,
        "customers-2026-12-abc",
    )


def test_a_failed_file_carries_its_message_its_counts_and_its_report() -> None:
    """A failure: detail type "CSV file failed", the message, the counts of when it failed (none written before the
    first write: 0) and the report of the rows rejected before it."""
    error = IngestError("s3://uploads/customers/2026-12.csv", "the table refused", rows_rejected=3, rows_failed=2)
    error.rejects_report = "s3://rejects/r.csv"
    outcome = FileOutcome.failed(OBJ, error, path=PATH_ONE_INVOCATION, seconds=0.5)
    detail = outcome.detail()
    assert outcome.detail_type == "CSV file failed"
    assert detail["error"] == "s3://uploads/customers/2026-12.csv: the table refused"
    assert {name: detail[name] for name in OUTCOME_COUNTS} == {
        "rows_written": 0,
        "rows_rejected": 3,
        "rows_superseded": 0,
        "rows_failed": 2,
        "rows_unchanged": 0,
        "rows_deleted": 0,
    }
    assert (detail["status"], detail["rejects_report"]) == ("failed", "s3://rejects/r.csv")


def test_counts_are_read_by_name_from_a_summary_a_result_or_an_error() -> None:
    """Every name in OUTCOME_COUNTS is read the same way from each source, 0 where it is missing or None."""
    assert outcome_counts({"rows_written": 7}) == {name: 7 if name == "rows_written" else 0 for name in OUTCOME_COUNTS}
    result = FileResult(rows_written=1, rows_rejected=2, rows_failed=3, rows_superseded=4, rows_unchanged=5)
    assert outcome_counts(result) == {
        "rows_written": 1,
        "rows_rejected": 2,
        "rows_superseded": 4,
        "rows_failed": 3,
        "rows_unchanged": 5,
        "rows_deleted": 0,
    }
    assert outcome_counts(IngestError("s", "p", rows_written=None))["rows_written"] == 0


def test_unchanged_and_deleted_rows_are_in_the_detail_and_the_rows_tag() -> None:
    """`changed` mode's unchanged rows and a delete marker's deletes, carried like the other counts, and read back
    from the tag."""
    summary = {"rows_written": 1, "rows_unchanged": 9, "rows_deleted": 2}
    outcome = FileOutcome.ingested(OBJ, summary, path=PATH_ONE_INVOCATION, seconds=1)
    assert (outcome.detail()["rows_unchanged"], outcome.detail()["rows_deleted"]) == (9, 2)
    rows = dict(outcome.tags())["csv-ingest:rows"]
    assert rows == "written=1 rejected=0 superseded=0 failed=0 unchanged=9 deleted=2"
    assert rows_from_tag(rows) == {**dict.fromkeys(OUTCOME_COUNTS, 0), **summary}


def test_a_long_message_is_cut_saying_so() -> None:
    """A message over MAX_OUTCOME_ERROR_CHARS is cut to exactly that many characters, ending with where the whole
    one is; one at the limit is left whole."""
    assert bounded_error("x" * MAX_OUTCOME_ERROR_CHARS) == "x" * MAX_OUTCOME_ERROR_CHARS
    cut = bounded_error("x" * (MAX_OUTCOME_ERROR_CHARS + 1))
    assert len(cut) == MAX_OUTCOME_ERROR_CHARS and cut.endswith(CUT_ERROR)


def test_the_largest_event_stays_far_below_eventbridges_limit() -> None:
    """S3's longest key (1,024 bytes of 3-byte characters), a report URI naming it and a message of megabytes: the
    entry, sized as EventBridge sizes it, is under a tenth of its 256 KB."""
    key = "é" * (MAX_KEY_BYTES // 2)
    error = IngestError(f"s3://uploads/{key}", "€" * 1_000_000)
    error.rejects_report = f"s3://rejects/{key}.v1.rejected.csv"
    outcome = FileOutcome.failed(
        ObjectVersion("uploads", key, "v" * 32), error, path=PATH_STATE_MACHINE, seconds=1, execution_name="e" * 80
    )
    entry = outcome.event_entry()
    assert json.loads(str(entry["Detail"]))["key"] == key
    assert entry_size(entry) < EVENT_MAX_BYTES / 10
    assert (entry["Source"], entry["EventBusName"]) == ("csv-ingest", "default")


def test_tags_say_status_counts_time_and_the_rejects_bucket() -> None:
    """Status, every count in one tag, the time to the second in UTC, and the report's bucket (its key follows the
    upload's): values S3 accepts (letters, digits, spaces and + - = . _ : / @ only)."""
    report = "s3://my-rejects/customers/2026-12.v1.rejected.csv"
    outcome = FileOutcome(
        obj=OBJ,
        status="loaded-with-rejected-rows",
        path=PATH_ONE_INVOCATION,
        counts={"rows_written": 19998, "rows_rejected": 2, "rows_superseded": 0, "rows_failed": 0},
        rejects_report=report,
        seconds=1.0,
        at=AT,
    )
    assert outcome.tags() == [
        ("csv-ingest:status", "loaded-with-rejected-rows"),
        ("csv-ingest:rows", "written=19998 rejected=2 superseded=0 failed=0"),
        ("csv-ingest:time", "2026-12-07T06:31:57Z"),
        ("csv-ingest:rejects-bucket", "my-rejects"),
    ]


def test_without_a_report_there_is_no_rejects_bucket_tag() -> None:
    outcome = FileOutcome.ingested(OBJ, {"rows_written": 1}, path=PATH_ONE_INVOCATION, seconds=1)
    assert [key for key, _ in outcome.tags()] == ["csv-ingest:status", "csv-ingest:rows", "csv-ingest:time"]


def test_the_rows_tag_of_the_largest_counts_fits_a_tag_value() -> None:
    """Counts of a trillion rows each still fit S3's 256 characters, with room for four more counts."""
    assert len(rows_tag(dict.fromkeys(OUTCOME_COUNTS, 10**12))) + 4 * len(" another=1000000000000") <= 256


def test_merged_tags_keep_the_users_and_replace_an_earlier_outcomes() -> None:
    """The user's tags stay as they are; an earlier outcome's (csv-ingest:...) are replaced, a stale one dropped."""
    existing = [
        {"Key": "owner", "Value": "finance"},
        {"Key": "csv-ingest:status", "Value": "failed"},
        {"Key": "csv-ingest:rejects-bucket", "Value": "old"},
    ]
    tag_set, left_out = merged_tags(existing, [("csv-ingest:status", "loaded"), ("csv-ingest:rows", "written=1")])
    assert tag_set == [
        {"Key": "owner", "Value": "finance"},
        {"Key": "csv-ingest:status", "Value": "loaded"},
        {"Key": "csv-ingest:rows", "Value": "written=1"},
    ]
    assert left_out == []


@pytest.mark.parametrize(("user_tags", "kept_of_ours"), [(6, 4), (7, 3), (9, 1), (10, 0)])
def test_merged_tags_leave_out_the_last_of_ours_when_the_users_fill_the_object(
    user_tags: int, kept_of_ours: int
) -> None:
    """S3 takes 10 tags: every one of the user's is kept, and ours fill what is left, the most telling first."""
    existing = [{"Key": f"user{n}", "Value": str(n)} for n in range(user_tags)]
    ours = [("csv-ingest:status", "loaded"), ("csv-ingest:rows", "r"), ("csv-ingest:time", "t"), ("csv-ingest:x", "x")]
    tag_set, left_out = merged_tags(existing, ours)
    assert len(tag_set) == min(S3_MAX_OBJECT_TAGS, user_tags + len(ours))
    assert tag_set[:user_tags] == existing
    assert [tag["Key"] for tag in tag_set[user_tags:]] == [key for key, _ in ours[:kept_of_ours]]
    assert left_out == [key for key, _ in ours[kept_of_ours:]]


def test_an_outcome_is_read_back_from_its_tags() -> None:
    """The tags written are read back as the same status, counts, time and rejects bucket."""
    outcome = FileOutcome(
        obj=OBJ,
        status="failed",
        path=PATH_ONE_INVOCATION,
        counts={"rows_written": 3, "rows_rejected": 1, "rows_superseded": 0, "rows_failed": 2},
        rejects_report="s3://rj/k.csv",
        seconds=1.0,
        at=AT,
    )
    tags = [{"Key": "owner", "Value": "me"}, *({"Key": key, "Value": value} for key, value in outcome.tags())]
    recorded = RecordedOutcome.from_tags(tags)
    assert recorded == RecordedOutcome("failed", dict(outcome.counts), "2026-12-07T06:31:57Z", "rj")
    assert recorded.known


def test_tags_without_a_status_record_no_outcome() -> None:
    assert RecordedOutcome.from_tags([{"Key": "owner", "Value": "me"}]) is None
    assert RecordedOutcome.from_tags([]) is None


def test_a_status_the_pipeline_never_writes_is_not_known() -> None:
    recorded = RecordedOutcome.from_tags([{"Key": "csv-ingest:status", "Value": "done"}])
    assert recorded is not None and not recorded.known and recorded.counts == {}


def test_a_rows_tag_part_that_is_not_a_count_is_skipped() -> None:
    assert rows_from_tag("written=5 odd =3 rejected=x superseded=") == {"rows_written": 5}


def test_a_pass_is_timed_from_when_partition_began_it() -> None:
    """Finish's duration: from the run's `started_ms` to the moment asked; unknown (None) for a run without it (an
    execution started before passes were timed)."""
    from csv_ingest_engine.jobs import Run

    run = Run("p/", "a", "p/partitions.json", rows=1, partitions=1, started_ms=1_796_000_000_000)
    assert run.seconds_since_started(datetime.fromtimestamp(1_796_000_312.5, UTC)) == 312.5
    assert Run("p/", "a", "p/partitions.json", rows=1, partitions=1).seconds_since_started(AT) is None
