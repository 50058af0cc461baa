"""The Partition task's work: stream an object version once (no copy in /tmp, bounded memory) through the reader
and the header rules, and cut it by key into chunk objects in the work bucket, one partition per key hash."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from csv_ingest_engine.constants import MAX_PARTITIONS
from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.ingest import STOP_CHECK_EVERY
from csv_ingest_engine.jobs import RUN_TOKEN_CHARS, FileJob
from csv_ingest_engine.objects import last_bytes
from csv_ingest_engine.partitioning import ChunkedPartitions, content_bytes, partition_count
from csv_ingest_engine.reading import Record, read_stream
from csv_ingest_engine.rules import UNTYPED_COLUMNS, parse_header
from csv_ingest_engine.s3_streams import ChunkUploads, object_body
from csv_ingest_engine.schema import gzipped
from csv_ingest_engine.settings import PartitionSettings
from csv_ingest_engine.telemetry import logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The partition list travels in the execution's state, which Step Functions caps at 256 KiB: the partition task
# makes no more partitions than fit in this much of it (fewer, larger ones for a file with a very long key).
STATE_BUDGET_BYTES = 200 * 1024


def partition_file(
    s3: S3Client, job: FileJob, settings: PartitionSettings, *, run_prefix: str, should_stop: Callable[[], bool]
) -> dict[str, Any]:
    """Stream `job`'s object version through the reader and the header rules into chunk objects under `run_prefix`,
    one partition per key hash; return the Partition task's output."""
    trailer = last_bytes(s3, job.bucket, job.key, job.version_id, job.size) if gzipped(job.key) else None
    text_bytes = content_bytes(job.key, job.size, trailer)
    count = min(partition_count(text_bytes, settings.partition_bytes), fitting_partitions(job))
    with object_body(s3, job, should_stop=should_stop) as body:
        records = read_stream(body, source=job.source, fmt=settings.fmt, gzip=gzipped(job.key))
        # The header is the first record: a bad header fails here, before a single chunk is written. A problem
        # further down (not UTF-8, malformed quoting) fails the task when the reader gets there, with chunks already
        # in the work bucket (they expire with it) but nothing written to the table yet: the workers never start.
        first = next(records, None)
        header_cells = first.cells if first is not None else []
        header = parse_header(
            header_cells,
            schema=settings.schema,
            source=job.source,
            delimiter=settings.fmt.delimiter,
            order_attribute=settings.engine.order_attribute,
        )
        if header.untyped:
            logger.warning(UNTYPED_COLUMNS, extra={"columns": list(header.untyped)})
        with ChunkUploads(s3, settings.work_bucket, job, run_prefix, should_stop=should_stop) as uploads:
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
        "order": job.order,
    }


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
