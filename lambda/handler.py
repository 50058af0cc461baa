"""The Lambda entry point: S3 `ObjectCreated` event -> ingestion engine -> one summary entry per record."""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ingest_engine import IngestError, Rejection, ingest_file
from ingest_engine.writing import TableWriter

logger = logging.getLogger("csv_ingest")
logger.setLevel(logging.INFO)

# Standard mode retries throttling, 5xx and connection errors with exponential backoff and jitter.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10})


@dataclass(frozen=True, slots=True)
class Settings:
    """The function's configuration; the only place that reads the environment."""

    table_name: str
    key_column: str

    @classmethod
    def from_env(cls) -> Settings:
        table_name = os.environ.get("TABLE_NAME", "")
        if not table_name:
            raise RuntimeError("TABLE_NAME is not set: the function needs the DynamoDB table's name")
        return cls(table_name=table_name, key_column=os.environ.get("KEY_COLUMN") or "customer_id")


@functools.cache
def s3_client() -> Any:
    """One S3 client per process, created on first use (so tests can start moto first)."""
    return boto3.client("s3", config=_CLIENT_CONFIG)


@functools.cache
def dynamodb_client() -> Any:
    """One DynamoDB client per process, reused by warm invocations."""
    return boto3.client("dynamodb", config=_CLIENT_CONFIG)


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, Any]]]:
    """Ingest every CSV object the event names; raise `IngestError` if any of them failed as a whole."""
    settings = Settings.from_env()
    files: list[dict[str, Any]] = []
    errors: list[IngestError] = []
    for record in event.get("Records", []):
        entry, error = _handle_record(record, settings)
        files.append(entry)
        if error is not None:
            errors.append(error)
    summary = {"files": files}
    logger.info("summary: %s", summary)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise IngestError(f"{len(errors)} files", "; ".join(str(error) for error in errors)) from errors[0]
    return summary


def _handle_record(record: dict[str, Any], settings: Settings) -> tuple[dict[str, Any], IngestError | None]:
    s3 = record.get("s3", {})
    bucket = s3.get("bucket", {}).get("name", "")
    key = unquote_plus(s3.get("object", {}).get("key", ""))
    version_id = s3.get("object", {}).get("versionId")
    entry: dict[str, Any] = {"bucket": bucket, "key": key, "version_id": version_id}

    event_name = record.get("eventName", "")
    if not event_name.startswith("ObjectCreated:"):
        return {**entry, "status": "skipped", "reason": f"event {event_name!r} is not ObjectCreated"}, None
    if not key.lower().endswith(".csv"):
        return {**entry, "status": "skipped", "reason": "the key does not end in .csv"}, None

    source = f"s3://{bucket}/{key}"
    try:
        result = _ingest_object(bucket, key, version_id, source=source, settings=settings)
    except IngestError as error:
        logger.error("file failed: %s", error)
        return {**entry, "status": "failed", "error": str(error)}, error
    logger.info("file ingested: %s (%d written, %d rejected)", source, result.rows_written, result.rows_rejected)
    return {
        **entry,
        "status": "ingested",
        "rows_written": result.rows_written,
        "rows_rejected": result.rows_rejected,
    }, None


def _ingest_object(bucket: str, key: str, version_id: str | None, *, source: str, settings: Settings) -> Any:
    """Download exactly the version the event names to a private temporary file, ingest it, delete it."""
    fd, name = tempfile.mkstemp(prefix="csv-ingest-", suffix=".csv")
    os.close(fd)
    path = Path(name)
    try:
        extra = {"VersionId": version_id} if version_id else None
        try:
            s3_client().download_file(bucket, key, name, ExtraArgs=extra)
        except ClientError as exc:
            raise IngestError(
                source,
                f"could not read the object{f' version {version_id}' if version_id else ''} ({exc}); "
                "it may have been deleted, or the function may lack s3:GetObject on it",
            ) from exc

        def log_rejection(rejection: Rejection) -> None:
            logger.warning("%s: line %d rejected (key %r): %s", source, rejection.line, rejection.key, rejection.reason)

        return ingest_file(
            path,
            source=source,
            table_name=settings.table_name,
            key_column=settings.key_column,
            writer=TableWriter(dynamodb_client()),
            on_reject=log_rejection,
        )
    finally:
        path.unlink(missing_ok=True)
