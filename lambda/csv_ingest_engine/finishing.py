"""Finish's work: the file's verdict from its partitions' latest results, their partial rejects reports merged in
line order into the one report the one-invocation path writes (and the file's first rejected rows logged, as that
path logs them), the verdict recorded, then the run's work objects deleted (or, when partitions failed, kept with a
manifest of the failed ones for a rerun)."""

from __future__ import annotations

import contextlib
import csv
import heapq
import io
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.jobs import AGAIN, FileJob, PartitionEntry, PartitionResult, Run
from csv_ingest_engine.objects import rejects_report_key
from csv_ingest_engine.partitioning import (
    chunk_key,
    failed_manifest_key,
    manifest_key,
    rejects_key,
    result_key,
)
from csv_ingest_engine.reading import FIELD_SIZE_LIMIT
from csv_ingest_engine.rejection_log import LoggedRejection, first_of, where_logged
from csv_ingest_engine.reports import report_start
from csv_ingest_engine.rules import ANNOTATION_COLUMNS
from csv_ingest_engine.run_objects import Verdict, read_manifest, record_verdict, write_manifest
from csv_ingest_engine.s3_streams import CSV_CONTENT_TYPE, REPORT_BLOCK_BYTES, Produced, RangedObject
from csv_ingest_engine.schema import CsvFormat
from csv_ingest_engine.settings import FinishSettings
from csv_ingest_engine.telemetry import log_rejections, logger
from csv_ingest_engine.words import count, were

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3's DeleteObjects takes at most this many keys per request.
DELETE_BATCH = 1000

# Where the file's first rejected rows are logged.
FINISH_LOG = "the finish function's log"

# Failed partitions named in Finish's error, which becomes the execution's cause (at most 32,768 characters).
SHOWN_PROBLEMS = 10


def finish_file(s3: S3Client, job: FileJob, run: Run, settings: FinishSettings) -> dict[str, Any]:
    """Count the latest result of every partition of the run under `run.run_prefix` (a rerun's replace the first
    pass's; another run's are not looked at), merge the partial reports they name, record the verdict, and delete
    the run's work objects; or, when partitions failed, keep them, list the failed ones and raise."""
    work_bucket = settings.work_bucket
    entries = read_manifest(s3, work_bucket, manifest_key(run.run_prefix), source=job.source)
    if entries is None:
        raise IngestError(
            job.source,
            f"the run's manifest s3://{work_bucket}/{manifest_key(run.run_prefix)} is gone, so the partitions cannot "
            "be counted: the run's work objects expired, or the finish function may not s3:GetObject them. "
            f"{AGAIN}",
        )
    results = {entry.index: _read_result(s3, work_bucket, run.run_prefix, entry) for entry in entries}
    failed = [(entry, problem) for entry in entries if (problem := _problem(entry, results[entry.index]))]
    reported = sorted((r for r in results.values() if isinstance(r, PartitionResult)), key=lambda r: r.index)
    counts = tally(reported)
    # Only the reports that were written: one that is missing fails its partition (see `_problem`), not the
    # report of every other partition.
    partial_reports = [result.rejects_report for result in reported if result.rejects_report]
    # The file's first rejected rows: among the first of each partition (rows of one key are in one partition).
    first = first_of((result.first_rejections for result in reported), settings.engine.logged_rejections)
    if failed:
        # The rows rejected before the failure are reported too; the file's own error stays the one raised.
        report_uri = None
        with contextlib.suppress(IngestError):
            report_uri = report_rejections(s3, job, partial_reports, settings, counts["rows_rejected"], first)
        # The work objects stay, and the failed partitions' list, for a rerun of only those.
        write_manifest(s3, work_bucket, failed_manifest_key(run.run_prefix), [entry for entry, _ in failed])
        problem = _failure([text for _, text in failed], len(entries), counts, report_uri, run.run_prefix)
        record_verdict(s3, work_bucket, run.run_prefix, Verdict(run.attempt, summary=None, error=problem))
        error = IngestError(job.source, problem, **counts)
        error.rejects_report = report_uri
        raise error
    report_uri = report_rejections(s3, job, partial_reports, settings, counts["rows_rejected"], first)
    if report_uri is None:
        remove_earlier_report(s3, job, settings)
    summary: dict[str, Any] = {"status": "ingested", **counts, "partitions": len(entries)}
    if report_uri:
        summary["rejects_report"] = report_uri
    # Recorded before the clean-up: a retry of this Finish (its answer lost) answers with it, counting nothing twice.
    record_verdict(s3, work_bucket, run.run_prefix, Verdict(run.attempt, summary=summary, error=None))
    _delete_work_objects(s3, work_bucket, run.run_prefix, entries)
    return summary


def tally(results: list[PartitionResult]) -> dict[str, int]:
    """The file's counts: the sums of its partitions' (the summary's, and the failure message's)."""
    return {
        "rows_written": sum(result.rows_written for result in results),
        "rows_rejected": sum(result.rows_rejected for result in results),
        "rows_superseded": sum(result.rows_superseded for result in results),
        "rows_unchanged": sum(result.rows_unchanged for result in results),
        "rows_deleted": sum(result.rows_deleted for result in results),
    }


