"""What an operator sees: EMF metrics, JSON logs with a correlation id, and the deadline guard."""

from __future__ import annotations

import re

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.constants import METRICS_NAMESPACE
from handler import handler
from tests.support import Aws, DemoContext, emf_metrics, json_logs


def test_metrics_carry_rows_written_and_rejected(
    aws: Aws, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """One invocation emits RowsWritten, RowsRejected and FilesProcessed in the stack's namespace."""
    key, version = aws.upload_sample("edge-rejected-rows.csv")
    handler(aws.event(key, version), lambda_context)
    out = stdout.readouterr().out
    assert f'"Namespace":"{METRICS_NAMESPACE}"' in out.replace(" ", "")
    metrics = emf_metrics(out)
    assert metrics["RowsWritten"] == [3]
    assert metrics["RowsRejected"] == [3]
    assert metrics["FilesProcessed"] == [1]
    assert "FilesFailed" not in metrics


def test_a_failed_file_is_counted_in_files_failed(
    aws: Aws, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """Metrics are flushed even though the invocation raises."""
    key, version = aws.upload_sample("sample-bad.csv")
    with pytest.raises(IngestError):
        handler(aws.event(key, version), lambda_context)
    assert emf_metrics(stdout.readouterr().out)["FilesFailed"] == [1]


def test_logs_carry_the_object_and_a_correlation_id_per_file(
    aws: Aws, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """Each file's log lines name its bucket, key and version, and carry S3's request id as correlation id."""
    key, version = aws.upload_sample("sample-good.csv")
    handler(aws.event(key, version, request_id="C3D13FE58DE4C810"), lambda_context)
    (ingested,) = [log for log in json_logs(stdout.readouterr().out) if log["message"] == "file ingested"]
    assert ingested["object_key"] == key
    assert ingested["version_id"] == version
    assert ingested["correlation_id"] == "C3D13FE58DE4C810"
    assert (ingested["rows_written"], ingested["rows_rejected"]) == (5, 0)


def test_deadline_guard_stops_cleanly_naming_the_line_reached(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Near the timeout the function stops, names the line from which rows may be missing; written rows stay."""
    # given: plenty of time for the first pass's three looks at the clock (it reads the whole file before writing)
    # and the writing pass's first two, then less than the margin
    answers = iter([900_000] * 5)
    monkeypatch.setattr(lambda_context, "get_remaining_time_in_millis", lambda: next(answers, 1_000))
    body = "customer_id,name\n" + "".join(f"{i},name {i}\n" for i in range(1, 1001))
    version = aws.upload("large.csv", body)
    # when
    with pytest.raises(IngestError) as failure:
        handler(aws.event("large.csv", version), lambda_context)
    # then
    message = str(failure.value)
    found = re.search(r"about to time out, so ingestion stopped before line (\d+) \((\d+) rows? written", message)
    assert found, message
    line, written = int(found[1]), int(found[2])
    assert "too large for one invocation" in message
    assert "large-file threshold (context large_file_bytes) are written in parallel partitions" in message
    items = aws.items()
    assert len(items) == written < 1000  # the count is exact, and the file was not finished
    # every row before the named line is in the table (customer i is on line i + 1)
    assert all(str(i) in items for i in range(1, line - 1))
    # the clock is looked at every 256 rows: the third look, at the row on line 770, stopped the reading
    assert line <= 770
