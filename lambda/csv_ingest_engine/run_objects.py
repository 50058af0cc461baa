"""A run's bookkeeping in the work bucket: its manifests (the partitions, and the failed ones a rerun reads) and
Finish's verdict on its last pass, which makes Finish safe to run twice."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.jobs import PartitionEntry, event_field
from csv_ingest_engine.partitioning import verdict_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Without s3:ListBucket (no task has it), S3 answers a missing object with AccessDenied rather than NoSuchKey.
MISSING = ("NoSuchKey", "404", "AccessDenied", "403")


def write_manifest(s3: S3Client, bucket: str, key: str, entries: list[PartitionEntry]) -> None:
    """A JSON list, the form the Map's ItemReader (InputType JSON) takes as its items."""
    body = json.dumps([entry.as_dict() for entry in entries], separators=(",", ":")).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def read_manifest(s3: S3Client, bucket: str, key: str, *, source: str) -> list[PartitionEntry] | None:
    """The manifest's entries, or None if it is not there; raises `IngestError` if it cannot be read."""
    data = _read_json(s3, bucket, key, source=source)
    if data is None:
        return None
    try:
        if not isinstance(data, list):
            raise ValueError(f"expected a JSON list, got {type(data).__name__}")
        return [PartitionEntry.from_json(item) for item in data]
    except ValueError as exc:
        raise IngestError(source, f"s3://{bucket}/{key} is not a manifest the partition task writes ({exc})") from exc


@dataclass(frozen=True, slots=True)
class Verdict:
    """What Finish concluded on one pass (`attempt`) over a run: the file's summary, or the error it failed with."""

    attempt: str
    summary: dict[str, Any] | None
    error: str | None  # the problem, as `IngestError(source, problem)` takes it

    @property
    def ingested(self) -> bool:
        return self.error is None

    def outcome(self, source: str) -> dict[str, Any]:
        """The summary again, or the same error raised again."""
        if self.error is not None:
            raise IngestError(source, self.error)
        return dict(self.summary or {})


def record_verdict(s3: S3Client, bucket: str, run_prefix: str, verdict: Verdict) -> None:
    body = {"attempt": verdict.attempt, "summary": verdict.summary, "error": verdict.error}
    s3.put_object(
        Bucket=bucket, Key=verdict_key(run_prefix), Body=json.dumps(body).encode(), ContentType="application/json"
    )


def read_verdict(s3: S3Client, bucket: str, run_prefix: str, *, source: str) -> Verdict | None:
    """Finish's verdict on the run's last pass, or None if no pass has finished."""
    key = verdict_key(run_prefix)
    data = _read_json(s3, bucket, key, source=source)
    if data is None:
        return None
    try:
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        summary, error = data.get("summary"), data.get("error")
        if not (isinstance(summary, dict) and error is None) and not (summary is None and isinstance(error, str)):
            raise ValueError("expected a summary or an error")
        return Verdict(attempt=event_field(data, "attempt", str), summary=summary, error=error)
    except ValueError as exc:
        raise IngestError(source, f"s3://{bucket}/{key} is not a verdict the finish task writes ({exc})") from exc


def _read_json(s3: S3Client, bucket: str, key: str, *, source: str) -> Any:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in MISSING:
            return None
        raise IngestError(source, f"s3://{bucket}/{key} could not be read ({exc})") from exc
    except BotoCoreError as exc:
        raise IngestError(source, f"s3://{bucket}/{key} could not be read ({exc})") from exc
    try:
        return json.loads(body)
    except ValueError as exc:
        raise IngestError(source, f"s3://{bucket}/{key} is not JSON ({exc})") from exc
