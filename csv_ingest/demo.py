"""`csv-ingest demo` (and `./run-local.sh`): the real handler on a real-shaped S3 event, against moto in-process.

Nothing to install or start: the bucket, the reports bucket and the table are created like the stack's, the file
is uploaded, and the `ObjectCreated:Put` event S3 would send is delivered to `handler.handler`.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import logging
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from csv_ingest_engine.constants import (
    ENV_KEY_COLUMN,
    ENV_REJECTS_BUCKET,
    ENV_TABLE_NAME,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    METRICS_NAMESPACE,
    SERVICE_NAME,
)

# The command line's progress bar: entered with the file's size, it yields the engine's `on_progress` (or None).
Progress = Callable[[int], contextlib.AbstractContextManager[Callable[[int, int], None] | None]]

UPLOAD_BUCKET = "csv-ingest-demo-uploads"
REJECTS_BUCKET = "csv-ingest-demo-rejects"
TABLE = "csv-ingest-demo-table"
# Items (and rejected rows) printed: a file of 20,000 rows must not print 80,000 lines.
SHOWN_ITEMS = 20


# The ETag S3 gives an empty object; the handler reads neither size nor ETag, so an event may leave both at this.
EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"


class DemoContext(LambdaContext):
    """Lambda's context object as the handler and Powertools read it, with as much time left as the caller says.

    The one fake context in the repository: the demo, the benchmark and the tests all use it.
    """

    def __init__(
        self,
        *,
        function_name: str = "csv-ingest-demo",
        aws_request_id: str | None = None,
        remaining_ms: int = 15 * 60 * 1000,  # Lambda's longest timeout
    ) -> None:
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self._memory_limit_in_mb = 1769
        self._aws_request_id = aws_request_id or str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.remaining_ms = remaining_ms

    # Powertools declares this static (its class is for type hints and returns 0); Lambda's own object answers for
    # the invocation it belongs to, as this one does.
    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return self.remaining_ms


def s3_record(
    bucket: str,
    key: str,
    version_id: str | None,
    size: int = 0,
    etag: str = EMPTY_ETAG,
    *,
    event_name: str = "ObjectCreated:Put",
    request_id: str | None = None,
) -> dict[str, Any]:
    """One record of an S3 event notification (event structure version 2.1), key URL-encoded as S3 does.

    The one S3 event builder in the repository. `version_id` None is a bucket without versioning (S3 leaves the
    field out); `request_id` is S3's `x-amz-request-id`, which the handler logs as the correlation id.
    """
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag}
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = f"{uuid.uuid4().int % 16**18:018X}"
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": request_id or f"{uuid.uuid4().int % 16**16:016X}",
            "x-amz-id-2": str(uuid.uuid4()),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "csv-ingest-demo",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def object_created_event(
    bucket: str,
    key: str,
    version_id: str | None,
    size: int = 0,
    etag: str = EMPTY_ETAG,
    *,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The event S3 sends for one `PutObject`; an event for several objects is `{"Records": [s3_record(...), ...]}`."""
    return {"Records": [s3_record(bucket, key, version_id, size, etag, request_id=request_id)]}


