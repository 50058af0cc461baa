"""Partition rides out what S3 does to a long pass (S3 in moto, the client wrapped to misbehave): a stream that drops
mid-object is read on with a ranged GET of the same version, and chunk puts answered SlowDown are sent again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError
from botocore.retries.standard import ExponentialBackoff
from urllib3.exceptions import ProtocolError

from csv_ingest_engine import IngestError, clients, partitioning, s3_resume, s3_streams
from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.jobs import FileJob
from csv_ingest_engine.ordering import now, stamp
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
    monkeypatch.setattr(s3_streams, "SLOWDOWN_BACKOFF_S", 0)
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
    # The chunks and the run's manifest, by their keys under the run prefix: what the workers will read.
    return {"rows": output.rows, "partitions": output.partitions, "chunks": chunks}


def partition_once(
    s3: Any, job: FileJob, settings: PartitionSettings, *, should_stop: Callable[[], bool] = never
) -> dict[str, Any]:
    """The Partition task's work on `job` with the client `s3` (a real one, or one made to misbehave)."""
    return partition_file(s3, job, settings, run_prefix=f"{job.work_prefix}run/", should_stop=should_stop).as_output()


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
    job = FileJob.for_upload(BUCKET, "big.csv", version, size=len(body), sequencer="01", order=stamp(now()))
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
    job = FileJob.for_upload(BUCKET, "big.csv", version, size=len(body), sequencer="01", order=stamp(now()))
    flaky = FlakyS3(aws.s3, [40_000, 0, 0, 0, 0, 0, None], DROPS["cut stream"])
    with pytest.raises(IngestError) as failure:
        partition_once(flaky, job, settings)
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
    job = FileJob.for_upload("plain-uploads", "daily.csv", None, size=len(body), sequencer="01", order=stamp(now()))

    def replaced() -> None:
        aws.s3.put_object(Bucket="plain-uploads", Key="daily.csv", Body=the_file(7000))

    flaky = FlakyS3(aws.s3, [30_000], DROPS["connection reset"], on_drop=replaced)
    # when
    with pytest.raises(IngestError) as failure:
        partition_once(flaky, job, settings)
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
    job = FileJob.for_upload(BUCKET, "big.csv", version, size=len(body), sequencer="01", order=stamp(now()))
    deadline = {"passed": False}

    def deadline_passes() -> None:
        deadline["passed"] = True

    flaky = FlakyS3(aws.s3, [2_000], DROPS["read timeout"], on_drop=deadline_passes)
    with pytest.raises(IngestError, match=r"as the partition task was about to time out\. Nothing was written"):
        partition_once(flaky, job, settings, should_stop=lambda: deadline["passed"])
    assert len(flaky.requests) == 1


# -- S3 answering SlowDown to the chunk puts ----------------------------------------------------------------------


class SlowDowns:
    """Answers the next `count` PutObject requests a client sends with 503 SlowDown, as S3 does while it scales a
    prefix (a `before-send` hook: the client's own retries see each answer, as they would S3's). botocore still hands
    each request to moto's own hook, which stores the object: what the work bucket holds says nothing here."""

    BODY = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"

    def __init__(self, client: Any, count: int) -> None:
        self.left = count
        self.sent = 0
        client.meta.events.register("before-send.s3.PutObject", self)

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        self.sent += 1
        if self.left <= 0:
            return None  # on to moto
        self.left -= 1
        return AWSResponse(request.url, 503, HTTPHeaders(), _Raw(self.BODY))


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self) -> Any:
        yield self._data


@pytest.fixture
def no_client_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's retries, without their waits (up to 1 s, then 2 s): the tests count attempts, not seconds."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


def test_the_s3_client_alone_gives_a_sustained_slowdown_three_attempts(aws: Aws, no_client_backoff: None) -> None:
    """What botocore's standard mode already does (the functions' client config): SlowDown is retried, twice, then
    raised, which is why chunk puts need patience of their own."""
    s3 = clients.s3_client()
    answers = SlowDowns(s3, count=10)
    with pytest.raises(ClientError, match="SlowDown"):
        s3.put_object(Bucket=BUCKET, Key="x.csv", Body=b"x")
    assert answers.sent == 3


def test_chunk_puts_ride_out_a_sustained_slowdown_and_the_file_partitions(
    aws: Aws, settings: PartitionSettings, no_client_backoff: None
) -> None:
    """S3 answers SlowDown to 20 puts in a row (several times what the client rides out alone): the chunks are sent
    again until S3 takes them, and they are an undisturbed run's, byte for byte."""
    # given
    body = the_file()
    version = aws.upload("big.csv", body)
    job = FileJob.for_upload(BUCKET, "big.csv", version, size=len(body), sequencer="01", order=stamp(now()))
    undisturbed = partitioned(aws, aws.s3, job, settings, "calm")
    s3 = clients.s3_client()
    answers = SlowDowns(s3, count=20)
    # when
    throttled = partitioned(aws, s3, job, settings, "throttled")
    # then
    assert throttled == undisturbed
    assert answers.left == 0
    assert answers.sent == 20 + len(undisturbed["chunks"])


def test_a_slowdown_that_outlasts_the_deadline_fails_the_file_saying_so(
    aws: Aws, settings: PartitionSettings, no_client_backoff: None
) -> None:
    """S3 never takes the chunks: at the deadline the task fails, naming SlowDown and the chunk, nothing written."""
    body = the_file()
    version = aws.upload("big.csv", body)
    job = FileJob.for_upload(BUCKET, "big.csv", version, size=len(body), sequencer="01", order=stamp(now()))
    s3 = clients.s3_client()
    answers = SlowDowns(s3, count=10**6)

    def after_30_answers() -> bool:
        return answers.sent >= 30

    with pytest.raises(IngestError) as failure:
        partition_once(s3, job, settings, should_stop=after_30_answers)
    message = str(failure.value)
    assert message.startswith(f"s3://{BUCKET}/big.csv: S3 answered SlowDown to the partition chunk s3://{WORK_BUCKET}/")
    assert "until the partition task was about to time out" in message
    assert "nothing was written to the table" in message
    assert answers.sent < 30 + 4 * 3  # each thread stops at its next answer: no put is sent after the deadline


def test_a_file_that_fails_while_s3_slows_down_fails_at_once_with_its_own_error(
    aws: Aws, settings: PartitionSettings, no_client_backoff: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad byte at the end fails the file while chunk puts are waiting for S3 (one partition of ~900 KB in chunks
    of at most 256 KiB: three go out as the file is read, fewer than are held at once): the task does not wait for
    S3 to take chunks it no longer needs, and the message is the file's."""
    monkeypatch.setattr(partitioning, "MAX_CHUNK_BYTES", 256 * 1024)  # the size a 1,000-partition file's chunks have
    body = the_file(40_000) + b"k001,Jos\xe9,city\n"
    version = aws.upload("latin1.csv", body)
    job = FileJob.for_upload(BUCKET, "latin1.csv", version, size=len(body), sequencer="01", order=stamp(now()))
    s3 = clients.s3_client()
    answers = SlowDowns(s3, count=10**6)

    def much_later() -> bool:  # the deadline, a net under the test in case the puts did wait
        return answers.sent >= 400

    one_partition = PartitionSettings(engine=EngineConfig(partition_bytes=len(body)), work_bucket=WORK_BUCKET)
    with pytest.raises(IngestError, match=r"the file is not UTF-8 text \(invalid bytes on line 40002\)"):
        partition_once(s3, job, one_partition, should_stop=much_later)
    assert 0 < answers.sent < 100
