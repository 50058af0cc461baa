"""What `csv-ingest status` reads and prints: the outcome the pipeline recorded as tags on an uploaded object version
(see `csv_ingest_engine.outcome`), with the exit code `load` gives that outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click
from rich.markup import escape

from csv_ingest.cli.options import Aws
from csv_ingest.cli.output import deleted, err, out, superseded
from csv_ingest_engine.constants import (
    EXIT_FAILED,
    EXIT_NO_OUTCOME,
    EXIT_OK,
    EXIT_REJECTED,
    OUTCOME_COUNTS,
    OUTCOME_FAILED,
    OUTCOME_LOADED,
    OUTCOME_REJECTED_ROWS,
    TAG_STATUS,
)
from csv_ingest_engine.objects import CLIENT_CONFIG, rejects_report_key
from csv_ingest_engine.outcome import RecordedOutcome
from csv_ingest_engine.words import count

# `--json`'s status of an object with no outcome recorded.
NO_OUTCOME = "no-outcome"
EXIT_CODES: dict[str, int] = {
    OUTCOME_LOADED: EXIT_OK,
    OUTCOME_REJECTED_ROWS: EXIT_REJECTED,
    OUTCOME_FAILED: EXIT_FAILED,
}
# S3 names the version of an object in a bucket without versioning "null".
_NO_VERSION = "null"


@dataclass(frozen=True)
class ObjectStatus:
    """The outcome recorded on one object version (None: none yet), or why its tags could not be read (`error`)."""

    bucket: str
    key: str
    version_id: str | None
    recorded: RecordedOutcome | None = None
    error: str | None = None

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def rejects_report(self) -> str | None:
        """Where the rejected rows are: the tagged rejects bucket, under the upload's own key and version (as the
        functions name a report, `objects.rejects_report_key`)."""
        if self.recorded is None or self.recorded.rejects_bucket is None:
            return None
        return f"s3://{self.recorded.rejects_bucket}/{rejects_report_key(self.key, self.version_id)}"

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return EXIT_FAILED
        if self.recorded is None:
            return EXIT_NO_OUTCOME
        return EXIT_CODES.get(self.recorded.status, EXIT_NO_OUTCOME)

    def as_dict(self) -> dict[str, Any]:
        recorded = self.recorded
        counts = dict.fromkeys(OUTCOME_COUNTS) | (recorded.counts if recorded else {})
        status = recorded.status if recorded else (None if self.error else NO_OUTCOME)
        return {
            "source": self.source,
            "version_id": self.version_id,
            "status": status,
            "exit_code": self.exit_code,
            **counts,
            "time": recorded.time if recorded else None,
            "rejects_report": self.rejects_report,
            "error": self.error,
        }


def read_status(location: str, version_id: str | None, aws: Aws) -> ObjectStatus:
    """The outcome tagged on the object version at `location` (s3://bucket/key; the current version without
    `version_id`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = s3_location(location)
    request = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    try:
        response = aws.client("s3", config=CLIENT_CONFIG).get_object_tagging(**request)
    except ClientError as exc:
        return ObjectStatus(bucket, key, version_id, error=_unreadable(exc, version_id))
    except BotoCoreError as exc:  # no region, no credentials, an endpoint that does not answer
        return ObjectStatus(bucket, key, version_id, error=str(exc))
    version = response.get("VersionId") or version_id
    return ObjectStatus(
        bucket,
        key,
        None if version == _NO_VERSION else version,
        recorded=RecordedOutcome.from_tags(response.get("TagSet", [])),
    )


def s3_location(location: str) -> tuple[str, str]:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    if not location.startswith("s3://") or not bucket or not key:
        raise click.BadParameter(f"{location!r} is not an S3 location: expected s3://bucket/key", param_hint="LOCATION")
    return bucket, key


def _unreadable(exc: Any, version_id: str | None) -> str:
    code = exc.response.get("Error", {}).get("Code")
    if code in ("NoSuchKey", "NoSuchVersion", "404", "InvalidArgument"):
        version = f" (version {version_id})" if version_id else ""
        return f"there is no such object{version} ({code}): check the bucket, the key and --version-id"
    if code in ("AccessDenied", "403"):
        action = "s3:GetObjectVersionTagging" if version_id else "s3:GetObjectTagging"
        return f"its tags may not be read ({code}): the caller needs {action} on it"
    return f"its tags could not be read ({exc})"


def print_status(status: ObjectStatus, *, as_json: bool) -> int:
    """Print the status (as JSON with --json); return the exit code."""
    if as_json:
        click.echo(json.dumps(status.as_dict(), ensure_ascii=False))
        return status.exit_code
    where = escape(status.source) + (f" (version {escape(status.version_id)})" if status.version_id else "")
    recorded = status.recorded
    if status.error is not None:
        err.print(f"[bold red]failed:[/] {where}: {escape(status.error)}")
    elif recorded is None:
        out.print(
            f"{where} has no outcome yet: it is still being ingested, or it was never ingested (the pipeline ingests "
            f"uploads to its bucket whose names end in .csv or .csv.gz; a large file's outcome comes when its "
            f"execution ends). No {TAG_STATUS} tag."
        )
    elif not recorded.known:
        out.print(
            f"{where} has no outcome csv-ingest records: its {TAG_STATUS} tag says {escape(recorded.status)!r}, which "
            "the pipeline never writes."
        )
    else:
        _print_outcome(where, recorded, status.rejects_report)
    return status.exit_code


def _print_outcome(where: str, recorded: RecordedOutcome, rejects_report: str | None) -> None:
    counts = recorded.counts
    written, rejected = counts.get("rows_written", 0), counts.get("rows_rejected", 0)
    said: dict[str, str] = {
        OUTCOME_LOADED: "loaded",
        OUTCOME_REJECTED_ROWS: "loaded with rejected rows",
        OUTCOME_FAILED: "failed",
    }
    when = f" at {escape(recorded.time)}" if recorded.time else ""
    also = f", {same:,} unchanged" if (same := counts.get("rows_unchanged", 0)) else ""
    if gone := counts.get("rows_deleted", 0):
        also += f"; {deleted(gone)}"
    if older := counts.get("rows_superseded", 0):
        also += f"; {superseded(older)}"
    if failed := counts.get("rows_failed", 0):
        also += f"; {count(failed, 'row')} not written before retries ran out"
    out.print(f"{where}: {said[recorded.status]}{when}: {count(written, 'row')} written, {rejected:,} rejected{also}.")
    if rejects_report:
        out.print(f"The rejected rows are in {escape(rejects_report)}.")
    elif rejected:
        out.print(
            "Their report is not named in the tags (the object had no room for the tag): see the outcome event's "
            '"rejects_report".'
        )
    if recorded.status == OUTCOME_FAILED:
        out.print(
            'Why: the outcome event\'s "error" (detail type "CSV file failed"), and the function\'s log ("file '
            "failed\"); for a large file, its execution's error too."
        )
