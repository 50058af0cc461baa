"""The Lambda function: S3 `ObjectCreated` event -> ingestion engine -> one summary entry per record.

An object larger than LARGE_FILE_BYTES (with a state machine configured) is not ingested here: the function starts
the large-file state machine on it and returns (see `large_files`). `lambda/handler.py` (the function's entry point)
re-exports `handler`; it lives in the engine package so that `csv-ingest demo` can run the very same code from an
installed wheel. Logs are JSON (Powertools Logger) with the object's bucket, key and version and a correlation id per
file; counts go out as CloudWatch EMF metrics. Powertools reads the service name and metrics namespace from
POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE, which the stack (and the demo and the tests) set.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine import IngestError, Rejection, ingest_file
from csv_ingest_engine.clients import dynamodb_client, s3_client, stepfunctions_client
from csv_ingest_engine.constants import (
    CSV_SUFFIXES,
    DEADLINE_MARGIN_MS,
    METRIC_FILES_FAILED,
    METRIC_FILES_PROCESSED,
    METRIC_ROWS_REJECTED,
    METRIC_ROWS_WRITTEN,
)
from csv_ingest_engine.large_files import FileJob, start_execution
from csv_ingest_engine.objects import downloaded, last_bytes, rejects_report_key, temporary_path
from csv_ingest_engine.partitioning import content_bytes
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.rules import UNTYPED_COLUMNS
from csv_ingest_engine.schema import gzipped
from csv_ingest_engine.settings import Settings
from csv_ingest_engine.writing import TableWriter

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, Any]]]:
    """Ingest every CSV object the event names; raise `IngestError` if any of them failed as a whole."""
    settings = Settings.from_env()

    def should_stop() -> bool:
        return context.get_remaining_time_in_millis() < DEADLINE_MARGIN_MS

    files: list[dict[str, Any]] = []
    errors: list[IngestError] = []
    for record in S3Event(event).records:
        entry, error = _handle_record(record, settings, should_stop)
        files.append(entry)
        if error is not None:
            errors.append(error)
    summary = {"files": files}
    logger.info("summary", extra={"summary": summary})
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise IngestError(f"{len(errors)} files", "; ".join(str(error) for error in errors)) from errors[0]
    return summary


def _handle_record(
    record: S3EventRecord, settings: Settings, should_stop: Callable[[], bool]
) -> tuple[dict[str, Any], IngestError | None]:
    bucket = record.s3.bucket.name
    # S3 URL-encodes the key in events (a space arrives as "+").
    key = unquote_plus(record.s3.get_object.key)
    version_id = record.s3.get_object.version_id
    entry: dict[str, Any] = {"bucket": bucket, "key": key, "version_id": version_id}

    event_name = record.event_name
    if not event_name.startswith("ObjectCreated:"):
        return {**entry, "status": "skipped", "reason": f"event {event_name!r} is not ObjectCreated"}, None
    if not key.lower().endswith(CSV_SUFFIXES):
        return {**entry, "status": "skipped", "reason": "the key does not end in .csv or .csv.gz"}, None

    source = f"s3://{bucket}/{key}"
    # S3's request id ties these logs to the upload in CloudTrail and S3 access logs.
    logger.set_correlation_id(record.response_elements.get("x-amz-request-id") or str(uuid.uuid4()))
    with logger.append_context_keys(bucket=bucket, object_key=key, version_id=version_id):
        try:
            size = record.s3.get_object.size
            if settings.state_machine_arn is not None and _content_bytes(bucket, key, version_id, size) > (
                settings.large_file_bytes
            ):
                job = FileJob.for_upload(bucket, key, version_id, size=size, sequencer=record.s3.get_object.sequencer)
                return {**entry, **_start_large_file(job, settings.state_machine_arn, settings)}, None
            entry.update(
                _ingest_object(bucket, key, version_id, source=source, settings=settings, should_stop=should_stop)
            )
            logger.info(
                "file ingested", extra={"rows_written": entry["rows_written"], "rows_rejected": entry["rows_rejected"]}
            )
        except IngestError as error:
            logger.error("file failed", extra={"error": str(error)})
            metrics.add_metric(name=METRIC_FILES_FAILED, unit=MetricUnit.Count, value=1)
            return {**entry, "status": "failed", "error": str(error)}, error
    metrics.add_metric(name=METRIC_FILES_PROCESSED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=METRIC_ROWS_WRITTEN, unit=MetricUnit.Count, value=entry["rows_written"])
    metrics.add_metric(name=METRIC_ROWS_REJECTED, unit=MetricUnit.Count, value=entry["rows_rejected"])
    return entry, None


def _content_bytes(bucket: str, key: str, version_id: str | None, size: int) -> int:
    """The object's CSV text's size, as `partitioning.content_bytes` estimates it (a `.gz` object's trailer read)."""
    trailer = last_bytes(s3_client(), bucket, key, version_id, size) if gzipped(key) else None
    return content_bytes(key, size, trailer)


def _start_large_file(job: FileJob, state_machine_arn: str, settings: Settings) -> dict[str, Any]:
    """Hand the object to the state machine, once per upload; Finish counts the file and its rows."""
    started = start_execution(stepfunctions_client(), state_machine_arn, job)
    message = "large file handed to the state machine"
    if started.already:  # S3 delivered the event twice, or this invocation is a retry
        message = "large file already handed to the state machine"
    logger.info(
        message,
        extra={"size": job.size, "large_file_bytes": settings.large_file_bytes, "execution_arn": started.execution_arn},
    )
    return {"status": "started", "execution_arn": started.execution_arn}


def _ingest_object(
    bucket: str,
    key: str,
    version_id: str | None,
    *,
    source: str,
    settings: Settings,
    should_stop: Callable[[], bool],
) -> dict[str, Any]:
    """Download exactly the version the event names and ingest it; rejected rows go to the reports bucket."""

    def log_rejection(rejection: Rejection) -> None:
        logger.warning("row rejected", extra={"line": rejection.line, "key": rejection.key, "reason": rejection.reason})

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
                ),
                on_reject=log_rejection,
                report=report,
                should_stop=should_stop,
            )
        except IngestError:
            # Rows rejected before a file-level failure are reported too; the file's own error stays the one
            # raised, whatever happens to the report.
            report.close()
            with contextlib.suppress(IngestError):
                _upload_report(report, source, key, version_id, settings)
            raise
        report.close()
        report_uri = _upload_report(report, source, key, version_id, settings)
    if result.untyped_columns:
        logger.warning(UNTYPED_COLUMNS, extra={"columns": list(result.untyped_columns)})
    summary = {"status": "ingested", "rows_written": result.rows_written, "rows_rejected": result.rows_rejected}
    if report_uri:
        summary["rejects_report"] = report_uri
    return summary


def _upload_report(
    report: RejectsReport, source: str, key: str, version_id: str | None, settings: Settings
) -> str | None:
    """Put the report in the rejects bucket; return its URI (None without rejections or a rejects bucket)."""
    if not report.count or not settings.rejects_bucket:
        return None
    report_key = rejects_report_key(key, version_id)
    uri = f"s3://{settings.rejects_bucket}/{report_key}"
    try:
        s3_client().upload_file(
            str(report.path), settings.rejects_bucket, report_key, ExtraArgs={"ContentType": "text/csv; charset=utf-8"}
        )
    except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
        logger.error("rejected rows could not be reported", extra={"rejects_report": uri, "error": str(exc)})
        raise IngestError(
            source,
            f"{report.count} rows were rejected, but their report could not be written to {uri} ({exc}); "
            "the rows are listed in this function's log. Check that the rejects bucket exists and that the "
            "function may s3:PutObject there, then upload the file again.",
        ) from exc
    logger.warning("rejected rows reported", extra={"rows_rejected": report.count, "rejects_report": uri})
    return uri
