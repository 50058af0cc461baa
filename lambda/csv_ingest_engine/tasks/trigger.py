"""The S3-triggered function: S3 `ObjectCreated` event -> one summary entry per record.

A file is ingested in this invocation (`one_invocation`), or, when its CSV text is larger than LARGE_FILE_BYTES
(with a state machine configured), handed to the large-file state machine, once per upload (`jobs`): as its size
says, or, for a `.csv.gz` whose size and trailer said far less than it holds, once the first pass has read that much
(nothing written yet). Logs are JSON with the object's bucket, key and version and a correlation id per file; counts
go out as CloudWatch EMF metrics. A file ingested here, or one that fails here, has its outcome published (tags on
the object version and an EventBridge event, see `outcome`); a large file's is Finish's to publish.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_ingest_engine.clients import s3_client, stepfunctions_client
from csv_ingest_engine.constants import CSV_SUFFIXES, PATH_ONE_INVOCATION, PATH_STATE_MACHINE
from csv_ingest_engine.errors import ExecutionNotStarted, IngestError, TextLargerThanEstimated
from csv_ingest_engine.jobs import FileJob, start_execution
from csv_ingest_engine.objects import last_bytes
from csv_ingest_engine.one_invocation import ingest_object
from csv_ingest_engine.ordering import event_moment, now, stamp
from csv_ingest_engine.outcome import FileOutcome, ObjectVersion
from csv_ingest_engine.outcome_publishing import publish_outcome
from csv_ingest_engine.partitioning import goes_to_state_machine
from csv_ingest_engine.schema import gzipped
from csv_ingest_engine.settings import Settings
from csv_ingest_engine.telemetry import count_ingested, counted_failure, deadline, file_context, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, Any]]]:
    """Ingest every CSV object the event names; raise `IngestError` if any of them failed as a whole."""
    settings = Settings.from_env()
    should_stop = deadline(context)
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
    # S3's request id ties these logs to the upload in CloudTrail and S3 access logs (an event made by hand, or by
    # moto's S3, may have none).
    request_id = (record.get("responseElements") or {}).get("x-amz-request-id") or str(uuid.uuid4())
    # Left out of a hand-made event, the sequencer only orders versions of one key within a millisecond.
    sequencer = record.s3.get_object.get("sequencer") or ""
    started = time.monotonic()
    with file_context(request_id, bucket, key, version_id):
        upload = _Upload(
            bucket, key, version_id, record.s3.get_object.size, sequencer, _upload_order(record, sequencer)
        )
        try:
            with counted_failure():
                ingested = _ingest_or_hand_off(upload, source, settings, should_stop)
        except IngestError as error:
            path = PATH_STATE_MACHINE if isinstance(error, ExecutionNotStarted) else PATH_ONE_INVOCATION
            publish_outcome(FileOutcome.failed(upload.obj, error, path=path, seconds=time.monotonic() - started))
            return {**entry, "status": "failed", "error": str(error)}, error
        entry.update(ingested)
        if ingested["status"] == "started":  # Finish announces the file's outcome
            return entry, None
        logger.info("file ingested", extra={name: entry[name] for name in _COUNTS})
        outcome = FileOutcome.ingested(
            upload.obj, ingested, path=PATH_ONE_INVOCATION, seconds=time.monotonic() - started
        )
        publish_outcome(outcome)
    count_ingested(entry, deleting=settings.schema.delete_column is not None)
    return entry, None


_COUNTS = ("rows_written", "rows_rejected", "rows_superseded", "rows_unchanged", "rows_deleted")


@dataclass(frozen=True, slots=True)
class _Upload:
    """The object version an event names, and its place in the order of uploads."""

    bucket: str
    key: str
    version_id: str | None
    size: int
    sequencer: str
    order: str

    @property
    def obj(self) -> ObjectVersion:
        return ObjectVersion(self.bucket, self.key, self.version_id)


def _ingest_or_hand_off(
    upload: _Upload, source: str, settings: Settings, should_stop: Callable[[], bool]
) -> dict[str, Any]:
    """The file ingested in this invocation (the summary's counts), or handed to the state machine when its text is
    larger than `large_file_bytes` (the execution's summary entry)."""
    size = upload.size
    if settings.state_machine_arn is not None and goes_to_state_machine(
        upload.key, size, _gzip_trailer(upload.bucket, upload.key, upload.version_id, size), settings.large_file_bytes
    ):
        job = FileJob.for_upload(
            upload.bucket, upload.key, upload.version_id, size=size, sequencer=upload.sequencer, order=upload.order
        )
        return _start_large_file(job, settings.state_machine_arn, settings)
    return _ingest_in_place(upload, source, settings, should_stop)


def _ingest_in_place(
    upload: _Upload, source: str, settings: Settings, should_stop: Callable[[], bool]
) -> dict[str, Any]:
    """Ingest the object in this invocation: the summary's counts. A `.csv.gz` whose first pass reads far more text
    than its size and trailer said goes to the state machine instead, as if they had said it (nothing was written):
    the execution's summary entry (`_start_large_file`)."""
    try:
        return ingest_object(
            upload.bucket,
            upload.key,
            upload.version_id,
            source=source,
            settings=settings,
            order=upload.order,
            should_stop=should_stop,
        )
    except TextLargerThanEstimated as larger:
        if settings.state_machine_arn is None:  # pragma: no cover - the first pass measures only with one
            raise
        logger.warning(
            "the file's text is far larger than its size and gzip trailer said: it goes to the state machine",
            extra={"text_bytes": larger.text_bytes, "text_counted_whole": larger.whole},
        )
        job = FileJob.for_upload(
            upload.bucket,
            upload.key,
            upload.version_id,
            size=upload.size,
            sequencer=upload.sequencer,
            order=upload.order,
            text_bytes=larger.text_bytes,
        )
        return _start_large_file(job, settings.state_machine_arn, settings)


def _upload_order(record: S3EventRecord, sequencer: str) -> str:
    """The upload's order stamp (see `ordering`): when S3 created the object, then S3's sequencer. An event without
    a readable time (one made by hand: S3's always have one) is ordered as of now, like a load from the CLI."""
    moment = event_moment(record.get("eventTime"))
    if moment is None:
        logger.warning("the event has no readable eventTime: the upload is ordered as of now")
        moment = now()
    return stamp(moment, sequencer)


def _gzip_trailer(bucket: str, key: str, version_id: str | None, size: int) -> bytes | None:
    """A `.gz` object's last 4 bytes, which `partitioning.content_bytes` reads its text's size from (None for CSV)."""
    return last_bytes(s3_client(), bucket, key, version_id, size) if gzipped(key) else None


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
