"""`csv-ingest status s3://bucket/key`: the outcome the pipeline tagged on an upload (tags written by the functions'
own code, on a moto server), with `load`'s exit code for it; 3 and a clear message when there is none yet."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from csv_ingest_engine.constants import (
    EXIT_FAILED,
    EXIT_NO_OUTCOME,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    OUTCOME_COUNTS,
    PATH_ONE_INVOCATION,
    OutcomeStatus,
)
from csv_ingest_engine.objects import rejects_report_key
from csv_ingest_engine.outcome import FileOutcome, ObjectVersion
from csv_ingest_engine.outcome_publishing import tag_object
from tests.cli.runner import run
from tests.support import Endpoint

KEY = "customers/2026-12.csv"
AT = datetime(2026, 12, 7, 6, 31, 57, tzinfo=UTC)


@pytest.fixture
def bucket(endpoint: Endpoint) -> str:
    """A versioned bucket of its own, like the stack's upload bucket."""
    name = f"uploads-{uuid.uuid4().hex[:8]}"
    endpoint.s3.create_bucket(Bucket=name)
    endpoint.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def upload(endpoint: Endpoint, bucket: str, body: bytes = b"customer_id\n1\n", **extra: Any) -> str:
    version: str = endpoint.s3.put_object(Bucket=bucket, Key=KEY, Body=body, **extra)["VersionId"]
    return version


def record(endpoint: Endpoint, bucket: str, version: str | None, status: OutcomeStatus, **counts: int) -> None:
    """Tag the version with an outcome, as the pipeline's functions do."""
    rejected = counts.get("rows_rejected", 0)
    outcome = FileOutcome(
        obj=ObjectVersion(bucket, KEY, version),
        status=status,
        path=PATH_ONE_INVOCATION,
        counts={**dict.fromkeys(OUTCOME_COUNTS, 0), **counts},
        rejects_report=f"s3://my-rejects/{rejects_report_key(KEY, version)}" if rejected else None,
        seconds=1.0,
        error="s3://...: the table refused" if status == "failed" else None,
        at=AT,
    )
    tag_object(endpoint.s3, outcome)


def said(output: str) -> str:
    return " ".join(output.split())


def test_a_loaded_upload_exits_0_with_its_counts_and_when(endpoint: Endpoint, bucket: str) -> None:
    """`loaded`: the rows written, when, exit 0; superseded rows named only when there are some."""
    version = upload(endpoint, bucket)
    record(endpoint, bucket, version, "loaded", rows_written=20000, rows_superseded=12)
    result = run("status", f"s3://{bucket}/{KEY}")
    assert result.exit_code == EXIT_OK, result.output
    assert said(result.output) == (
        f"s3://{bucket}/{KEY} (version {version}): loaded at 2026-12-07T06:31:57Z: 20,000 rows written, 0 rejected; "
        "12 rows superseded (their items hold a newer upload's rows)."
    )


def test_unchanged_and_deleted_rows_are_named_when_there_are_some(endpoint: Endpoint, bucket: str) -> None:
    """A `changed` load of a nightly export with a delete marker: its unchanged rows and deletes are counted too."""
    version = upload(endpoint, bucket)
    record(endpoint, bucket, version, "loaded", rows_written=10, rows_unchanged=990, rows_deleted=2)
    result = run("status", f"s3://{bucket}/{KEY}")
    assert result.exit_code == EXIT_OK, result.output
    assert said(result.output) == (
        f"s3://{bucket}/{KEY} (version {version}): loaded at 2026-12-07T06:31:57Z: 10 rows written, 0 rejected, "
        "990 unchanged; 2 rows deleted their items."
    )


def test_an_upload_with_rejected_rows_exits_2_naming_their_report(endpoint: Endpoint, bucket: str) -> None:
    """`loaded-with-rejected-rows`: exit 2, and the report's location, from the tagged bucket and the upload's own
    key and version."""
    version = upload(endpoint, bucket)
    record(endpoint, bucket, version, "loaded-with-rejected-rows", rows_written=4, rows_rejected=1)
    result = run("status", f"s3://{bucket}/{KEY}")
    assert result.exit_code == EXIT_REJECTED, result.output
    assert "loaded with rejected rows at 2026-12-07T06:31:57Z: 4 rows written, 1 rejected." in said(result.output)
    assert f"The rejected rows are in s3://my-rejects/customers/2026-12.{version}.rejected.csv." in said(result.output)


def test_a_failed_upload_exits_1_saying_where_the_error_is(endpoint: Endpoint, bucket: str) -> None:
    """`failed`: exit 1, the counts of when it failed, and where to read why."""
    version = upload(endpoint, bucket)
    record(endpoint, bucket, version, "failed", rows_written=3, rows_failed=2, rows_rejected=2)
    result = run("status", f"s3://{bucket}/{KEY}")
    assert result.exit_code == EXIT_FAILED, result.output
    text = said(result.output)
    assert "failed at 2026-12-07T06:31:57Z: 3 rows written, 2 rejected; 2 rows not written before retries ran out." in (
        text
    )
    assert 'Why: the outcome event\'s "error" (detail type "CSV file failed")' in text


