"""The deadline cannot be skipped: a file padded with blank lines stops in time on both paths, and a `.csv.gz` whose
size and trailer said far less text than it holds goes to the state machine, sized by what was read."""

from __future__ import annotations

import gzip
import json

import boto3
import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.constants import DEADLINE_MARGIN_MS
from csv_ingest_engine.jobs import FileJob
from csv_ingest_engine.ordering import now, stamp
from csv_ingest_engine.partitioning import content_bytes
from csv_ingest_engine.tasks.partition import partition
from handler import handler
from tests.support import BUCKET, Aws, DemoContext, json_logs
from tests.support.large_files import create_flow

THRESHOLD = 100_000
# 600,000 bytes of text in 120 rows that gzip takes to ~1 KB, then a last member of one row: its trailer says 6
# bytes, and ten times the object's size is far under the threshold, so the estimate sends it to one invocation.
TEXT = b"customer_id,name\n" + (b"1," + b"x" * 4_998 + b"\n") * 120 + b"2,Bob\n"
UNDERSTATED = gzip.compress(TEXT[:-6], mtime=0) + gzip.compress(TEXT[-6:], mtime=0)
WORK_BUCKET = "csv-ingest-work-bounds"
LATE = DemoContext(remaining_ms=DEADLINE_MARGIN_MS - 1)


@pytest.fixture
def state_machine(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    arn = create_flow(aws, partition_bytes=1024)
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("LARGE_FILE_BYTES", str(THRESHOLD))
    return arn


def test_a_gzip_holding_far_more_than_its_estimate_goes_to_the_state_machine(
    aws: Aws, state_machine: str, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """The first pass reads over twice the threshold: nothing is written, the state machine gets the file with the
    text's size as counted, and the log says why."""
    # given: the estimate is under the threshold
    assert content_bytes("big.csv.gz", len(UNDERSTATED), UNDERSTATED[-4:]) <= THRESHOLD
    version = aws.upload("big.csv.gz", UNDERSTATED)
    # when
    summary = handler(aws.event("big.csv.gz", version, size=len(UNDERSTATED)), lambda_context)
    # then
    (entry,) = summary["files"]
    assert entry["status"] == "started"
    assert aws.items() == {}
    started = boto3.client("stepfunctions").describe_execution(executionArn=entry["execution_arn"])
    job = FileJob.from_event(json.loads(started["input"]))
    assert (job.key, job.size, job.text_bytes) == ("big.csv.gz", len(UNDERSTATED), len(TEXT))
    (log,) = [log for log in json_logs(stdout.readouterr().out) if log.get("text_bytes")]
    assert log["message"] == (
        "the file's text is far larger than its size and gzip trailer said: it goes to the state machine"
    )


def test_a_gzip_holding_up_to_twice_the_threshold_is_ingested_in_place(
    aws: Aws, state_machine: str, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A threshold set a little lower than the text (not twice as low) still ingests it where the estimate sent it."""
    monkeypatch.setenv("LARGE_FILE_BYTES", str(len(TEXT) // 2 + 1))
    version = aws.upload("big.csv.gz", UNDERSTATED)
    summary = handler(aws.event("big.csv.gz", version, size=len(UNDERSTATED)), lambda_context)
    assert summary["files"][0]["status"] == "ingested"
    assert sorted(aws.items()) == ["1", "2"]


def test_without_a_state_machine_a_gzip_of_any_size_is_ingested_in_place(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nowhere to hand it to, the file is read and written in this invocation, as before."""
    monkeypatch.setenv("LARGE_FILE_BYTES", str(THRESHOLD))
    version = aws.upload("big.csv.gz", UNDERSTATED)
    summary = handler(aws.event("big.csv.gz", version, size=len(UNDERSTATED)), lambda_context)
    assert summary["files"][0]["status"] == "ingested"


BLANK_PADDED = "customer_id,name\n" + "\n" * 1_000_000 + "1,Ann\n"


def test_the_trigger_stops_in_blank_lines_before_writing(aws: Aws) -> None:
    """A million blank lines before the only row, with the deadline near: the first pass stops inside them, says so,
    and writes nothing (it used to read them all without looking at the clock)."""
    version = aws.upload("padded.csv", BLANK_PADDED)
    with pytest.raises(IngestError, match="about to time out, so ingestion stopped before the first row was written"):
        handler(aws.event("padded.csv", version), LATE)
    assert aws.items() == {}


@pytest.fixture
def work(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    aws.s3.create_bucket(Bucket=WORK_BUCKET)
    monkeypatch.setenv("WORK_BUCKET", WORK_BUCKET)
    return WORK_BUCKET


def job_input(aws: Aws, key: str, body: str, *, text_bytes: int | None = None) -> dict[str, object]:
    """The execution's input for `body` uploaded as `key`, as the trigger makes it."""
    version = aws.upload(key, body)
    size = len(body.encode())
    job = FileJob.for_upload(BUCKET, key, version, size=size, sequencer="01", order=stamp(now()), text_bytes=text_bytes)
    return job.as_input()


def test_partition_stops_in_blank_lines(aws: Aws, work: str) -> None:
    """The Partition task looks at the clock in blank lines too: it stops inside them, nothing written."""
    with pytest.raises(IngestError, match="the partition task was about to time out after reading"):
        partition(job_input(aws, "padded.csv", BLANK_PADDED), LATE)


def test_partition_sizes_partitions_by_the_text_the_trigger_counted(
    aws: Aws, work: str, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An execution the trigger started after counting the text: its partitions are cut by that count (4 of them
    here), not by the object's size (1)."""
    body = "customer_id,name\n" + "".join(f"k{i},n\n" for i in range(400))
    monkeypatch.setenv("PARTITION_BYTES", str(len(body)))
    assert partition(job_input(aws, "a.csv", body), lambda_context)["partitions"] == 1
    counted = partition(job_input(aws, "b.csv", body, text_bytes=4 * len(body)), lambda_context)
    assert counted["partitions"] == 4
