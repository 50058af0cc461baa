"""The Partition task's work: stream an object version once (no copy in /tmp, bounded memory) through the reader
and the header rules, and cut it by key into chunk objects in the work bucket, one partition per key hash."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from csv_ingest_engine.bounded_lines import STOP_CHECK_EVERY, ReadingStopped
from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.jobs import FileJob, PartitionEntry, Run, new_attempt
from csv_ingest_engine.objects import last_bytes
from csv_ingest_engine.partitioning import ChunkedPartitions, content_bytes, manifest_key, partition_count
from csv_ingest_engine.reading import Record, read_stream
from csv_ingest_engine.rules import UNTYPED_COLUMNS, parse_header
from csv_ingest_engine.run_objects import write_manifest
from csv_ingest_engine.s3_streams import ChunkUploads, object_body
from csv_ingest_engine.schema import gzipped
from csv_ingest_engine.settings import PartitionSettings
from csv_ingest_engine.telemetry import logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def partition_file(
    s3: S3Client, job: FileJob, settings: PartitionSettings, *, run_prefix: str, should_stop: Callable[[], bool]
) -> Run:
    """Stream `job`'s object version through the reader and the header rules into chunk objects under `run_prefix`,
    one partition per key hash, and list the partitions that have rows in the run's manifest; return the run."""
    trailer = last_bytes(s3, job.bucket, job.key, job.version_id, job.size) if gzipped(job.key) else None
    # The trigger measured the text when the object's size and trailer said less than it read (`FileJob.text_bytes`).
    text_bytes = max(content_bytes(job.key, job.size, trailer), job.text_bytes or 0)
    count = partition_count(text_bytes, settings.partition_bytes)
    with object_body(s3, job, should_stop=should_stop) as body:
        records = read_stream(body, source=job.source, fmt=settings.fmt, gzip=gzipped(job.key), should_stop=should_stop)
        # The header is the first record: a bad header fails here, before a single chunk is written. A problem
        # further down (not UTF-8, malformed quoting) fails the task when the reader gets there, with chunks already
        # in the work bucket (they expire with it) but nothing written to the table yet: the workers never start.
        try:
            first = next(records, None)
        except ReadingStopped as stop:  # in blank lines before the header
            raise _timed_out(job, 0, stop.line) from None
        header_cells = first.cells if first is not None else []
        header = parse_header(
            header_cells,
            schema=settings.schema,
            source=job.source,
            delimiter=settings.fmt.delimiter,
            order_attribute=settings.engine.order_attribute,
            max_cells=settings.fmt.max_cells,
        )
        if header.untyped:
            logger.warning(UNTYPED_COLUMNS, extra={"columns": list(header.untyped)})
        with ChunkUploads(s3, settings.work_bucket, job, run_prefix, should_stop=should_stop) as uploads:
            partitions = ChunkedPartitions(header, header_cells, count, uploads.put)
            partitions.add_all(_until_deadline(records, should_stop, job))
            partitions.close()
            uploads.wait()
    entries = [
        PartitionEntry(index, partitions.chunks[index], rows) for index, rows in enumerate(partitions.rows) if rows
    ]
    # Written last: a manifest means every chunk it names is in the work bucket.
    items = manifest_key(run_prefix)
    write_manifest(s3, settings.work_bucket, items, entries)
    return Run(run_prefix, new_attempt(), items, rows=sum(partitions.rows), partitions=len(entries))


def _until_deadline(records: Iterator[Record], should_stop: Callable[[], bool], job: FileJob) -> Iterator[Record]:
    """The records, until the invocation is about to time out (looked at every few hundred rows here, and by the
    reader in what it skips): then the file fails (nothing written yet)."""
    count = 0
    try:
        for count, record in enumerate(records, start=1):
            if count % STOP_CHECK_EVERY == 0 and should_stop():
                raise _timed_out(job, count, record.line)
            yield record
    except ReadingStopped as stop:
        raise _timed_out(job, count, stop.line) from None


def _timed_out(job: FileJob, rows: int, line: int) -> IngestError:
    return IngestError(
        job.source,
        f"the partition task was about to time out after reading {rows:,} rows (up to line {line:,}), so it stopped; "
        "nothing was written to the table. Give the functions more memory (and with it CPU) or a longer timeout "
        "(context memory_size_mb, timeout_minutes), or split the file; then upload it again",
    )