def remove_earlier_report(s3: S3Client, job: FileJob, settings: FinishSettings) -> None:
    """A run that rejected no row removes the report an earlier run of this object version left (rows "not written,
    retries exhausted", say): a report describes the last run. A refused delete is logged, not fatal: the file is
    in the table, and failing it would count it failed and send the operator after rows that are there (as on the
    one-invocation path)."""
    if settings.rejects_bucket is None:
        return
    uri = f"s3://{settings.rejects_bucket}/{rejects_report_key(job.key, job.version_id)}"
    try:
        s3.delete_object(Bucket=settings.rejects_bucket, Key=rejects_report_key(job.key, job.version_id))
    except (BotoCoreError, ClientError) as exc:
        logger.error(
            "an earlier run's report of rejected rows could not be deleted: every row of this run was written, so "
            "delete it (the finish function may need s3:DeleteObject in the rejects bucket)",
            extra={"rejects_report": uri, "error": str(exc)},
        )


def _read_result(s3: S3Client, work_bucket: str, run_prefix: str, entry: PartitionEntry) -> PartitionResult | str:
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


def _problem(entry: PartitionEntry, result: PartitionResult | str) -> str | None:
    """Why the partition did not finish, as a clause of Finish's message (None: it did)."""
    name = f"partition {entry.index} ({count(entry.rows, 'row')})"
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
        return f"{name} could not write {count(result.rows_failed, 'row')} before retries ran out (the table throttled)"
    if result.rows_rejected and result.rejects_report is None:
        return f"{name} rejected {count(result.rows_rejected, 'row')} but left no report of them"
    settled = (
        result.rows_written
        + result.rows_rejected
        + result.rows_superseded
        + result.rows_unchanged
        + result.rows_deleted
    )
    if settled != entry.rows:
        return (
            f"{name} settled {settled:,} of its rows ({result.rows_written:,} written, "
            f"{result.rows_unchanged:,} unchanged, {result.rows_rejected:,} rejected, "
            f"{result.rows_superseded:,} superseded, {result.rows_deleted:,} deleted)"
        )
    return None


def _failure(
    problems: list[str], partitions: int, counts: dict[str, int], report_uri: str | None, run_prefix: str
) -> str:
    shown = "; ".join(problems[:SHOWN_PROBLEMS])
    more = f"; and {len(problems) - SHOWN_PROBLEMS:,} more" if len(problems) > SHOWN_PROBLEMS else ""
    where = f", reported in {report_uri}" if report_uri else ""
    return (
        f"{len(problems):,} of {partitions:,} partitions did not finish: {shown}{more}. "
        f"{count(counts['rows_written'], 'row')} {were(counts['rows_written'])} written and "
        f"{counts['rows_rejected']:,} rejected{where}; rows of those partitions may be missing from the table. The run "
        f"prefix is {run_prefix!r}. {AGAIN}"
    )


def report_rejections(
    s3: S3Client,
    job: FileJob,
    partial_reports: list[str],
    settings: FinishSettings,
    rows_rejected: int,
    first: list[LoggedRejection],
) -> str | None:
    """Merge the partial reports into the file's report (see `merge_rejects`) and, whatever happens to it, log the
    file's `first` rejected rows and their count (see `telemetry.log_rejections`); return the report's URI."""
    uri = None
    try:
        uri = merge_rejects(s3, job, partial_reports, settings, rows_rejected=rows_rejected, logged=len(first))
    finally:
        log_rejections(first, rows_rejected, uri)
    return uri


def merge_rejects(
    s3: S3Client,
    job: FileJob,
    partial_reports: list[str],
    settings: FinishSettings,
    *,
    rows_rejected: int,
    logged: int,
) -> str | None:
    """Merge the partial reports (work bucket keys) into the file's one report, in line order, streaming; return
    its URI (None without rejections or a rejects bucket). Raises `IngestError` if it cannot be written, saying that
    the log names the first `logged` of its rows."""
    if not partial_reports or settings.rejects_bucket is None:
        return None
    report_key = rejects_report_key(job.key, job.version_id)
    uri = f"s3://{settings.rejects_bucket}/{report_key}"
    # A cell as the reader let it through, and the report's own columns, fit.
    csv.field_size_limit(FIELD_SIZE_LIMIT + 64)
    parts = [
        csv.reader(
            io.TextIOWrapper(io.BufferedReader(RangedObject(s3, settings.work_bucket, key)), "utf-8", newline="")
        )
        for key in partial_reports
    ]
    try:
        s3.upload_fileobj(
            io.BufferedReader(Produced(_merged(parts, settings.fmt))),
            settings.rejects_bucket,
            report_key,
            ExtraArgs={"ContentType": CSV_CONTENT_TYPE},
        )
    except (BotoCoreError, ClientError, S3UploadFailedError, csv.Error, ValueError) as exc:
        logger.error("rejected rows could not be reported", extra={"rejects_report": uri, "error": str(exc)})
        raise IngestError(
            job.source,
            f"{count(rows_rejected, 'row')} {were(rows_rejected)} rejected, but the report could not be written to "
            f"{uri} ({exc}); {where_logged(logged, FINISH_LOG)} Check that the rejects bucket exists "
            f"and that the finish function may s3:PutObject there. {AGAIN}",
        ) from exc
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


def _delete_work_objects(s3: S3Client, work_bucket: str, run_prefix: str, entries: list[PartitionEntry]) -> None:
    """Delete every work object of the run by key but its verdict. A failure only leaves them to expire."""
    keys = [
        key
        for entry in entries
        for key in (
            *(chunk_key(run_prefix, entry.index, chunk) for chunk in range(entry.chunks)),
            result_key(run_prefix, entry.index),
            rejects_key(run_prefix, entry.index),
        )
    ]
    keys += [manifest_key(run_prefix), failed_manifest_key(run_prefix)]
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