def test_an_upload_without_an_outcome_exits_3_saying_why_there_may_be_none(endpoint: Endpoint, bucket: str) -> None:
    """No outcome tags (only the user's own): exit 3, and that it is still being ingested or never was."""
    upload(endpoint, bucket, Tagging="owner=finance")
    result = run("status", f"s3://{bucket}/{KEY}")
    assert result.exit_code == EXIT_NO_OUTCOME == 3, result.output
    assert "has no outcome yet: it is still being ingested, or it was never ingested" in said(result.output)


def test_version_id_reads_that_versions_outcome(endpoint: Endpoint, bucket: str) -> None:
    """Two versions, the older one failed and the current one not yet ingested: the default is the current
    version (no outcome), --version-id the older one's (failed)."""
    older = upload(endpoint, bucket)
    record(endpoint, bucket, older, "failed")
    upload(endpoint, bucket)
    assert run("status", f"s3://{bucket}/{KEY}").exit_code == EXIT_NO_OUTCOME
    result = run("status", f"s3://{bucket}/{KEY}", "--version-id", older)
    assert result.exit_code == EXIT_FAILED and f"(version {older}): failed" in said(result.output)


def test_the_users_own_tags_are_no_outcome_of_ours(endpoint: Endpoint, bucket: str) -> None:
    """A csv-ingest:status tag the pipeline never writes is said to be none of its outcomes (exit 3)."""
    upload(endpoint, bucket, Tagging="csv-ingest%3Astatus=done")
    result = run("status", f"s3://{bucket}/{KEY}")
    assert result.exit_code == EXIT_NO_OUTCOME
    assert "its csv-ingest:status tag says 'done', which the pipeline never writes" in said(result.output)


def test_json_has_the_status_the_counts_and_the_report(endpoint: Endpoint, bucket: str) -> None:
    """--json: one object on stdout with the status, exit code, every count, when, the report's URI."""
    version = upload(endpoint, bucket)
    record(endpoint, bucket, version, "loaded-with-rejected-rows", rows_written=4, rows_rejected=1)
    result = run("status", f"s3://{bucket}/{KEY}", "--json")
    assert result.exit_code == EXIT_REJECTED
    assert json.loads(result.output) == {
        "source": f"s3://{bucket}/{KEY}",
        "version_id": version,
        "status": "loaded-with-rejected-rows",
        "exit_code": EXIT_REJECTED,
        "rows_written": 4,
        "rows_rejected": 1,
        "rows_superseded": 0,
        "rows_failed": 0,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "time": "2026-12-07T06:31:57Z",
        "rejects_report": f"s3://my-rejects/customers/2026-12.{version}.rejected.csv",
        "error": None,
    }


def test_json_of_an_upload_without_an_outcome(endpoint: Endpoint, bucket: str) -> None:
    upload(endpoint, bucket)
    result = run("status", f"s3://{bucket}/{KEY}", "--json")
    answer = json.loads(result.output)
    assert result.exit_code == EXIT_NO_OUTCOME
    assert (answer["status"], answer["exit_code"], answer["rows_written"], answer["error"]) == (
        "no-outcome",
        EXIT_NO_OUTCOME,
        None,
        None,
    )


def test_a_missing_object_exits_1_saying_so(endpoint: Endpoint, bucket: str) -> None:
    """No such key: exit 1 (as `load` of an S3 object that cannot be read), naming what to check."""
    result = run("status", f"s3://{bucket}/missing.csv")
    assert result.exit_code == EXIT_FAILED
    assert f"failed: s3://{bucket}/missing.csv: there is no such object (NoSuchKey)" in said(result.output)


def test_a_location_that_is_not_an_s3_object_is_a_usage_error() -> None:
    """A path or a bucket without a key: exit 64, saying what is expected, before any AWS call."""
    for location in ("customers.csv", "s3://bucket-only"):
        result = run("status", location)
        assert result.exit_code == EXIT_USAGE
        assert f"'{location}' is not an S3 location: expected s3://bucket/key" in said(result.output)


def test_an_unversioned_bucket_names_the_report_without_a_version(endpoint: Endpoint) -> None:
    """A bucket without versioning (S3 calls its objects' version "null"): the report is named as the functions
    name it for an event without a version."""
    endpoint.s3.put_object(Bucket=endpoint.bucket, Key=KEY, Body=b"customer_id\n1\n")
    outcome = FileOutcome(
        obj=ObjectVersion(endpoint.bucket, KEY, None),
        status="loaded-with-rejected-rows",
        path=PATH_ONE_INVOCATION,
        counts={"rows_written": 1, "rows_rejected": 1},
        rejects_report=f"s3://my-rejects/{rejects_report_key(KEY, None)}",
        seconds=1.0,
    )
    tag_object(endpoint.s3, outcome)
    result = run("status", f"s3://{endpoint.bucket}/{KEY}", "--json")
    answer = json.loads(result.output)
    assert answer["version_id"] is None
    assert answer["rejects_report"] == "s3://my-rejects/customers/2026-12.rejected.csv"
