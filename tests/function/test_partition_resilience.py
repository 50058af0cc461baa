"""Partition rides out what S3 does to a long pass (S3 in moto, the client wrapped to misbehave): a stream that drops
mid-object is read on with a ranged GET of the same version, and chunk puts answered SlowDown are sent again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError
from urllib3.exceptions import ProtocolError

from csv_ingest_engine import IngestError, s3_resume
from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.jobs import FileJob
from csv_ingest_engine.settings import PartitionSettings
from csv_ingest_engine.splitting import partition_file
from tests.support import BUCKET, Aws
from tests.support.large_files import WORK_BUCKET


def never() -> bool:
    return False


def the_file(rows: int = 6000) -> bytes:
    """~100 KB of rows over 50 keys, each key's rows all over the file."""
    lines = ["customer_id,name,city"] + [f"k{i % 50:03d},name {i},city {i % 7}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def settings(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> PartitionSettings:
    """The partition task's settings with 4 partitions of the_file(), the work bucket, and no waiting between
    retries (the tests count them instead)."""
    aws.s3.create_bucket(Bucket=WORK_BUCKET)
    monkeypatch.setattr(s3_resume, "RESUME_BACKOFF_S", 0)
    return PartitionSettings(engine=EngineConfig(partition_bytes=30_000), work_bucket=WORK_BUCKET)


def partitioned(aws: Aws, s3: Any, job: FileJob, settings: PartitionSettings, run: str) -> dict[str, Any]:
    """The Partition task's output for `job` under the run prefix `run`, and every chunk it wrote, by its key under
    the run prefix: what the workers will read."""
    prefix = f"{job.work_prefix}{run}/"
    output = partition_file(s3, job, settings, run_prefix=prefix, should_stop=never)
    listing = aws.s3.list_objects_v2(Bucket=WORK_BUCKET, Prefix=prefix).get("Contents", [])
    chunks = {
        obj["Key"][len(prefix) :]: aws.s3.get_object(Bucket=WORK_BUCKET, Key=obj["Key"])["Body"].read()
        for obj in listing
    }
    entries = [{**entry, "run_prefix": None} for entry in output["partitions"]]
    return {"rows": output["rows"], "partitions": entries, "chunks": chunks}


class DroppingBody:
    """An S3 body whose connection drops (`error()` is raised) once it has given `after` bytes."""

    def __init__(self, body: Any, after: int, error: Callable[[], Exception], on_drop: Callable[[], None]) -> None:
        self._body, self._left, self._error, self._on_drop = body, after, error, on_drop

    def read(self, size: int = -1, /) -> bytes:
        if self._left <= 0:
            self._on_drop()
            raise self._error()
        data: bytes = self._body.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._body.close()


class FlakyS3:
    """The tests' S3 client, but the body of the n-th GetObject drops after drops[n] bytes (None: it does not)."""

    def __init__(
        self,
        s3: Any,
        drops: list[int | None],
        error: Callable[[], Exception],
        on_drop: Callable[[], None] = lambda: None,
    ) -> None:
        self._s3, self._drops, self._error, self._on_drop = s3, list(drops), error, on_drop
        self.requests: list[dict[str, Any]] = []

    def get_object(self, **request: Any) -> Any:
        self.requests.append(request)
        response = self._s3.get_object(**request)
        after = self._drops.pop(0) if self._drops else None
        if after is not None:
            response["Body"] = DroppingBody(response["Body"], after, self._error, self._on_drop)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


DROPS: dict[str, Callable[[], Exception]] = {
    "cut stream": lambda: ResponseStreamingError(error=ProtocolError("Connection broken: IncompleteRead")),
    "read timeout": lambda: ReadTimeoutError(endpoint_url="https://s3.amazonaws.com"),
    "short body": lambda: IncompleteReadError(actual_bytes=10, expected_bytes=20),
    "urllib3 protocol error": lambda: ProtocolError("Connection aborted."),
    "connection reset": lambda: ConnectionResetError(104, "Connection reset by peer"),
}


@pytest.mark.parametrize("error", DROPS.values(), ids=DROPS.keys())
def test_a_dropped_stream_is_read_on_and_the_partitions_are_those_of_an_undisturbed_run(
    aws: Aws, settings: PartitionSettings, error: Callable[[], Exception]
) -> None:
    """The stream drops three times (twice in a row at the same byte): the chunks and counts are byte for byte an
    undisturbed run's, and each resume asked for the same version, from the next byte, if its ETag still matches."""
    # given
    body = the_file()
    version = aws.upload("big.csv", body)
    job = FileJob.for_upload(BUCKET, "big.csv", version, size=len(body), sequencer="01")
    undisturbed = partitioned(aws, aws.s3, job, settings, "calm")
    flaky = FlakyS3(aws.s3, [20_000, 0, 35_000, None], error)
    # when
    disturbed = partitioned(aws, flaky, job, settings, "flaky")
    # then
    assert disturbed == undisturbed
    assert undisturbed["rows"] == 6000
    etag = aws.s3.head_object(Bucket=BUCKET, Key="big.csv", VersionId=version)["ETag"]
    assert flaky.requests == [
        {"Bucket": BUCKET, "Key": "big.csv", "VersionId": version},
        {"Bucket": BUCKET, "Key": "big.csv", "VersionId": version, "Range": "bytes=20000-", "IfMatch": etag},
        {"Bucket": BUCKET, "Key": "big.csv", "VersionId": version, "Range": "bytes=20000-", "IfMatch": etag},
        {"Bucket": BUCKET, "Key": "big.csv", "VersionId": version, "Range": "bytes=55000-", "IfMatch": etag},
    ]


def test_a_stream_that_keeps_dropping_fails_the_file_saying_where(aws: Aws, settings: PartitionSettings) -> None:
    """Six drops in a row at one byte: the task gives up with a message naming the object, the byte and the cause."""
    body = the_file()
    version = aws.upload("big.csv", body)
    job = FileJob.for_upload(BUCKET, "big.csv", version, size=len(body), sequencer="01")
    flaky = FlakyS3(aws.s3, [40_000, 0, 0, 0, 0, 0, None], DROPS["cut stream"])
    with pytest.raises(IngestError) as failure:
        partition_file(flaky, job, settings, run_prefix=f"{job.work_prefix}run/", should_stop=never)
    assert str(failure.value).startswith(
        f"s3://{BUCKET}/big.csv: the object version {version} could not be read to its end: the connection to S3 "
        f"dropped 6 times in a row at byte 40,000 of {len(body):,} (An error occurred while reading from response "
    )
    assert "Nothing was written to the table" in str(failure.value)
    assert len(flaky.requests) == 6


def test_an_object_replaced_while_it_is_read_is_not_read_on(aws: Aws, settings: PartitionSettings) -> None:
    """Without versioning a key's object can be replaced mid-read: the resumed GET's IfMatch refuses the new one, and
    the task fails instead of partitioning half of one file and half of another."""
    # given
    aws.s3.create_bucket(Bucket="plain-uploads")
    body = the_file()
    aws.s3.put_object(Bucket="plain-uploads", Key="daily.csv", Body=body)
    job = FileJob.for_upload("plain-uploads", "daily.csv", None, size=len(body), sequencer="01")

    def replaced() -> None:
        aws.s3.put_object(Bucket="plain-uploads", Key="daily.csv", Body=the_file(7000))

    flaky = FlakyS3(aws.s3, [30_000], DROPS["connection reset"], on_drop=replaced)
    # when
    with pytest.raises(IngestError) as failure:
        partition_file(flaky, job, settings, run_prefix=f"{job.work_prefix}run/", should_stop=never)
    # then
    message = str(failure.value)
    assert message.startswith(
        "s3://plain-uploads/daily.csv: the object was replaced or deleted while the partition task read it"
    )
    assert "PreconditionFailed" in message
    assert "resumed at byte 30,000" in message


def test_a_drop_at_the_deadline_fails_instead_of_reading_on(aws: Aws, settings: PartitionSettings) -> None:
    """At the deadline a drop is not resumed: the task fails in time, saying nothing was written."""
    body = the_file()
    version = aws.upload("big.csv", body)
    job = FileJob.for_upload(BUCKET, "big.csv", version, size=len(body), sequencer="01")
    deadline = {"passed": False}

    def deadline_passes() -> None:
        deadline["passed"] = True

    flaky = FlakyS3(aws.s3, [2_000], DROPS["read timeout"], on_drop=deadline_passes)
    with pytest.raises(IngestError, match=r"as the partition task was about to time out\. Nothing was written"):
        partition_file(
            flaky, job, settings, run_prefix=f"{job.work_prefix}run/", should_stop=lambda: deadline["passed"]
        )
    assert len(flaky.requests) == 1
