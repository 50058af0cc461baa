"""S3 objects as streams: an object version's body read through dropped connections, chunk objects put from a few
threads while the file is read on, an object read in ranges, and an upload's body made as it is sent."""

from __future__ import annotations

import contextlib
import io
import itertools
import random
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.jobs import AGAIN, FileJob
from csv_ingest_engine.partitioning import chunk_key
from csv_ingest_engine.reading import ReadableBytes
from csv_ingest_engine.s3_resume import ResumingBody

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectRequestTypeDef

# Chunk objects being uploaded while the file is read on (each at most partitioning.MAX_CHUNK_BYTES).
UPLOAD_THREADS = 4
# S3 answers SlowDown (503) while it scales a prefix up to a burst of writes, which can take minutes. The client's
# standard retry mode retries it (objects.CLIENT_CONFIG: 3 attempts, waiting up to 1 s then 2 s, drawn from a retry
# quota its threads share, which a sustained SlowDown empties: then a put makes one attempt only), so a put that
# raises it has met a few seconds of it. The chunk is then put again, after a jittered wait doubling from 1 s to at
# most 20 s, for as long as the task has time: the read pauses meanwhile (UPLOAD_THREADS chunks at most are held).
SLOWDOWN_BACKOFF_S = 1.0
SLOWDOWN_MAX_BACKOFF_S = 20.0

# Partial reports are read in ranges of this size, so Finish keeps no connection open per partition while it
# merges (memory: one block per partition with rejected rows).
REPORT_BLOCK_BYTES = 128 * 1024

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


@contextlib.contextmanager
def object_body(s3: S3Client, job: FileJob, *, should_stop: Callable[[], bool]) -> Iterator[ReadableBytes]:
    """The object version's bytes as S3 streams them, read on past a dropped connection (`s3_resume`) until
    `should_stop`; a failed read fails the file, naming it."""
    version = f" version {job.version_id}" if job.version_id else ""
    try:
        request: GetObjectRequestTypeDef = {"Bucket": job.bucket, "Key": job.key}
        if job.version_id:
            request["VersionId"] = job.version_id
        response = s3.get_object(**request)
    except (ClientError, BotoCoreError) as exc:
        raise IngestError(
            job.source,
            f"could not read the object{version} ({exc}); it may have been deleted, or the partition function may "
            "lack s3:GetObject and s3:GetObjectVersion on it. Nothing was written",
        ) from exc
    body = ResumingBody(s3, request, response, source=job.source, should_stop=should_stop)
    try:
        yield body
    finally:
        body.close()


class ChunkUploads:
    """Puts chunk objects into the work bucket from a few threads while the file is read on. At most
    UPLOAD_THREADS chunks are held (waiting or travelling) at once, so memory stays bounded; a put S3 answers with
    SlowDown is sent again until `should_stop`, and a failed put fails the file."""

    def __init__(
        self, s3: S3Client, work_bucket: str, job: FileJob, run_prefix: str, *, should_stop: Callable[[], bool]
    ) -> None:
        self._s3 = s3
        self._bucket = work_bucket
        self._job = job
        self._run_prefix = run_prefix
        self._should_stop = should_stop
        self._pool = ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="csv-ingest-chunks")
        self._in_flight: deque[tuple[str, Future[Any]]] = deque()
        self._closing = threading.Event()  # cuts short a put's wait for S3 to take writes again

    def __enter__(self) -> ChunkUploads:
        return self

    def __exit__(self, *_: object) -> None:
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def put(self, index: int, chunk: int, data: bytes) -> None:
        while len(self._in_flight) >= UPLOAD_THREADS:
            self._settle(*self._in_flight.popleft())
        key = chunk_key(self._run_prefix, index, chunk)
        self._in_flight.append((key, self._pool.submit(self._put, key, data)))

    def wait(self) -> None:
        """Return once every chunk is in the bucket."""
        while self._in_flight:
            self._settle(*self._in_flight.popleft())

    def _put(self, key: str, data: bytes) -> None:
        """Put one chunk, again and again while S3 answers SlowDown (the client's own attempts spent each time)."""
        for attempt in itertools.count():
            try:
                self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=CSV_CONTENT_TYPE)
                return
            except ClientError as exc:
                if not _slow_down(exc):
                    raise
                if self._should_stop() or self._closing.is_set():
                    raise IngestError(
                        self._job.source,
                        f"S3 answered SlowDown to the partition chunk s3://{self._bucket}/{key} until the partition "
                        f"task was about to time out ({attempt + 1} puts, each tried by the client itself too); "
                        f"nothing was written to the table. {AGAIN}",
                    ) from exc
            backoff = min(SLOWDOWN_MAX_BACKOFF_S, SLOWDOWN_BACKOFF_S * 2**attempt)
            self._closing.wait(random.uniform(0, backoff))

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


def _slow_down(error: ClientError) -> bool:
    """S3 asks for fewer requests a second: SlowDown, or a bare 503."""
    answer = error.response
    return answer.get("Error", {}).get("Code") == "SlowDown" or (
        answer.get("ResponseMetadata", {}).get("HTTPStatusCode") == 503
    )


class Produced(io.RawIOBase):
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


class RangedObject(io.RawIOBase):
    """An S3 object read in ranges of REPORT_BLOCK_BYTES, one request per block, no connection held in between."""

    def __init__(self, s3: S3Client, bucket: str, key: str) -> None:
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