def run_demo(path: Path, *, key_column: str, out: Console, err: Console, progress: Progress | None = None) -> int:
    """Ingest `path` through the handler in an emulated account; print the summary, table and rejected rows.

    `progress(total_bytes)`, if given, is entered while the handler runs and yields its progress callback.
    """
    if not path.name.lower().endswith(".csv"):
        # The stack's trigger sends only *.csv keys, and the handler skips any other: say so instead of a summary
        # with nothing in it.
        err.print(
            f"[bold red]failed:[/] {escape(str(path))}: the pipeline only ingests files whose name ends in .csv "
            f"(S3 triggers the function for no others); copy it to a name like {escape(path.stem)}.csv to try it"
        )
        return EXIT_FAILED
    from moto import mock_aws

    environment = {
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        ENV_TABLE_NAME: TABLE,
        ENV_KEY_COLUMN: key_column,
        ENV_REJECTS_BUCKET: REJECTS_BUCKET,
        # What the stack sets for Powertools.
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        # The tables below say what the JSON logs and EMF metrics would; keep the terminal for them.
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    with mock.patch.dict(os.environ, environment), mock_aws():
        # Imported inside the emulator, as Lambda would import it inside the account.
        from csv_ingest_engine import function as handler

        # The handler module may be shared with other code in this process (tests): restore its level after.
        level = handler.logger.log_level
        handler.logger.setLevel(logging.CRITICAL)
        try:
            return _upload_and_ingest(handler, path, key_column, out, err, progress)
        finally:
            handler.logger.setLevel(level)


def _upload_and_ingest(
    handler: Any, path: Path, key_column: str, out: Console, err: Console, progress: Progress | None
) -> int:
    import boto3

    from csv_ingest_engine import IngestError

    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    _create_resources(s3, dynamodb, key_column)
    key = path.name
    put = s3.put_object(Bucket=UPLOAD_BUCKET, Key=key, Body=path.read_bytes())
    out.print(
        f"Uploaded [bold]{escape(key)}[/] to s3://{UPLOAD_BUCKET}/{escape(key)} (emulated by moto, in this process)."
    )
    event = object_created_event(UPLOAD_BUCKET, key, put["VersionId"], path.stat().st_size, put["ETag"].strip('"'))
    try:
        with progress(path.stat().st_size) if progress else contextlib.nullcontext() as on_progress:
            summary = _handle(handler, event, on_progress)
    except IngestError as exc:
        err.print(f"[bold red]The file failed:[/] {escape(str(exc))}")
        return EXIT_FAILED
    entry = summary["files"][0]
    written, rejected = entry["rows_written"], entry["rows_rejected"]
    out.print(f"Handler summary: {written:,} {'row' if written == 1 else 'rows'} written, {rejected:,} rejected.")
    out.print(_items_table(dynamodb, key_column))
    if "rejects_report" not in entry:
        return EXIT_OK
    report_key = entry["rejects_report"].removeprefix(f"s3://{REJECTS_BUCKET}/")
    report = s3.get_object(Bucket=REJECTS_BUCKET, Key=report_key)["Body"].read().decode()
    out.print(_report_table(report, entry["rejects_report"]))
    return EXIT_REJECTED


def _handle(handler: Any, event: dict[str, Any], on_progress: Callable[[int, int], None] | None) -> Any:
    """The handler's answer to `event`; with `on_progress`, the engine reports to it as the file is read."""
    if on_progress is None:
        return handler.handler(event, DemoContext())
    # Lambda has no terminal, so the handler takes no progress callback; the demo lends its engine one, the only
    # difference from the deployed call, so that a long file shows how far it has got.
    ingest_file = handler.ingest_file
    with mock.patch.object(handler, "ingest_file", functools.partial(ingest_file, on_progress=on_progress)):
        return handler.handler(event, DemoContext())


def _create_resources(s3: Any, dynamodb: Any, key_column: str) -> None:
    s3.create_bucket(Bucket=UPLOAD_BUCKET)
    s3.put_bucket_versioning(Bucket=UPLOAD_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=REJECTS_BUCKET)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": key_column, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key_column, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _items_table(dynamodb: Any, key_column: str) -> Table:
    items = [
        {name: value["S"] for name, value in item.items()}
        for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE)
        for item in page["Items"]
    ]
    items.sort(key=lambda item: item[key_column])
    shown = items[:SHOWN_ITEMS]
    columns = [key_column, *dict.fromkeys(name for item in shown for name in item if name != key_column)]
    title = f"DynamoDB table {TABLE} ({len(items):,} {'item' if len(items) == 1 else 'items'})"
    more = len(items) - len(shown)
    caption = f"… and {more:,} more (the first {len(shown)} by {escape(key_column)} shown)" if more else None
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for column in columns:
        table.add_column(escape(column))
    for item in shown:
        table.add_row(*(escape(item.get(column, "")) for column in columns))
    return table


def _report_table(report: str, uri: str) -> Table:
    header, *rows = csv.reader(io.StringIO(report))
    more = len(rows) - SHOWN_ITEMS
    caption = f"… and {more:,} more, in the report" if more > 0 else None
    table = Table(
        title=f"Rejected rows, reported in {uri}", title_justify="left", caption=caption, caption_justify="left"
    )
    for column in header:
        table.add_column(escape(column))
    for row in rows[:SHOWN_ITEMS]:
        table.add_row(*map(escape, row))
    return table
