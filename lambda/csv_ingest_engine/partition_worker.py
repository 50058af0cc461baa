"""A partition worker's work: ingest one partition's chunks in file order with the engine's rules and writer, and
leave its result (counts, or why it did not finish) and its partial rejects report in the work bucket for Finish."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine.errors import IngestError, IngestStopped
from csv_ingest_engine.ingest import ingest_records
from csv_ingest_engine.jobs import PartitionItem, PartitionResult
from csv_ingest_engine.objects import temporary_path
from csv_ingest_engine.ordering import now, stamp
from csv_ingest_engine.partitioning import chunk_key, read_chunk, rejects_key, result_key
from csv_ingest_engine.reading import Record
from csv_ingest_engine.rejection_log import FirstRejections
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.rules import Rejection, parse_header
from csv_ingest_engine.s3_streams import CSV_CONTENT_TYPE
from csv_ingest_engine.settings import IngestPartitionSettings
from csv_ingest_engine.telemetry import logger
from csv_ingest_engine.words import count
from csv_ingest_engine.writing import TableWriter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


def ingest_one_partition(
    s3: S3Client,
    dynamodb: DynamoDBClient,
    item: PartitionItem,
    settings: IngestPartitionSettings,
    *,
    should_stop: Callable[[], bool],
) -> PartitionResult:
    """Ingest `item`'s chunks in order; leave the partial rejects report (if any row was rejected) and the result,
    with the partition's first `logged_rejections` rejected rows, in the work bucket; return the result."""
    writer = TableWriter(
        dynamodb,
        table_name=settings.table_name,
        concurrency=settings.write_concurrency,
        mode=settings.write_mode,
        ordering=settings.engine.ordering(item.order or stamp(now())),
        consistent_reads=settings.consistent_reads,
    )
    rejections = FirstRejections(settings.engine.logged_rejections)
    # The report's temporary file goes too if anything unexpected happens: a warm Lambda keeps /tmp.
    with temporary_path() as report_path, RejectsReport(report_path) as report:
        chunks = _PartitionChunks(s3, settings.work_bucket, item)
        result = _ingest_chunks(chunks, item, settings, writer, rejections.add, report, should_stop)
        result = replace(result, first_rejections=tuple(rejections.in_line_order()))
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
    on_reject: Callable[[Rejection], None],
    report: RejectsReport,
    should_stop: Callable[[], bool],
) -> PartitionResult:
    def failed(error: str, first_missing_line: int | None, counts: IngestError) -> PartitionResult:
        """The partition failed: the counts of then (none before the first write)."""
        written = counts.rows_written or 0
        return PartitionResult(
            item.index,
            written,
            counts.rows_rejected,
            counts.rows_failed,
            first_missing_line,
            error,
            rows_superseded=counts.rows_superseded,
            rows_unchanged=counts.rows_unchanged,
            rows_deleted=counts.rows_deleted,
        )

    try:
        header = parse_header(
            chunks.header_cells(),
            schema=settings.schema,
            source=item.source,
            order_attribute=writer.ordering.attribute if writer.ordering is not None else None,
            max_cells=settings.fmt.max_cells,
        )
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
        problem = (
            f"it read {chunks.read:,} of the {count(item.rows, 'row')} the partition task wrote to the work bucket"
        )
    return PartitionResult(
        item.index,
        result.rows_written,
        result.rows_rejected,
        result.rows_failed,
        chunks.first_unread_line if problem else None,
        problem,
        rows_superseded=result.rows_superseded,
        rows_unchanged=result.rows_unchanged,
        rows_deleted=result.rows_deleted,
    )


class _PartitionChunks:
    """A partition's records, chunk after chunk in file order, each chunk read from the work bucket when its turn
    comes. A chunk that cannot be read ends the records early, with `error` saying why: the rows before it are
    then written and counted exactly."""

    def __init__(self, s3: S3Client, work_bucket: str, item: PartitionItem) -> None:
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
            f"its chunk s3://{self._bucket}/{key} could not be read ({exc}); work objects expire 14 days after their "
            "execution could have ended (the work bucket's lifecycle rule)"
        )


class _ChunkUnreadable(Exception):
    pass


def _upload_partial_report(
    s3: S3Client, work_bucket: str, item: PartitionItem, report: RejectsReport, result: PartitionResult
) -> PartitionResult:
    """The result with its partial report's key once the report is in the work bucket, or with the error why not
    (Finish merges the reports that were written and fails the file for this partition)."""
    key = rejects_key(item.run_prefix, item.index)
    try:
        s3.upload_file(str(report.path), work_bucket, key, ExtraArgs={"ContentType": CSV_CONTENT_TYPE})
    except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
        problem = f"its {count(report.count, 'rejected row')} could not be written to s3://{work_bucket}/{key} ({exc})"
        logger.error("rejected rows could not be reported", extra={"error": problem})
        return replace(result, error=f"{result.error}; and {problem}" if result.error else problem)
    return replace(result, rejects_report=key)
