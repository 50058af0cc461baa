"""A file's outcome where people look for it: the EventBridge event the pipeline sends and the tags it puts on the
uploaded object version, both made here from the file's summary (or its error), and the outcome read back from the
tags (`csv-ingest status`). Pure: `outcome_publishing` makes the calls."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from csv_ingest_engine.constants import (
    MAX_OUTCOME_ERROR_CHARS,
    OUTCOME_COUNTS,
    OUTCOME_DETAIL_TYPES,
    OUTCOME_EVENT_BUS,
    OUTCOME_EVENT_SOURCE,
    OUTCOME_FAILED,
    OUTCOME_LOADED,
    OUTCOME_REJECTED_ROWS,
    OUTCOME_STATUSES,
    OUTCOME_TAG_PREFIX,
    S3_MAX_OBJECT_TAGS,
    TAG_REJECTS_BUCKET,
    TAG_ROWS,
    TAG_STATUS,
    TAG_TIME,
    IngestPath,
    OutcomeStatus,
)
from csv_ingest_engine.errors import IngestError

# The end of a failed file's message cut to MAX_OUTCOME_ERROR_CHARS.
CUT_ERROR = "… (cut short: the whole message is in the function's log)"
# How a count is named in the rows tag: rows_written -> written=5.
_COUNT_PREFIX = "rows_"


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """The uploaded object version an outcome is about (`version_id` None: a bucket without versioning)."""

    bucket: str
    key: str
    version_id: str | None


def outcome_counts(result: Mapping[str, Any] | object) -> dict[str, int]:
    """Every count of OUTCOME_COUNTS, read by its name from a summary (a mapping) or from a result or an error (its
    attributes); 0 for a count it does not have (a failed file's `rows_written` is None before its first write)."""
    if isinstance(result, Mapping):
        values = {name: result.get(name) for name in OUTCOME_COUNTS}
    else:
        values = {name: getattr(result, name, None) for name in OUTCOME_COUNTS}
    return {name: int(value or 0) for name, value in values.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class FileOutcome:
    """What became of one upload: its status and counts, where its rejected rows are (`rejects_report`, an s3://
    URI), the path it took, how long that took (`seconds`, None when unknown) and, for a failure, why (a message
    that quotes no cell: the engine's messages describe a file by its shape, see the README's Security)."""

    obj: ObjectVersion
    status: OutcomeStatus
    path: IngestPath
    counts: Mapping[str, int]
    rejects_report: str | None
    seconds: float | None
    error: str | None = None
    # The large-file execution's name (None on the one-invocation path).
    execution_name: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def ingested(
        cls,
        obj: ObjectVersion,
        summary: Mapping[str, Any],
        *,
        path: IngestPath,
        seconds: float | None,
        execution_name: str | None = None,
    ) -> FileOutcome:
        """A file that went in (its summary: the counts and, if rows were rejected, `rejects_report`)."""
        counts = outcome_counts(summary)
        return cls(
            obj=obj,
            status=OUTCOME_REJECTED_ROWS if counts["rows_rejected"] else OUTCOME_LOADED,
            path=path,
            counts=counts,
            rejects_report=summary.get("rejects_report"),
            seconds=seconds,
            execution_name=execution_name,
        )

    @classmethod
    def failed(
        cls,
        obj: ObjectVersion,
        error: IngestError,
        *,
        path: IngestPath,
        seconds: float | None,
        execution_name: str | None = None,
    ) -> FileOutcome:
        """A file that failed as a whole: the counts of when it failed, and its message."""
        return cls(
            obj=obj,
            status=OUTCOME_FAILED,
            path=path,
            counts=outcome_counts(error),
            rejects_report=error.rejects_report,
            seconds=seconds,
            error=bounded_error(str(error)),
            execution_name=execution_name,
        )

    @property
    def detail_type(self) -> str:
        return OUTCOME_DETAIL_TYPES[self.status]

    def detail(self) -> dict[str, Any]:
        """The event's detail (the README's "Outcome of an upload" describes each field)."""
        return {
            "bucket": self.obj.bucket,
            "key": self.obj.key,
            "version_id": self.obj.version_id,
            "status": self.status,
            **self.counts,
            "rejects_report": self.rejects_report,
            "path": self.path,
            "duration_seconds": None if self.seconds is None else round(self.seconds, 3),
            "execution_name": self.execution_name,
            "error": self.error,
        }

    def event_entry(self) -> dict[str, Any]:
        """The PutEvents entry: to the default bus, from OUTCOME_EVENT_SOURCE, at the time the tags say."""
        return {
            "Source": OUTCOME_EVENT_SOURCE,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail(), ensure_ascii=False),
            "EventBusName": OUTCOME_EVENT_BUS,
            "Time": self.at,
        }

    def tags(self) -> list[tuple[str, str]]:
        """The outcome's tags, the most telling first (`merged_tags` keeps as many as the object has room for):
        status, counts, when, and the rejects bucket when there is a report (its key is the upload's, see
        `objects.rejects_report_key`: a URI could pass a tag value's 256 characters)."""
        tags = [(TAG_STATUS, self.status), (TAG_ROWS, rows_tag(self.counts)), (TAG_TIME, time_tag(self.at))]
        if self.rejects_report:
            tags.append((TAG_REJECTS_BUCKET, self.rejects_report.removeprefix("s3://").partition("/")[0]))
        return tags


def bounded_error(message: str) -> str:
    """`message`, cut to MAX_OUTCOME_ERROR_CHARS characters if longer, saying so."""
    if len(message) <= MAX_OUTCOME_ERROR_CHARS:
        return message
    return message[: MAX_OUTCOME_ERROR_CHARS - len(CUT_ERROR)] + CUT_ERROR


def rows_tag(counts: Mapping[str, int]) -> str:
    """`written=5 rejected=1 superseded=0 failed=0`: every count in one tag value (S3 allows spaces and = in one, not
    commas), so that a new count takes none of the object's ten tags."""
    return " ".join(f"{name.removeprefix(_COUNT_PREFIX)}={value}" for name, value in counts.items())


def time_tag(moment: datetime) -> str:
    """`2026-12-07T06:31:57Z`: when the outcome was recorded, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merged_tags(
    existing: Sequence[Mapping[str, Any]], ours: Sequence[tuple[str, str]]
) -> tuple[list[dict[str, str]], list[str]]:
    """The object version's tag set with `ours` in place of an earlier outcome's (every key starting with
    OUTCOME_TAG_PREFIX), and the keys of ours left out. Every tag of the user's is kept: ours take the places left of
    S3's S3_MAX_OBJECT_TAGS, in their order, and those that do not fit are left out."""
    kept = [{"Key": str(tag["Key"]), "Value": str(tag["Value"])} for tag in existing if not is_outcome_tag(tag["Key"])]
    room = max(S3_MAX_OBJECT_TAGS - len(kept), 0)
    added = [{"Key": key, "Value": value} for key, value in ours[:room]]
    return kept + added, [key for key, _ in ours[room:]]


def is_outcome_tag(key: str) -> bool:
    return key.startswith(OUTCOME_TAG_PREFIX)


@dataclass(frozen=True, slots=True)
class RecordedOutcome:
    """An outcome as the object's tags hold it: `status` as tagged (one of OUTCOME_STATUSES unless someone else wrote
    the tag), the counts the rows tag names, when, and the rejects bucket (None: no report, or no room for the tag)."""

    status: str
    counts: dict[str, int]
    time: str | None
    rejects_bucket: str | None

    @classmethod
    def from_tags(cls, tags: Sequence[Mapping[str, Any]]) -> RecordedOutcome | None:
        """The outcome the tags record, or None if they record none (no status tag)."""
        values = {str(tag["Key"]): str(tag["Value"]) for tag in tags}
        status = values.get(TAG_STATUS)
        if status is None:
            return None
        return cls(
            status, rows_from_tag(values.get(TAG_ROWS, "")), values.get(TAG_TIME), values.get(TAG_REJECTS_BUCKET)
        )

    @property
    def known(self) -> bool:
        """Whether the status is one the pipeline writes."""
        return self.status in OUTCOME_STATUSES


def rows_from_tag(text: str) -> dict[str, int]:
    """The counts in a rows tag (`rows_tag`), by their names in the event (`rows_written`...); a part that is not
    `name=number` is skipped."""
    counts: dict[str, int] = {}
    for part in text.split():
        name, _, value = part.partition("=")
        if name and value.isdecimal():
            counts[f"{_COUNT_PREFIX}{name}"] = int(value)
    return counts
