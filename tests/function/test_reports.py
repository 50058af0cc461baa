"""Rejected rows end up in one CSV report (the rejects bucket, or --rejects) a user can fix and upload again."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from csv_ingest_engine import IngestError, Rejection, clients
from csv_ingest_engine.reports import RejectsReport
from handler import handler
from tests.support import BUCKET, REJECTS_BUCKET, Aws, DemoContext, emf_metrics, json_logs


def test_rejected_rows_produce_exactly_one_report_with_cells_line_and_reason(
    aws: Aws, lambda_context: DemoContext
) -> None:
    """Every rejected row is in the report with its original cells, its line and the reason."""
    key, version = aws.upload_sample("edge-rejected-rows.csv")
    summary = handler(aws.event(key, version), lambda_context)
    reports = aws.reports()
    report_key = f"edge-rejected-rows.{version}.rejected.csv"
    assert list(reports) == [report_key]
    assert summary["files"][0]["rejects_report"] == f"s3://{REJECTS_BUCKET}/{report_key}"
    rows = list(csv.reader(io.StringIO(reports[report_key])))
    assert rows == [
        ["customer_id", "name", "city", "rejected_line", "rejected_reason"],
        ["", "Nobody", "Nowhere", "3", "the 'customer_id' cell is empty"],
        ["   ", "Blank", "Space", "4", "the 'customer_id' cell is empty"],
        [
            "202",
            "Bob",
            "Paris",
            "5",
            "the row has 4 fields but the header has 3 columns (an unquoted comma in a cell?)",
            "extra",
        ],
    ]


def test_clean_file_writes_no_report(aws: Aws, lambda_context: DemoContext) -> None:
    """A file with no rejected rows leaves the rejects bucket empty."""
    key, version = aws.upload_sample("sample-good.csv")
    summary = handler(aws.event(key, version), lambda_context)
    assert aws.reports() == {}
    assert "rejects_report" not in summary["files"][0]


# What a run that could not write some rows leaves (the writer gave up on a throttled table).
STALE_REPORT = (
    'customer_id,name,city,rejected_line,rejected_reason\r\n101,Tom,Leeds,2,"not written, retries exhausted"\r\n'
)


def test_a_run_without_rejections_removes_that_versions_earlier_report(aws: Aws, lambda_context: DemoContext) -> None:
    """An earlier run of this version left a report; this run wrote every row: the report goes, other versions' and
    other files' reports stay."""
    # given
    key, version = aws.upload_sample("sample-good.csv")
    other_version = aws.upload("sample-good.csv", "customer_id,name\n1,Ann\n")
    earlier, kept = f"sample-good.{version}.rejected.csv", f"sample-good.{other_version}.rejected.csv"
    for report_key in (earlier, kept, "other.rejected.csv"):
        aws.s3.put_object(Bucket=REJECTS_BUCKET, Key=report_key, Body=STALE_REPORT)
    # when
    summary = handler(aws.event(key, version), lambda_context)
    # then
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (5, 0)
    assert "rejects_report" not in summary["files"][0]
    assert sorted(aws.reports()) == sorted([kept, "other.rejected.csv"])


def test_an_earlier_report_that_cannot_be_deleted_is_logged_and_the_file_still_succeeds(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch, stdout: pytest.CaptureFixture[str]
) -> None:
    """S3 refuses the delete: the rows are written and the file succeeds (not ingested again for a report); the log
    names the report left behind, for someone to delete."""
    # given
    key, version = aws.upload_sample("sample-good.csv")
    earlier = f"sample-good.{version}.rejected.csv"
    aws.s3.put_object(Bucket=REJECTS_BUCKET, Key=earlier, Body=STALE_REPORT)

    def refused(**_: object) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "DeleteObject")

    monkeypatch.setattr(clients.s3_client(), "delete_object", refused)
    # when
    summary = handler(aws.event(key, version), lambda_context)
    # then
    assert summary["files"][0]["status"] == "ingested"
    assert len(aws.items()) == 5
    assert list(aws.reports()) == [earlier]
    (logged,) = [line for line in json_logs(stdout.readouterr().out) if line["level"] == "ERROR"]
    assert logged["message"].startswith("an earlier run's report of rejected rows could not be deleted")
    assert logged["rejects_report"] == f"s3://{REJECTS_BUCKET}/{earlier}"
    assert "AccessDenied" in logged["error"]


