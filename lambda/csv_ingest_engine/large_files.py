"""Files too large for one invocation: the trigger starts a state machine execution, whose three tasks live here.

Partition streams the object version once (no copy in /tmp, bounded memory) and writes each key partition as chunk
objects to the work bucket; one worker per partition ingests its chunks with the engine's rules and writer (a key's
rows all in one partition, in file order, each with its line in the file) and leaves its counts and partial rejects
report there; Finish checks that every partition reported, merges the partial reports into the one report the
one-invocation path writes, emits the file's metrics and deletes the work objects, or fails the execution naming
the object.

Every work object of one Partition run is under its own run prefix, `<work_prefix><run token>/`, which the run's
output and each of its partition entries carry: a new execution with the same input (or a Partition retried) then
never reads what an earlier run left, and a redriven Finish reads the run its state names.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import heapq
import io
import json
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine.clients import dynamodb_client, s3_client
from csv_ingest_engine.constants import (
    DEADLINE_MARGIN_MS,
    MAX_PARTITIONS,
    METRIC_FILES_FAILED,
    METRIC_FILES_PROCESSED,
    METRIC_ROWS_REJECTED,
    METRIC_ROWS_WRITTEN,
)
from csv_ingest_engine.errors import IngestError, IngestStopped
from csv_ingest_engine.ingest import STOP_CHECK_EVERY, ingest_records
from csv_ingest_engine.objects import last_bytes, rejects_report_key, temporary_path
from csv_ingest_engine.partitioning import (
    ChunkedPartitions,
    chunk_key,
    content_bytes,
    partition_count,
    read_chunk,
    rejects_key,
    result_key,
)
from csv_ingest_engine.reading import FIELD_SIZE_LIMIT, ReadableBytes, Record, read_stream
from csv_ingest_engine.reports import RejectsReport, report_start
from csv_ingest_engine.rules import ANNOTATION_COLUMNS, UNTYPED_COLUMNS, Rejection, parse_header
from csv_ingest_engine.schema import CsvFormat, gzipped
from csv_ingest_engine.settings import FinishSettings, IngestPartitionSettings, PartitionSettings
from csv_ingest_engine.writing import TableWriter

logger = Logger()
metrics = Metrics()

# Step Functions' execution names: at most 80 characters of these (CloudWatch Logs takes no others).
EXECUTION_NAME_CHARS = 80
_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_-]+")
# 96 bits of SHA-256: two different uploads never share an execution (or its work objects).
NAME_HASH_CHARS = 24
# A Partition run's token (a UUID4's hex digits), which makes its run prefix under the execution's work prefix.
RUN_TOKEN_CHARS = 32
# The partition list travels in the execution's state, which Step Functions caps at 256 KiB: the partition task
# makes no more partitions than fit in this much of it (fewer, larger ones for a file with a very long key).
STATE_BUDGET_BYTES = 200 * 1024
# Chunk objects being uploaded while the file is read on (each at most partitioning.MAX_CHUNK_BYTES).
UPLOAD_THREADS = 4
# Partial reports are read in ranges of this size, so Finish keeps no connection open per partition while it
# merges (memory: one block per partition with rejected rows).
REPORT_BLOCK_BYTES = 128 * 1024
# S3's DeleteObjects takes at most this many keys per request.
DELETE_BATCH = 1000
# Failed partitions named in Finish's error, which becomes the execution's cause (at most 32,768 characters).
SHOWN_PROBLEMS = 10
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
# A failed step's error is the execution's cause: how to ingest the file again. The Map tolerates every failure
# (Finish counts who reported), so a redrive reruns only Partition or Finish, never a worker.
AGAIN = (
    "Rows already written stay, and ingesting the file again is safe (every write is an upsert, and a new run has "
    "its own work objects): upload the file again, or start a new execution of the state machine with this "
    "execution's input. `aws stepfunctions redrive-execution` helps only when Partition or Finish itself failed on "
    "an AWS-side error (such as S3 throttling): it reruns that step alone, never a partition's worker"
)

T = TypeVar("T")


# -- the execution's input, and the trigger's start --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileJob:
    """One uploaded object version going through the state machine: the execution's input (see the contract), and
    what every task's output repeats."""

    bucket: str
    key: str
    version_id: str | None
    size: int
    work_prefix: str  # "<execution name>/": every work object of this execution is under it, one run prefix each

    @classmethod
    def for_upload(cls, bucket: str, key: str, version_id: str | None, *, size: int, sequencer: str) -> FileJob:
        name = execution_name(bucket, key, version_id, sequencer)
        return cls(bucket=bucket, key=key, version_id=version_id, size=size, work_prefix=f"{name}/")

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> FileJob:
        return cls(
            bucket=_field(event, "bucket", str),
            key=_field(event, "key", str),
            version_id=_version_id(event),
            size=_field(event, "size", int),
            work_prefix=_field(event, "work_prefix", str),
        )

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def execution_name(self) -> str:
        return self.work_prefix.rstrip("/")

    def as_input(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Started:
    execution_arn: str
    # S3 delivered the same event again (or the trigger was retried): the execution it started first is the one.
    already: bool


def execution_name(bucket: str, key: str, version_id: str | None, sequencer: str) -> str:
    """A valid execution name for one upload, the same every time S3 delivers its event: the end of the key as far as
    it is readable in a name, then a hash of the bucket, key, version and the event's sequencer (which tells two
    uploads of one key apart in a bucket without versioning)."""
    digest = hashlib.sha256(json.dumps([bucket, key, version_id, sequencer]).encode()).hexdigest()[:NAME_HASH_CHARS]
    stem = key[:-4] if key.lower().endswith(".csv") else key
    readable = _NOT_IN_A_NAME.sub("-", stem).strip("-")
    tail = readable[-(EXECUTION_NAME_CHARS - NAME_HASH_CHARS - 1) :].lstrip("-")
    return f"{tail}-{digest}" if tail else digest


def start_execution(client: Any, state_machine_arn: str, job: FileJob) -> Started:
    """Start the state machine on `job`, once per upload: the name is the job's, so a second start of the same
    upload finds the first execution (Step Functions refuses a name twice) instead of starting another."""
    try:
        response = client.start_execution(
            stateMachineArn=state_machine_arn, name=job.execution_name, input=json.dumps(job.as_input())
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return Started(_execution_arn(state_machine_arn, job.execution_name), already=True)
        raise _not_started(job, state_machine_arn, exc) from exc
    except BotoCoreError as exc:
        raise _not_started(job, state_machine_arn, exc) from exc
    return Started(response["executionArn"], already=False)


def _execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:aws:states:<region>:<account>:stateMachine:<machine> -> ...:execution:<machine>:<name>."""
    start, _, machine = state_machine_arn.partition(":stateMachine:")
    return f"{start}:execution:{machine}:{name}"


def _not_started(job: FileJob, state_machine_arn: str, exc: Exception) -> IngestError:
    return IngestError(
        job.source,
        f"the file is {job.size:,} bytes, large enough for the large-file state machine, but its execution could not "
        f"be started ({exc}); nothing was written. Check that the state machine {state_machine_arn} exists and that "
        "the function may states:StartExecution on it; the upload's event is retried, and uploading the file "
        "again is safe",
    )


# -- Partition ---------------------------------------------------------------------------------------------------------


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def partition(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The "Partition" task: cut the object into partitions in the work bucket; return the job, its row count and
    the partitions that have rows (the Map's items). Raises `IngestError` for a file that fails as a whole."""
    settings = PartitionSettings.from_env()
    job = FileJob.from_event(event)
    run_prefix = new_run_prefix(job)
    with _logging_context(job.execution_name, job.bucket, job.key, job.version_id, run_prefix=run_prefix):
        try:
            output = partition_file(s3_client(), job, settings, run_prefix=run_prefix, should_stop=_deadline(context))
        except IngestError as error:
            logger.error("file failed", extra={"error": str(error)})
            metrics.add_metric(name=METRIC_FILES_FAILED, unit=MetricUnit.Count, value=1)
            raise
        logger.info("file partitioned", extra={"rows": output["rows"], "partitions": len(output["partitions"])})
    return output


def new_run_prefix(job: FileJob) -> str:
    """Where one Partition run of `job` puts its work objects (and its workers and Finish look for them)."""
    return f"{job.work_prefix}{uuid.uuid4().hex}/"


def partition_file(
    s3: Any, job: FileJob, settings: PartitionSettings, *, run_prefix: str, should_stop: Callable[[], bool]
) -> dict[str, Any]:
    """Stream `job`'s object version through the reader and the header rules into chunk objects under `run_prefix`,
    one partition per key hash; return the Partition task's output."""
    trailer = last_bytes(s3, job.bucket, job.key, job.version_id, job.size) if gzipped(job.key) else None
    text_bytes = content_bytes(job.key, job.size, trailer)
    count = min(partition_count(text_bytes, settings.partition_bytes), fitting_partitions(job))
    with _object_body(s3, job) as body:
        records = read_stream(body, source=job.source, fmt=settings.fmt, gzip=gzipped(job.key))
        # The header is the first record: a bad header fails here, before a single chunk is written. A problem
        # further down (not UTF-8, malformed quoting) fails the task when the reader gets there, with chunks already
        # in the work bucket (they expire with it) but nothing written to the table yet: the workers never start.
        first = next(records, None)
        header_cells = first.cells if first is not None else []
        header = parse_header(header_cells, schema=settings.schema, source=job.source, delimiter=settings.fmt.delimiter)
        if header.untyped:
            logger.warning(UNTYPED_COLUMNS, extra={"columns": list(header.untyped)})
        with _ChunkUploads(s3, settings.work_bucket, job, run_prefix) as uploads:
            partitions = ChunkedPartitions(header, header_cells, count, uploads.put)
            partitions.add_all(_until_deadline(records, should_stop, job))
            partitions.close()
            uploads.wait()
    return _output(
        job,
        run_prefix,
        sum(partitions.rows),
        [
            _partition_entry(job, run_prefix, index, partitions.chunks[index], rows)
            for index, rows in enumerate(partitions.rows)
            if rows
        ],
    )


def fitting_partitions(job: FileJob) -> int:
    """How many partitions of `job` the execution's state can list (each entry repeats the job's location)."""
    run_prefix = f"{job.work_prefix}{'0' * RUN_TOKEN_CHARS}/"
    widest = _partition_entry(job, run_prefix, MAX_PARTITIONS, 10**9, 10**12)
    per_entry = len(json.dumps(widest)) + 2
    rest = len(json.dumps(_output(job, run_prefix, 10**12, [])))
    return max(1, (STATE_BUDGET_BYTES - rest) // per_entry)


def _output(job: FileJob, run_prefix: str, rows: int, partitions: list[dict[str, Any]]) -> dict[str, Any]:
    return {**job.as_input(), "run_prefix": run_prefix, "rows": rows, "partitions": partitions}


def _partition_entry(job: FileJob, run_prefix: str, index: int, chunks: int, rows: int) -> dict[str, Any]:
    return {
        "bucket": job.bucket,
        "key": job.key,
        "version_id": job.version_id,
        "work_prefix": job.work_prefix,
        "run_prefix": run_prefix,
        "index": index,
        "chunks": chunks,
        "rows": rows,
    }


@contextlib.contextmanager
def _object_body(s3: Any, job: FileJob) -> Iterator[ReadableBytes]:
    """The object version's bytes as S3 streams them; a failed read fails the file, naming it."""
    version = f" version {job.version_id}" if job.version_id else ""
    try:
        response = s3.get_object(
            Bucket=job.bucket, Key=job.key, **({"VersionId": job.version_id} if job.version_id else {})
        )
    except (ClientError, BotoCoreError) as exc:
        raise IngestError(
            job.source,
            f"could not read the object{version} ({exc}); it may have been deleted, or the partition function may "
            "lack s3:GetObject and s3:GetObjectVersion on it. Nothing was written",
        ) from exc
    body = response["Body"]
    try:
        yield _CheckedBody(body, job.source, version)
    finally:
        body.close()


class _CheckedBody:
    """An S3 body whose read errors (a connection cut, a stalled read) fail the file with a message naming it."""

    def __init__(self, body: ReadableBytes, source: str, version: str) -> None:
        self._body = body
        self._source = source
        self._version = version

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._body.read(size)
        except BotoCoreError as exc:
            raise IngestError(
                self._source,
                f"the object{self._version} could not be read to its end ({exc}). Nothing was written to the "
                f"table; {AGAIN}",
            ) from exc


def _until_deadline(records: Iterator[Record], should_stop: Callable[[], bool], job: FileJob) -> Iterator[Record]:
    """The records, until the invocation is about to time out: then the file fails (nothing written yet)."""
    for count, record in enumerate(records, start=1):
        if count % STOP_CHECK_EVERY == 0 and should_stop():
            raise IngestError(
                job.source,
                f"the partition task was about to time out after reading {count:,} rows (up to line {record.line:,}), "
                "so it stopped; nothing was written to the table. Give the functions more memory (and with it CPU) "
                "or a longer timeout (context memory_size_mb, timeout_minutes), or split the file; then upload it "
                "again",
            )
        yield record


class _ChunkUploads:
    """Puts chunk objects into the work bucket from a few threads while the file is read on. At most
    UPLOAD_THREADS chunks are held (waiting or travelling) at once, so memory stays bounded; a failed put fails
    the file."""

    def __init__(self, s3: Any, work_bucket: str, job: FileJob, run_prefix: str) -> None:
        self._s3 = s3
        self._bucket = work_bucket
        self._job = job
        self._run_prefix = run_prefix
        self._pool = ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="csv-ingest-chunks")
        self._in_flight: deque[tuple[str, Future[Any]]] = deque()

    def __enter__(self) -> _ChunkUploads:
        return self

    def __exit__(self, *_: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def put(self, index: int, chunk: int, data: bytes) -> None:
        while len(self._in_flight) >= UPLOAD_THREADS:
            self._settle(*self._in_flight.popleft())
        key = chunk_key(self._run_prefix, index, chunk)
        future = self._pool.submit(
            self._s3.put_object, Bucket=self._bucket, Key=key, Body=data, ContentType=CSV_CONTENT_TYPE
        )
        self._in_flight.append((key, future))

    def wait(self) -> None:
        """Return once every chunk is in the bucket."""
        while self._in_flight:
            self._settle(*self._in_flight.popleft())

    def _settle(self, key: str, future: Future[Any]) -> None:
        try:
            future.result()
        except (ClientError, BotoCoreError) as exc:
            raise IngestError(
                self._job.source,
                f"could not write the partition chunk s3://{self._bucket}/{key} ({exc}); nothing was written to the "
                "table. Check that the work bucket exists and that the partition function may s3:PutObject there, "
                "then upload the file again",
            ) from exc


# -- Ingest one partition ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartitionItem:
    """One entry of the Partition task's list: the Map's item, and all its worker needs."""

    bucket: str
    key: str
    version_id: str | None
    work_prefix: str
    run_prefix: str  # where this Partition run's chunks are, and this worker's result and partial report go
    index: int
    chunks: int
    rows: int

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> PartitionItem:
        return cls(
            bucket=_field(event, "bucket", str),
            key=_field(event, "key", str),
            version_id=_version_id(event),
            work_prefix=_field(event, "work_prefix", str),
            run_prefix=_field(event, "run_prefix", str),
            index=_field(event, "index", int),
            chunks=_field(event, "chunks", int),
            rows=_field(event, "rows", int),
        )

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True, slots=True)
class PartitionResult:
    """What a worker did with its partition (`results/pNNNNN.json` in the work bucket, and its return value).

    `rows_rejected` counts `rows_failed` too, as on the one-invocation path. `error` says why the partition did not
    finish (None: it did); rows from `first_missing_line` on may then be missing, when it is known.
    `rejects_report` is the work bucket key of the partial rejects report, set only once it is written.
    """

    index: int
    rows_written: int
    rows_rejected: int
    rows_failed: int
    first_missing_line: int | None
    error: str | None
    rejects_report: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> PartitionResult:
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        return cls(
            index=_field(data, "index", int),
            rows_written=_field(data, "rows_written", int),
            rows_rejected=_field(data, "rows_rejected", int),
            rows_failed=_field(data, "rows_failed", int),
            first_missing_line=_optional_field(data, "first_missing_line", int),
            error=_optional_field(data, "error", str),
            rejects_report=_optional_field(data, "rejects_report", str),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@logger.inject_lambda_context(clear_state=True)
def ingest_partition(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A Map item: ingest one partition, write its result (and partial rejects) to the work bucket, return it.

    A partition that fails (the table refused, the deadline, a chunk that cannot be read) is a result with an
    `error`, not an exception: Finish tells the whole story. Anything unexpected propagates: the iteration fails,
    and Finish finds no result.
    """
    settings = IngestPartitionSettings.from_env()
    item = PartitionItem.from_event(event)
    with _logging_context(
        item.work_prefix.rstrip("/"),
        item.bucket,
        item.key,
        item.version_id,
        run_prefix=item.run_prefix,
        partition=item.index,
    ):
        result = ingest_one_partition(
            s3_client(),
            dynamodb_client(settings.write_concurrency),
            item,
            settings,
            should_stop=_deadline(context),
            on_reject=_log_rejection,
        )
        counts = {"rows_written": result.rows_written, "rows_rejected": result.rows_rejected}
        if result.error is None:
            logger.info("partition ingested", extra=counts)
        else:
            logger.error("partition failed", extra={**counts, "error": result.error})
    return result.as_dict()


def ingest_one_partition(
    s3: Any,
    dynamodb: Any,
    item: PartitionItem,
    settings: IngestPartitionSettings,
    *,
    should_stop: Callable[[], bool],
    on_reject: Callable[[Rejection], None] | None = None,
) -> PartitionResult:
    """Ingest `item`'s chunks in order; leave the partial rejects report (if any row was rejected) and the result in
    the work bucket; return the result."""
    writer = TableWriter(
        dynamodb,
        table_name=settings.table_name,
        concurrency=settings.write_concurrency,
        mode=settings.write_mode,
    )
    # The report's temporary file goes too if anything unexpected happens: a warm Lambda keeps /tmp.
    with temporary_path() as report_path, RejectsReport(report_path) as report:
        chunks = _PartitionChunks(s3, settings.work_bucket, item)
        result = _ingest_chunks(chunks, item, settings, writer, on_reject, report, should_stop)
        report.close()
        if report.count:
            result = _upload_partial_report(s3, settings.work_bucket, item, report, result)
    s3.put_object(
        Bucket=settings.work_bucket,
        Key=result_key(item.run_prefix, item.index),
        Body=json.dumps(result.as_dict()).encode(),
        ContentType="application/json",
    )
    return result


def _ingest_chunks(
    chunks: _PartitionChunks,
    item: PartitionItem,
    settings: IngestPartitionSettings,
    writer: TableWriter,
    on_reject: Callable[[Rejection], None] | None,
    report: RejectsReport,
    should_stop: Callable[[], bool],
) -> PartitionResult:
    def failed(error: str, first_missing_line: int | None, counts: IngestError) -> PartitionResult:
        """The partition failed: the counts of then (none before the first write)."""
        written = counts.rows_written or 0
        return PartitionResult(item.index, written, counts.rows_rejected, counts.rows_failed, first_missing_line, error)

    try:
        header = parse_header(chunks.header_cells(), schema=settings.schema, source=item.source)
        result = ingest_records(
            chunks.records(),
            header,
            source=item.source,
            writer=writer,
            on_reject=on_reject,
            report=report,
            should_stop=should_stop,
        )
    except IngestStopped as stop:
        line = stop.first_missing_line
        return failed(
            f"the invocation was about to time out, so it stopped before line {line:,}; a partition this large takes "
            "longer than the function's timeout (make partitions smaller with context partition_bytes, or the "
            "timeout longer)",
            line,
            stop,
        )
    except IngestError as failure:  # the table refused (its message names the line), or the report failed
        return failed(failure.problem, None, failure)
    problem = chunks.error
    if problem is None and chunks.read != item.rows:
        problem = f"it read {chunks.read:,} of the {item.rows:,} rows the partition task wrote to the work bucket"
    return PartitionResult(
        item.index,
        result.rows_written,
        result.rows_rejected,
        result.rows_failed,
        chunks.first_unread_line if problem else None,
        problem,
    )


class _PartitionChunks:
    """A partition's records, chunk after chunk in file order, each chunk read from the work bucket when its turn
    comes. A chunk that cannot be read ends the records early, with `error` saying why: the rows before it are
    then written and counted exactly."""

    def __init__(self, s3: Any, work_bucket: str, item: PartitionItem) -> None:
        self._s3 = s3
        self._bucket = work_bucket
        self._item = item
        self._first: Iterator[Record] | None = None
        self.read = 0
        self.last_line: int | None = None
        self.error: str | None = None

    @property
    def first_unread_line(self) -> int | None:
        """Where the partition's unread rows may start: past the last line read (None: before any was read)."""
        return None if self.last_line is None else self.last_line + 1

    def header_cells(self) -> list[str]:
        """The file's header, from the first chunk; raises `IngestError` if it cannot be read (nothing written)."""
        if self._item.chunks < 1:
            raise IngestError(self._item.source, f"partition {self._item.index} has no chunks")
        try:
            cells, self._first = self._open(0)
        except _ChunkUnreadable as exc:
            raise IngestError(self._item.source, str(exc)) from exc
        return cells

    def records(self) -> Iterator[Record]:
        if self._first is None:
            raise RuntimeError("header_cells() first")
        chunk, records = 0, self._first
        while True:
            try:
                for record in records:
                    self.read += 1
                    self.last_line = record.line
                    yield record
                chunk += 1
                if chunk == self._item.chunks:
                    return
                _, records = self._open(chunk)
            except _ChunkUnreadable as exc:
                self.error = str(exc)
                return
            except (ClientError, BotoCoreError, csv.Error, ValueError, IndexError) as exc:
                self.error = self._unreadable(chunk, exc)
                return

    def _open(self, chunk: int) -> tuple[list[str], Iterator[Record]]:
        key = chunk_key(self._item.run_prefix, self._item.index, chunk)
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]
            return read_chunk(body, source=self._item.source)
        except (ClientError, BotoCoreError, IngestError, csv.Error, ValueError, IndexError) as exc:
            raise _ChunkUnreadable(self._unreadable(chunk, exc)) from exc

    def _unreadable(self, chunk: int, exc: Exception) -> str:
        key = chunk_key(self._item.run_prefix, self._item.index, chunk)
        return (
            f"its chunk s3://{self._bucket}/{key} could not be read ({exc}); work objects expire a day after the "
            "partition task wrote them"
        )


class _ChunkUnreadable(Exception):
    pass


def _upload_partial_report(
    s3: Any, work_bucket: str, item: PartitionItem, report: RejectsReport, result: PartitionResult
) -> PartitionResult:
    """The result with its partial report's key once the report is in the work bucket, or with the error why not
    (Finish merges the reports that were written and fails the file for this partition)."""
    key = rejects_key(item.run_prefix, item.index)
    try:
        s3.upload_file(str(report.path), work_bucket, key, ExtraArgs={"ContentType": CSV_CONTENT_TYPE})
    except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
        problem = f"its {report.count:,} rejected rows could not be written to s3://{work_bucket}/{key} ({exc})"
        logger.error("rejected rows could not be reported", extra={"error": problem})
        return replace(result, error=f"{result.error}; and {problem}" if result.error else problem)
    return replace(result, rejects_report=key)


def _log_rejection(rejection: Rejection) -> None:
    logger.warning("row rejected", extra={"line": rejection.line, "key": rejection.key, "reason": rejection.reason})


# -- Finish ------------------------------------------------------------------------------------------------------------


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def finish(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The "Finish" task: the file's verdict from its partitions' results. Returns the summary; raises
    `IngestError` (the execution fails) naming the object if any partition did not report, failed, or left rows
    unwritten."""
    settings = FinishSettings.from_env()
    job = FileJob.from_event(event)
    run_prefix = _field(event, "run_prefix", str)
    entries = [PartitionItem.from_event(entry) for entry in _field(event, "partitions", list)]
    with _logging_context(job.execution_name, job.bucket, job.key, job.version_id, run_prefix=run_prefix):
        try:
            summary = finish_file(s3_client(), job, run_prefix, entries, settings)
        except IngestError as error:
            logger.error("file failed", extra={"error": str(error)})
            metrics.add_metric(name=METRIC_FILES_FAILED, unit=MetricUnit.Count, value=1)
            raise
        logger.info("file ingested", extra={"summary": summary})
    metrics.add_metric(name=METRIC_FILES_PROCESSED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=METRIC_ROWS_WRITTEN, unit=MetricUnit.Count, value=summary["rows_written"])
    metrics.add_metric(name=METRIC_ROWS_REJECTED, unit=MetricUnit.Count, value=summary["rows_rejected"])
    return summary


def finish_file(
    s3: Any, job: FileJob, run_prefix: str, entries: list[PartitionItem], settings: FinishSettings
) -> dict[str, Any]:
    """Count the results of the Partition run under `run_prefix` (another run's are not looked at), merge the
    partial reports they name, and delete the run's work objects (or keep them and raise)."""
    results = {entry.index: _read_result(s3, settings.work_bucket, run_prefix, entry) for entry in entries}
    problems = [problem for entry in entries if (problem := _problem(entry, results[entry.index]))]
    reported = [result for result in results.values() if isinstance(result, PartitionResult)]
    written = sum(result.rows_written for result in reported)
    rejected = sum(result.rows_rejected for result in reported)
    # Only the reports that were written: one that is missing fails its partition (see `_problem`), not the
    # report of every other partition.
    partial_reports = [
        result.rejects_report for result in sorted(reported, key=lambda r: r.index) if result.rejects_report
    ]
    if problems:
        # The rows rejected before the failure are reported too; the file's own error stays the one raised.
        report_uri = None
        with contextlib.suppress(IngestError):
            report_uri = merge_rejects(s3, job, partial_reports, settings, rows_rejected=rejected)
        # The work objects stay (they expire after a day): the results say what each partition did.
        raise IngestError(job.source, _failure(problems, len(entries), written, rejected, report_uri))
    report_uri = merge_rejects(s3, job, partial_reports, settings, rows_rejected=rejected)
    _delete_work_objects(s3, settings.work_bucket, run_prefix, entries)
    summary: dict[str, Any] = {
        "status": "ingested",
        "rows_written": written,
        "rows_rejected": rejected,
        "partitions": len(entries),
    }
    if report_uri:
        summary["rejects_report"] = report_uri
    return summary


def _read_result(s3: Any, work_bucket: str, run_prefix: str, entry: PartitionItem) -> PartitionResult | str:
    """The partition's result in this run, or why there is none."""
    key = result_key(run_prefix, entry.index)
    try:
        body = s3.get_object(Bucket=work_bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        worker = "its worker failed or timed out before writing it (the execution's history shows the worker's error)"
        if code in ("NoSuchKey", "404"):
            return f"did not report: there is no result at s3://{work_bucket}/{key} ({code}), so {worker}"
        if code in ("AccessDenied", "403"):
            # Without s3:ListBucket (Finish has none), S3 answers a missing object with AccessDenied, not NoSuchKey:
            # the same answer as to a function that may not read the object at all.
            return (
                f"did not report, or its result s3://{work_bucket}/{key} may not be read ({code}): either {worker}, "
                "or the finish function lacks s3:GetObject on the work bucket's objects"
            )
        return f"its result s3://{work_bucket}/{key} could not be read ({exc})"
    except BotoCoreError as exc:
        return f"its result s3://{work_bucket}/{key} could not be read ({exc})"
    try:
        result = PartitionResult.from_json(json.loads(body))
    except ValueError as exc:
        return f"its result s3://{work_bucket}/{key} is not one a worker writes ({exc})"
    if result.index != entry.index:
        return f"its result s3://{work_bucket}/{key} is partition {result.index}'s"
    return result


def _problem(entry: PartitionItem, result: PartitionResult | str) -> str | None:
    """Why the partition did not finish, as a clause of Finish's message (None: it did)."""
    name = f"partition {entry.index} ({entry.rows:,} rows)"
    if isinstance(result, str):
        return f"{name} {result}"
    if result.error is not None:
        missing = (
            f"; its rows from line {result.first_missing_line:,} on may be missing"
            if result.first_missing_line is not None
            else ""
        )
        return f"{name} failed: {result.error}{missing}"
    if result.rows_failed:
        return f"{name} could not write {result.rows_failed:,} rows before retries ran out (the table throttled)"
    if result.rows_rejected and result.rejects_report is None:
        return f"{name} rejected {result.rows_rejected:,} rows but left no report of them"
    settled = result.rows_written + result.rows_rejected
    if settled != entry.rows:
        return (
            f"{name} settled {settled:,} of its rows ({result.rows_written:,} written, "
            f"{result.rows_rejected:,} rejected)"
        )
    return None


def _failure(problems: list[str], partitions: int, written: int, rejected: int, report_uri: str | None) -> str:
    shown = "; ".join(problems[:SHOWN_PROBLEMS])
    more = f"; and {len(problems) - SHOWN_PROBLEMS:,} more" if len(problems) > SHOWN_PROBLEMS else ""
    where = f", reported in {report_uri}" if report_uri else ""
    return (
        f"{len(problems):,} of {partitions:,} partitions did not finish: {shown}{more}. "
        f"{written:,} rows were written and {rejected:,} rejected{where}; rows of those partitions may be missing "
        f"from the table. {AGAIN}"
    )


def merge_rejects(
    s3: Any, job: FileJob, partial_reports: list[str], settings: FinishSettings, *, rows_rejected: int
) -> str | None:
    """Merge the partial reports (work bucket keys) into the file's one report, in line order, streaming; return
    its URI (None without rejections or a rejects bucket). Raises `IngestError` if it cannot be written."""
    if not partial_reports or settings.rejects_bucket is None:
        return None
    report_key = rejects_report_key(job.key, job.version_id)
    uri = f"s3://{settings.rejects_bucket}/{report_key}"
    # A cell as the reader let it through, and the report's own columns, fit.
    csv.field_size_limit(FIELD_SIZE_LIMIT + 64)
    parts = [
        csv.reader(
            io.TextIOWrapper(io.BufferedReader(_RangedObject(s3, settings.work_bucket, key)), "utf-8", newline="")
        )
        for key in partial_reports
    ]
    try:
        s3.upload_fileobj(
            io.BufferedReader(_Produced(_merged(parts, settings.fmt))),
            settings.rejects_bucket,
            report_key,
            ExtraArgs={"ContentType": CSV_CONTENT_TYPE},
        )
    except (BotoCoreError, ClientError, S3UploadFailedError, csv.Error, ValueError) as exc:
        logger.error("rejected rows could not be reported", extra={"rejects_report": uri, "error": str(exc)})
        raise IngestError(
            job.source,
            f"{rows_rejected:,} rows were rejected, but their report could not be written to {uri} ({exc}); the rows "
            "are listed in the ingest-partition function's log. Check that the rejects bucket exists and that the "
            f"finish function may s3:PutObject there. {AGAIN}",
        ) from exc
    logger.warning("rejected rows reported", extra={"rows_rejected": rows_rejected, "rejects_report": uri})
    return uri


def _merged(parts: Sequence[Iterator[list[str]]], fmt: CsvFormat) -> Iterator[bytes]:
    """The report's bytes: the header the partial reports share, then their rows merged by line, as `RejectsReport`
    writes a report of files in `fmt` (the partial reports are comma-separated UTF-8, the work bucket's own)."""
    headers = [next(part, None) for part in parts]
    header = headers[0]
    if header is None or any(other != header for other in headers):
        raise ValueError("the partial reports do not share one header")
    line_at = header.index(ANNOTATION_COLUMNS[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=fmt.delimiter)  # as `RejectsReport` writes its rows
    writer.writerow(header)
    yield report_start(fmt)
    for row in heapq.merge(*parts, key=lambda row: int(row[line_at])):
        writer.writerow(row)
        if buffer.tell() >= REPORT_BLOCK_BYTES:
            yield _drained(buffer)
    yield _drained(buffer)


def _drained(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


class _Produced(io.RawIOBase):
    """A readable stream of the byte strings an iterator produces (an upload's body, made as it is sent)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _RangedObject(io.RawIOBase):
    """An S3 object read in ranges of REPORT_BLOCK_BYTES, one request per block, no connection held in between."""

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        super().__init__()
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._position = 0
        self._size: int | None = None
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            if self._size is not None and self._position >= self._size:
                return 0
            end = self._position + REPORT_BLOCK_BYTES - 1
            response = self._s3.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{end}")
            block = response["Body"].read()
            content_range = response.get("ContentRange")  # bytes start-end/size
            self._size = int(content_range.rsplit("/", 1)[1]) if content_range else self._position + len(block)
            self._position += len(block)
            self._pending = memoryview(block)
            if not block:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _delete_work_objects(s3: Any, work_bucket: str, run_prefix: str, entries: list[PartitionItem]) -> None:
    """Delete every work object of the run by key. A failure only leaves them to expire (after a day)."""
    keys = [
        key
        for entry in entries
        for key in (
            *(chunk_key(run_prefix, entry.index, chunk) for chunk in range(entry.chunks)),
            result_key(run_prefix, entry.index),
            rejects_key(run_prefix, entry.index),
        )
    ]
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        try:
            response = s3.delete_objects(
                Bucket=work_bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
            )
        except (BotoCoreError, ClientError) as exc:
            logger.warning("work objects left to expire", extra={"objects": len(batch), "error": str(exc)})
            continue
        if errors := response.get("Errors"):
            logger.warning("work objects left to expire", extra={"objects": len(errors), "error": errors[0]})


# -- shared ------------------------------------------------------------------------------------------------------------


def _deadline(context: LambdaContext) -> Callable[[], bool]:
    def should_stop() -> bool:
        return context.get_remaining_time_in_millis() < DEADLINE_MARGIN_MS

    return should_stop


@contextlib.contextmanager
def _logging_context(
    execution_name: str, bucket: str, key: str, version_id: str | None, **extra: Any
) -> Iterator[None]:
    """The object's bucket, key and version on every log line, and the execution's name as the correlation id, so
    the logs of all the tasks of one file read together."""
    logger.set_correlation_id(execution_name)
    with logger.append_context_keys(bucket=bucket, object_key=key, version_id=version_id, **extra):
        yield


def _field(data: Mapping[str, Any], name: str, kind: type[T]) -> T:
    value = data.get(name)
    if not isinstance(value, kind):
        raise ValueError(f"no valid {name!r} (got {value!r}) in {_abridged(data)}: is the state machine this code's?")
    return value


def _optional_field(data: Mapping[str, Any], name: str, kind: type[T]) -> T | None:
    return None if data.get(name) is None else _field(data, name, kind)


def _version_id(event: Mapping[str, Any]) -> str | None:
    return _optional_field(event, "version_id", str)


def _abridged(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, default=str)
    return text if len(text) <= 300 else f"{text[:300]}..."
