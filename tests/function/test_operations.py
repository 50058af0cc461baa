"""What an operator sees: EMF metrics, JSON logs with a correlation id, and the deadline guard."""

from __future__ import annotations

import pytest
from moto_account import Aws, EventFactory, FakeLambdaContext, emf_metrics, json_logs

from handler import METRICS_NAMESPACE, handler
from ingest_engine import IngestError

pytestmark = pytest.mark.usefixtures("aws")


def test_metrics_carry_rows_written_and_rejected(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, stdout: pytest.CaptureFixture[str]
):
    """One invocation emits RowsWritten, RowsRejected and FilesProcessed in the stack's namespace."""
    key, version = aws.upload_sample("edge-rejected-rows.csv")
    handler(s3_event(key, version), lambda_context)
    out = stdout.readouterr().out
    assert f'"Namespace":"{METRICS_NAMESPACE}"' in out.replace(" ", "")
    metrics = emf_metrics(out)
    assert metrics["RowsWritten"] == [3]
    assert metrics["RowsRejected"] == [3]
    assert metrics["FilesProcessed"] == [1]
    assert "FilesFailed" not in metrics


def test_a_failed_file_is_counted_in_files_failed(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, stdout: pytest.CaptureFixture[str]
):
    """Metrics are flushed even though the invocation raises."""
    key, version = aws.upload_sample("sample-bad.csv")
    with pytest.raises(IngestError):
        handler(s3_event(key, version), lambda_context)
    assert emf_metrics(stdout.readouterr().out)["FilesFailed"] == [1]


def test_logs_carry_the_object_and_a_correlation_id_per_file(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, stdout: pytest.CaptureFixture[str]
):
    """Each file's log lines name its bucket, key and version, and carry S3's request id as correlation id."""
    key, version = aws.upload_sample("sample-good.csv")
    handler(s3_event(key, version), lambda_context)
    (ingested,) = [log for log in json_logs(stdout.readouterr().out) if log["message"] == "file ingested"]
    assert ingested["object_key"] == key
    assert ingested["version_id"] == version
    assert ingested["correlation_id"] == "C3D13FE58DE4C810"  # responseElements.x-amz-request-id of the event
    assert (ingested["rows_written"], ingested["rows_rejected"]) == (5, 0)


def test_deadline_guard_stops_cleanly_naming_the_line_reached(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext
):
    """Near the timeout the function stops reading and fails saying how far it got; written rows stay."""
    # given: plenty of time at first, then less than the margin
    answers = iter([900_000])
    lambda_context.get_remaining_time_in_millis = lambda: next(answers, 1_000)  # type: ignore[method-assign]
    body = "customer_id,name\n" + "".join(f"{i},name {i}\n" for i in range(1, 1001))
    version = aws.upload("large.csv", body)
    # when
    with pytest.raises(IngestError) as failure:
        handler(s3_event("large.csv", version), lambda_context)
    # then: the first check (record 256, line 257) had time; the second (record 512, line 513) did not
    message = str(failure.value)
    assert "about to time out, so ingestion stopped before line 513 (511 rows written, 0 rejected so far)" in message
    assert "too large for one invocation" in message
    assert len(aws.items()) == 511