def test_a_run_that_fails_before_rejecting_a_row_keeps_the_earlier_report(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that failed (here: the table does not exist) never got through the rows the earlier report lists,
    which may still be missing: that report stays."""
    # given
    key, version = aws.upload_sample("sample-good.csv")
    earlier = f"sample-good.{version}.rejected.csv"
    aws.s3.put_object(Bucket=REJECTS_BUCKET, Key=earlier, Body=STALE_REPORT)
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    # when
    with pytest.raises(IngestError, match="no-such-table"):
        handler(aws.event(key, version), lambda_context)
    # then
    assert aws.reports() == {earlier: STALE_REPORT}


def test_fixed_report_uploads_again_without_its_annotation_columns(aws: Aws, lambda_context: DemoContext) -> None:
    """Fill in the missing keys, upload the report as it is: the rows land, `rejected_*` columns do not."""
    key, version = aws.upload_sample("edge-rejected-rows.csv")
    handler(aws.event(key, version), lambda_context)
    (report,) = aws.reports().values()
    rows = list(csv.reader(io.StringIO(report)))
    rows[1][0], rows[2][0] = "205", "206"  # the user fills in the keys
    rows[3] = rows[3][:5]  # and drops the stray extra field
    fixed = io.StringIO()
    csv.writer(fixed).writerows(rows)
    fixed_version = aws.upload("fixed.csv", fixed.getvalue())

    summary = handler(aws.event("fixed.csv", fixed_version), lambda_context)

    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (3, 0)
    items = aws.items()
    assert items["205"] == {"customer_id": "205", "name": "Nobody", "city": "Nowhere"}
    assert items["206"] == {"customer_id": "206", "name": "Blank", "city": "Space"}
    assert items["202"] == {"customer_id": "202", "name": "Bob", "city": "Paris"}


def test_a_report_row_with_its_stray_cells_still_after_rejected_reason_is_rejected_again(
    aws: Aws, lambda_context: DemoContext
) -> None:
    """The README's warning: a report uploaded as it is, the stray `extra` still after `rejected_reason`, has that
    row rejected again (the others land)."""
    key, version = aws.upload_sample("edge-rejected-rows.csv")
    handler(aws.event(key, version), lambda_context)
    (report,) = aws.reports().values()
    rows = list(csv.reader(io.StringIO(report)))
    rows[1][0], rows[2][0] = "205", "206"  # the user fills in the keys, and leaves row 3's stray cell
    fixed = io.StringIO()
    csv.writer(fixed).writerows(rows)
    fixed_version = aws.upload("fixed.csv", fixed.getvalue())

    summary = handler(aws.event("fixed.csv", fixed_version), lambda_context)

    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (2, 1)
    assert "202" not in aws.items()


def test_a_report_that_cannot_be_written_fails_that_file_only(
    aws: Aws,
    lambda_context: DemoContext,
    monkeypatch: pytest.MonkeyPatch,
    stdout: pytest.CaptureFixture[str],
) -> None:
    """No rejects bucket: the file with rejections fails naming it and the bucket; the next file still goes in."""
    monkeypatch.setenv("REJECTS_BUCKET", "no-such-bucket")
    rejected = aws.upload("rejected.csv", "customer_id,name\n,No key\n1,Ann\n")
    good = aws.upload("good.csv", "customer_id,name\n2,Bob\n")
    event = {"Records": [aws.record("rejected.csv", rejected), aws.record("good.csv", good)]}

    with pytest.raises(IngestError) as failure:
        handler(event, lambda_context)

    message = str(failure.value)
    assert message.startswith(f"s3://{BUCKET}/rejected.csv: 1 row was rejected, but the report could not be")
    assert "s3://no-such-bucket/rejected." in message
    assert sorted(aws.items()) == ["1", "2"]
    metrics = emf_metrics(stdout.readouterr().out)
    assert (metrics["FilesFailed"], metrics["FilesProcessed"]) == ([1], [1])


def test_rows_rejected_before_a_file_failure_are_still_reported(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that fails at the table keeps its own error, and the rows rejected before it are in a report."""
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    version = aws.upload("half.csv", "customer_id,name\n,No key\n1,Ann\n")
    with pytest.raises(IngestError, match="no-such-table"):
        handler(aws.event("half.csv", version), lambda_context)
    (report,) = aws.reports().values()
    assert list(csv.reader(io.StringIO(report)))[1] == ["", "No key", "2", "the 'customer_id' cell is empty"]


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ('2,"never closed\n', "malformed CSV in the row that starts on line 5004"),
        ("2,caf\xe9\n", "not UTF-8 text (invalid bytes on line 5004)"),
    ],
)
def test_a_file_that_fails_as_a_whole_writes_nothing(
    aws: Aws, lambda_context: DemoContext, tail: str, expected: str
) -> None:
    """A bad line near the end fails the file before its first row is written: nothing half-loaded, no report."""
    rows = "".join(f"{i},name {i}\n" for i in range(1, 5001))
    body = ("customer_id,name\n,No key\n1,Ann\n" + rows + tail).encode("latin-1")
    version = aws.upload("late-failure.csv", body)
    with pytest.raises(IngestError, match=re.escape(expected)):
        handler(aws.event("late-failure.csv", version), lambda_context)
    assert aws.items() == {}
    assert aws.reports() == {}


