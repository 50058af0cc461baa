"""A file ingested by the invocation S3's event started: download exactly the version the event names, ingest it,
put its rejected rows' report in the rejects bucket, and log the first of them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine.clients import dynamodb_client, s3_client
from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.ingest import ingest_file
from csv_ingest_engine.objects import downloaded, rejects_report_key, temporary_path
from csv_ingest_engine.partitioning import one_invocation_text_limit
from csv_ingest_engine.rejection_log import FirstRejections, where_logged
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.rules import UNTYPED_COLUMNS
from csv_ingest_engine.s3_streams import CSV_CONTENT_TYPE
from csv_ingest_engine.schema import gzipped
from csv_ingest_engine.settings import Settings
from csv_ingest_engine.telemetry import log_rejections, logger
from csv_ingest_engine.words import count, were
from csv_ingest_engine.writing import TableWriter

THIS_LOG = "this function's log"


def ingest_object(
    bucket: str,
    key: str,
    version_id: str | None,
    *,
    source: str,
    settings: Settings,
    order: str,
    should_stop: Callable[[], bool],
) -> dict[str, Any]:
    """Download exactly the version the event names and ingest it, its writes stamped with the upload's `order` (see
    `ordering`); rejected rows go to the reports bucket, the first `logged_rejections` of them to the log too.

    With a state machine to hand it to, a `.csv.gz` whose text turns out far larger than the large-file threshold
    raises `TextLargerThanEstimated` from the first pass, before anything is written (its size and trailer only
    estimate its text; a `.csv`'s size is its text's).
    """
    measured = settings.state_machine_arn is not None and gzipped(key)
    text_limit = one_invocation_text_limit(settings.large_file_bytes) if measured else None
    rejections = FirstRejections(settings.engine.logged_rejections)
    # The report's own temporary file goes too if anything unexpected happens: a warm Lambda keeps /tmp.
    with (
        downloaded(s3_client(), bucket, key, version_id) as path,
        temporary_path() as report_path,
        RejectsReport(report_path, fmt=settings.fmt) as report,
    ):
        try:
            result = ingest_file(
                path,
                source=source,
                schema=settings.schema,
                fmt=settings.fmt,
                writer=TableWriter(
                    dynamodb_client(settings.write_concurrency),
                    table_name=settings.table_name,
                    concurrency=settings.write_concurrency,
                    mode=settings.write_mode,
                    ordering=settings.engine.ordering(order),
                    consistent_reads=settings.consistent_reads,
                ),
                on_reject=rejections.add,
                report=report,
                should_stop=should_stop,
                max_text_bytes=text_limit,
            )
        except IngestError as error:
            # Rows rejected before a file-level failure are reported too (the error names the report); the file's
            # own error stays the one raised, whatever happens to the report. A run that failed before rejecting any
            # row leaves an earlier run's report alone: it stopped before the rows that report lists, which may
            # still be missing.
            report.close()
            with contextlib.suppress(IngestError):
                error.rejects_report = upload_report(
                    report, rejections, source, key, version_id, settings, finished=False
                )
            raise
        report.close()
        report_uri = upload_report(report, rejections, source, key, version_id, settings)
    if result.untyped_columns:
        logger.warning(UNTYPED_COLUMNS, extra={"columns": list(result.untyped_columns)})
    summary = {
        "status": "ingested",
        "rows_written": result.rows_written,
        "rows_rejected": result.rows_rejected,
        "rows_superseded": result.rows_superseded,
        "rows_unchanged": result.rows_unchanged,
        "rows_deleted": result.rows_deleted,
    }
    if report_uri:
        summary["rejects_report"] = report_uri
    return summary


def upload_report(
    report: RejectsReport,
    rejections: FirstRejections,
    source: str,
    key: str,
    version_id: str | None,
    settings: Settings,
    *,
    finished: bool = True,
) -> str | None:
    """Put the report in the rejects bucket; return its URI (None without rejections or a rejects bucket). Whatever
    happens to the report, log the first `rejections` and their count (see `telemetry.log_rejections`).

    A `finished` run that rejects no row removes the report an earlier run of the same version left (as the command
    line does with its --rejects file): a report describes the last run that went through the file.
    """
    uri = None
    try:
        uri = _put_report(report, len(rejections), source, key, version_id, settings, finished)
    finally:
        log_rejections(rejections.in_line_order(), report.count, uri)
    return uri


def _put_report(
    report: RejectsReport,
    logged: int,
    source: str,
    key: str,
    version_id: str | None,
    settings: Settings,
    finished: bool,
) -> str | None:
    if not settings.rejects_bucket:
        return None
    report_key = rejects_report_key(key, version_id)
    uri = f"s3://{settings.rejects_bucket}/{report_key}"
    if not report.count:
        if finished:
            _remove_earlier_report(settings.rejects_bucket, report_key, uri)
        return None
    try:
        s3_client().upload_file(
            str(report.path), settings.rejects_bucket, report_key, ExtraArgs={"ContentType": CSV_CONTENT_TYPE}
        )
    except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
        logger.error("rejected rows could not be reported", extra={"rejects_report": uri, "error": str(exc)})
        raise IngestError(
            source,
            f"{count(report.count, 'row')} {were(report.count)} rejected, but the report could not be written to "
            f"{uri} ({exc}); {where_logged(logged, THIS_LOG)} Check that the rejects bucket exists and that the "
            "function may s3:PutObject there, then upload the file again.",
        ) from exc
    return uri


def _remove_earlier_report(bucket: str, report_key: str, uri: str) -> None:
    """Delete an earlier run's report, if there is one (S3 answers a delete of a missing key with success).

    A failed delete is logged, not raised: the rows are in the table, and failing the file would have Lambda write it
    all again, twice, then send its event to the failed-events queue, for a report that only needs deleting.
    """
    try:
        s3_client().delete_object(Bucket=bucket, Key=report_key)
    except (BotoCoreError, ClientError) as exc:
        logger.error(
            "an earlier run's report of rejected rows could not be deleted: this run rejected none, so delete it",
            extra={"rejects_report": uri, "error": str(exc)},
        )