# -- the report file itself (the command line's --rejects, the function's local copy) ---------------------------------


def _rejection(line: int, key: str = "") -> Rejection:
    return Rejection(line, key or None, "the 'customer_id' cell is empty", [key, f"name {line}"])


def _report(path: Path) -> RejectsReport:
    report = RejectsReport(path)
    report.header(("customer_id", "name"))
    return report


def test_report_rows_are_in_line_order_whatever_order_they_arrive_in(tmp_path: Path) -> None:
    """The writer's threads report refusals after the rules reject later lines: the report is in line order anyway."""
    # given
    path = tmp_path / "rejects.csv"
    report = _report(path)
    # when
    for line in (4, 6, 2, 3, 5):
        report.reject(_rejection(line))
    report.close()
    # then
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    assert rows[0] == ["customer_id", "name", "rejected_line", "rejected_reason"]
    assert [row[2] for row in rows[1:]] == ["2", "3", "4", "5", "6"]
    assert [row[1] for row in rows[1:]] == ["name 2", "name 3", "name 4", "name 5", "name 6"]


def test_report_takes_the_place_of_an_earlier_one_only_when_closed(tmp_path: Path) -> None:
    """Until the run ends, the report path still holds the earlier report, whole; then this run's report."""
    path = tmp_path / "rejects.csv"
    path.write_text("the earlier report\n")
    report = _report(path)
    report.reject(_rejection(3))
    assert path.read_text() == "the earlier report\n"
    report.close()
    assert [row[2] for row in list(csv.reader(path.open(encoding="utf-8", newline="")))[1:]] == ["3"]
    assert [p.name for p in tmp_path.iterdir()] == ["rejects.csv"]


def test_a_run_without_rejections_removes_an_earlier_report(tmp_path: Path) -> None:
    """No rejected row: no report, and none left from an earlier run to be taken for this one's."""
    path = tmp_path / "rejects.csv"
    path.write_text("customer_id,name,rejected_line,rejected_reason\r\n,x,2,stale\r\n")
    report = _report(path)
    report.close()
    assert list(tmp_path.iterdir()) == []


def test_a_crashed_run_leaves_the_earlier_report_and_no_temporary_file(tmp_path: Path) -> None:
    """A run that crashes part-way (an exception out of the `with`) changes nothing on disk."""
    path = tmp_path / "rejects.csv"
    path.write_text("the earlier report\n")
    with pytest.raises(KeyboardInterrupt), _report(path) as report:
        report.reject(_rejection(2))
        raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["rejects.csv"]
    assert path.read_text() == "the earlier report\n"
