"""`csv-ingest demo` (and `./run-local.sh`): the real handler on a real-shaped S3 event, against moto in-process.

Nothing to install or start: the bucket, the reports bucket and the table are created like the stack's, the file
is uploaded, and the `ObjectCreated:Put` event S3 would send is delivered to `handler.handler`. A file over the
large-file threshold goes through the stack's own state machine definition, executed by moto, whose Lambda tasks
run the engine's entry points in this process (`lambda_in_process`, which the tests use too).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import importlib.metadata
import importlib.util
import inspect
import io
import json
import logging
import math
import os
import threading
import time
import traceback
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from csv_ingest_engine.constants import (
    CSV_SUFFIXES,
    DEFAULT_CONCURRENCY,
    DEFAULT_LARGE_FILE_BYTES,
    DEFAULT_PARTITION_BYTES,
    DEFAULT_WRITE_MODE,
    ENV_KEY_COLUMN,
    ENV_LARGE_FILE_BYTES,
    ENV_PARTITION_BYTES,
    ENV_REJECTS_BUCKET,
    ENV_STATE_MACHINE_ARN,
    ENV_TABLE_NAME,
    ENV_WORK_BUCKET,
    ENV_WRITE_CONCURRENCY,
    ENV_WRITE_MODE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    HANDLER_FINISH,
    HANDLER_INGEST_PARTITION,
    HANDLER_PARTITION,
    HANDLER_TRIGGER,
    METRICS_NAMESPACE,
    SERVICE_NAME,
    WriteMode,
)
from csv_ingest_engine.schema import CsvFormat, Schema
from csv_ingest_engine.settings import function_environment, schema_environment

# The command line's progress bar: entered with the file's size, it yields the engine's `on_progress` (or None).
Progress = Callable[[int], contextlib.AbstractContextManager[Callable[[int, int], None] | None]]

UPLOAD_BUCKET = "csv-ingest-demo-uploads"
REJECTS_BUCKET = "csv-ingest-demo-rejects"
TABLE = "csv-ingest-demo-table"
# Items (and rejected rows) printed: a file of 20,000 rows must not print 80,000 lines.
SHOWN_ITEMS = 20
# The partitions the demo cuts a file into when the stack's partition size would make fewer (see
# `demo_partition_bytes`): enough that the Map is seen running several workers.
DEMO_PARTITIONS = 4


# The ETag S3 gives an empty object. The handler never reads the ETag, and reads the size only to choose between
# one invocation and the state machine: an event may leave both at an empty object's for the one-invocation path.
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


def run_demo(
    path: Path,
    *,
    key_column: str,
    out: Console,
    err: Console,
    write_mode: WriteMode = DEFAULT_WRITE_MODE,
    progress: Progress | None = None,
    large_file_bytes: int = DEFAULT_LARGE_FILE_BYTES,
    export: Path | None = None,
) -> int:
    """Ingest `path` through the handler in an emulated account; print the path it took, the summary, the table and
    the rejected rows; return the exit code.

    A file over `large_file_bytes` goes through the state machine (0: every file does). `progress(total_bytes)`, if
    given, is entered while the one-invocation handler runs and yields its progress callback. `export`, if given,
    receives the table as CSV (see `export_table`).
    """
    if not path.name.lower().endswith(CSV_SUFFIXES):
        # The stack's trigger sends only *.csv and *.csv.gz keys, and the handler skips any other: say so instead
        # of a summary with nothing in it.
        err.print(
            f"[bold red]failed:[/] {escape(str(path))}: the pipeline only ingests files whose name ends in .csv or "
            f".csv.gz (S3 triggers the function for no others); copy it to a name like {escape(path.stem)}.csv to "
            "try it"
        )
        return EXIT_FAILED
    large = path.stat().st_size > large_file_bytes
    if large and (missing := _missing_state_machine_support()):
        err.print(
            f"[bold red]failed:[/] the file is over the large-file threshold, and moto needs {escape(missing)} to "
            "run the state machine: "
            + escape("pip install 'moto[stepfunctions]'")
            + f", or give --large-file-bytes {path.stat().st_size} (the file's size) to ingest it in one invocation"
        )
        return EXIT_FAILED
    from moto import mock_aws

    environment = {
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        ENV_TABLE_NAME: TABLE,
        ENV_KEY_COLUMN: key_column,
        ENV_WRITE_MODE: write_mode,
        ENV_REJECTS_BUCKET: REJECTS_BUCKET,
        ENV_LARGE_FILE_BYTES: str(large_file_bytes),
        # What the stack sets for Powertools.
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        # The tables below say what the JSON logs and EMF metrics would; keep the terminal for them.
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    demo = _Demo(
        path, key_column=key_column, write_mode=write_mode, out=out, err=err, large_file_bytes=large_file_bytes
    )
    with (
        mock.patch.dict(os.environ, environment),
        mock_aws(config=MOTO_CONFIG),
        lambda_in_process() as lambdas,
        warnings.catch_warnings(),
    ):
        # Imported inside the emulator, as Lambda would import it inside the account.
        from csv_ingest_engine import function as handler
        from csv_ingest_engine import large_files

        # Powertools warns when an invocation emits no metric, as the trigger does for a large file (Finish counts
        # it); the terminal is for the demo's own tables.
        warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
        # The handler module may be shared with other code in this process (tests): restore its level after.
        levels = _quiet(handler.logger.name, large_files.logger.name, *NOISY_LOGGERS)
        try:
            code = demo.run(handler, lambdas, progress=None if large else progress)
            return code if export is None else demo.export(export, code)
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def _missing_state_machine_support() -> str | None:
    """The modules moto's state machine interpreter needs that are not installed (its `stepfunctions` extra)."""
    missing = [module for module in ("antlr4", "jsonpath_ng") if importlib.util.find_spec(module) is None]
    return " and ".join(missing) or None


def _quiet(*names: str) -> dict[str, int]:
    """Silence these loggers; return their levels, to put back."""
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return levels


class _Demo:
    """One run of the demo: the emulated account's resources, the upload, the path it takes and what it shows."""

    def __init__(
        self, path: Path, *, key_column: str, write_mode: WriteMode, out: Console, err: Console, large_file_bytes: int
    ) -> None:
        self.path = path
        self.key_column = key_column
        self.write_mode = write_mode
        self.out = out
        self.err = err
        self.large_file_bytes = large_file_bytes

    def run(self, handler: Any, lambdas: InProcessLambda, *, progress: Progress | None) -> int:
        import boto3

        from csv_ingest_engine import IngestError

        self.s3, self.dynamodb = boto3.client("s3"), boto3.client("dynamodb")
        _create_resources(self.s3, self.dynamodb, self.key_column)
        size = self.path.stat().st_size
        self.partition_bytes = demo_partition_bytes(size)
        if size > self.large_file_bytes:
            # The trigger finds the state machine the way the stack tells it: by its environment.
            os.environ[ENV_STATE_MACHINE_ARN] = create_large_file_flow(
                table_name=TABLE,
                key_column=self.key_column,
                rejects_bucket=REJECTS_BUCKET,
                work_bucket=WORK_BUCKET,
                partition_bytes=self.partition_bytes,
                write_mode=self.write_mode,
            )
        key = self.path.name
        put = self.s3.put_object(Bucket=UPLOAD_BUCKET, Key=key, Body=self.path.read_bytes())
        self.out.print(
            f"Uploaded [bold]{escape(key)}[/] to s3://{UPLOAD_BUCKET}/{escape(key)} "
            "(emulated by moto, in this process)."
        )
        event = object_created_event(UPLOAD_BUCKET, key, put["VersionId"], size, put["ETag"].strip('"'))
        try:
            with progress(size) if progress else contextlib.nullcontext() as on_progress, lambdas.lock:
                summary = _handle(handler, event, on_progress)
        except IngestError as exc:
            self.err.print(f"[bold red]The file failed:[/] {escape(str(exc))}")
            return EXIT_FAILED
        entry = summary["files"][0]
        if entry["status"] == "started":
            self.out.print(
                f"Path: the state machine (the file is {size:,} bytes, over the large-file threshold of "
                f"{self.large_file_bytes:,}): the handler started execution {escape(entry['execution_arn'])}."
            )
            self.out.print(_partition_size_note(self.partition_bytes))
            return self._follow(entry["execution_arn"], lambdas)
        self.out.print(
            f"Path: one invocation (the file is {size:,} bytes, not over the large-file threshold of "
            f"{self.large_file_bytes:,})."
        )
        return self._show("Handler summary", entry)

    def export(self, path: Path, code: int) -> int:
        """Write the table to `path` as CSV (whatever the run's outcome); return the run's exit `code`, or 1 if the
        file cannot be written."""
        try:
            count = export_table(self.dynamodb, TABLE, self.key_column, path)
        except OSError as exc:
            self.err.print(
                f"[bold red]failed:[/] could not export the table to {escape(str(path))}: {escape(str(exc))}"
            )
            return EXIT_FAILED
        self.out.print(f"Exported the table ({count:,} {'item' if count == 1 else 'items'}) to {escape(str(path))}.")
        return code

    def _follow(self, execution_arn: str, lambdas: InProcessLambda) -> int:
        import boto3

        execution = wait_for_execution(boto3.client("stepfunctions"), execution_arn)
        partitioned = lambdas.returned(HANDLER_PARTITION)
        if partitioned:
            self.out.print(_partitions_table(partitioned[-1], lambdas))
        self.out.print(f"Execution {escape(execution['name'])}: {execution['status']}.")
        # moto may call an execution SUCCEEDED when a Map iteration failed: the verdict is Finish's own.
        verdict = lambdas.returned(HANDLER_FINISH)
        if execution["status"] != "SUCCEEDED" or not verdict:
            self.err.print(f"[bold red]The file failed:[/] {escape(_failure_cause(execution))}")
            return EXIT_FAILED
        return self._show("State machine summary", verdict[-1])

    def _show(self, title: str, summary: dict[str, Any]) -> int:
        written, rejected = summary["rows_written"], summary["rows_rejected"]
        self.out.print(f"{title}: {written:,} {'row' if written == 1 else 'rows'} written, {rejected:,} rejected.")
        self.out.print(_items_table(self.dynamodb, self.key_column))
        if "rejects_report" not in summary:
            return EXIT_OK
        report_key = summary["rejects_report"].removeprefix(f"s3://{REJECTS_BUCKET}/")
        report = self.s3.get_object(Bucket=REJECTS_BUCKET, Key=report_key)["Body"].read().decode()
        self.out.print(_report_table(report, summary["rejects_report"]))
        return EXIT_REJECTED


def demo_partition_bytes(size: int) -> int:
    """The partition size the demo's state machine cuts a file of `size` bytes by: the stack's default, or for a
    file smaller than DEMO_PARTITIONS of those, a DEMO_PARTITIONS-th of the file, so that the Map has several."""
    if size >= DEMO_PARTITIONS * DEFAULT_PARTITION_BYTES:
        return DEFAULT_PARTITION_BYTES
    return max(1, math.ceil(size / DEMO_PARTITIONS))


def _partition_size_note(partition_bytes: int) -> str:
    if partition_bytes == DEFAULT_PARTITION_BYTES:
        return f"Partition size: {partition_bytes:,} bytes (the stack's default, context partition_bytes)."
    return (
        f"Partition size: {partition_bytes:,} bytes (the file cut in {DEMO_PARTITIONS}, so that the Map runs several "
        f"workers; the stack's default, context partition_bytes, is {DEFAULT_PARTITION_BYTES:,})."
    )


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


def _partitions_table(partitioned: dict[str, Any], lambdas: InProcessLambda) -> Table:
    """The Partition task's partitions, with what each worker made of its own (or why it did not report)."""
    workers = [call for call in lambdas.calls if call.entry_point == HANDLER_INGEST_PARTITION]
    results = {call.event.get("index"): call.returned for call in workers if call.raised is None}
    crashes = {call.event.get("index"): call.raised for call in workers if call.raised is not None}
    partitions = partitioned["partitions"]
    table = Table(
        title=f"Partitions ({partitioned['rows']:,} rows in {len(partitions):,})",
        title_justify="left",
        caption=f"… and {len(partitions) - SHOWN_ITEMS:,} more" if len(partitions) > SHOWN_ITEMS else None,
        caption_justify="left",
    )
    for column in ("partition", "chunks", "rows", "written", "rejected", "outcome"):
        table.add_column(column, justify="left" if column == "outcome" else "right")
    for entry in partitions[:SHOWN_ITEMS]:
        result = results.get(entry["index"])
        if result is None:
            crash = crashes.get(entry["index"])
            counts = ("", "")
            outcome = f"did not report ({type(crash).__name__}: {crash})" if crash else "did not report"
        else:
            counts = (f"{result['rows_written']:,}", f"{result['rows_rejected']:,}")
            outcome = "ok" if result["error"] is None else f"failed: {result['error']}"
        table.add_row(str(entry["index"]), f"{entry['chunks']:,}", f"{entry['rows']:,}", *counts, escape(outcome))
    return table


def _failure_cause(execution: dict[str, Any]) -> str:
    """The error an execution failed with: the failing task's message (Lambda's error payload is the cause)."""
    cause = execution.get("cause")
    if not cause:
        return f"the execution ended {execution['status']} without the Finish task's verdict"
    try:
        message = json.loads(cause).get("errorMessage")
    except (ValueError, AttributeError):
        message = None
    return message if isinstance(message, str) else cause


def export_table(dynamodb: Any, table: str, key_column: str, path: Path) -> int:
    """Write `table` to `path` as CSV, sorted by key, for `diff`: the key column first, then every attribute name
    seen, sorted; an empty cell where an item lacks the attribute. Returns the number of items."""
    items = [
        {name: _plain(value) for name, value in item.items()}
        for page in dynamodb.get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
    ]
    items.sort(key=lambda item: item.get(key_column, ""))
    names = sorted({name for item in items for name in item} - {key_column})
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([key_column, *names])
        for item in items:
            writer.writerow([item.get(name, "") for name in (key_column, *names)])
    return len(items)


def _plain(value: dict[str, Any]) -> str:
    """A DynamoDB attribute value as text: a string as it is (every value the engine writes is one), anything else
    as its JSON."""
    text = value.get("S")
    return text if isinstance(text, str) else json.dumps(value, sort_keys=True, default=str)


# -- the large-file flow in moto -------------------------------------------------------------------------------------

# moto executes state machines only when asked; its Lambda tasks then call `LambdaFunction._invoke_lambda`.
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}}
WORK_BUCKET = "csv-ingest-demo-work"
# The stack's definition of the state machine, packaged with the CLI; the functions' ARNs are placeholders in it.
FLOW_DEFINITION: Any = resources.files("csv_ingest") / "flows" / "large_file.asl.json"
FLOW_FUNCTIONS = {
    HANDLER_PARTITION: "PartitionFunctionArn",
    HANDLER_INGEST_PARTITION: "IngestPartitionFunctionArn",
    HANDLER_FINISH: "FinishFunctionArn",
}
# moto's state machine interpreter logs a warning per Map and a traceback per failed task; the demo says it better.
NOISY_LOGGERS = ("moto.stepfunctions", "moto.awslambda")
POLL_S = 0.05

Handler = Callable[[dict[str, Any], LambdaContext], Any]


def entry_points() -> dict[str, Handler]:
    """The engine's Lambda entry points by handler name, as lambda/handler.py exports them (a wheel has no
    handler.py, so the names are resolved here)."""
    from csv_ingest_engine import function, large_files

    return {
        HANDLER_TRIGGER: function.handler,
        HANDLER_PARTITION: large_files.partition,
        HANDLER_INGEST_PARTITION: large_files.ingest_partition,
        HANDLER_FINISH: large_files.finish,
    }


@dataclass(frozen=True)
class Invocation:
    """One call of a function by moto: its entry point, event, and what it returned or raised."""

    entry_point: str
    event: dict[str, Any]
    returned: Any = None
    raised: BaseException | None = None


class InProcessLambda:
    """moto's Lambda functions, run in this process instead of in Docker: an invocation calls the entry point its
    function's handler names (`handler.<name>`), in the function's environment, with a fake context that has the
    function's timeout left, and answers as Lambda does: the return value as JSON, or the error's type and message.

    The function's variables are lent to the invoking thread (`settings.function_environment`), never written to
    `os.environ`, which moto's threads read whenever they make a client. Invocations still run one at a time
    (`lock`): Powertools' logger keys and metrics are the process's own. `calls` lists them in order.
    """

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self.handlers = dict(handlers)
        self.lock = threading.RLock()
        self.calls: list[Invocation] = []

    def invoke(self, function: Any, event: Any = None) -> tuple[str, bool, str]:
        """What `LambdaFunction._invoke_lambda(self, event)` returns: (payload JSON, errored, logs)."""
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        entry_point = function.handler.rpartition(".")[2]
        handler = self.handlers[entry_point]
        context = DemoContext(function_name=function.function_name, remaining_ms=int(function.timeout) * 1000)
        with self.lock, function_environment(function.environment_vars or {}):
            try:
                returned = handler(payload, context)
            except Exception as exc:  # what Lambda reports as the function's error
                self.calls.append(Invocation(entry_point, payload, raised=exc))
                error = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(exc.__traceback__),
                }
                return json.dumps(error), True, ""
            self.calls.append(Invocation(entry_point, payload, returned=returned))
        return json.dumps(returned), False, ""

    def returned(self, entry_point: str) -> list[Any]:
        """What the calls of `entry_point` that did not raise returned, in order."""
        return [call.returned for call in self.calls if call.entry_point == entry_point and call.raised is None]


@contextlib.contextmanager
def lambda_in_process(handlers: Mapping[str, Handler] | None = None) -> Iterator[InProcessLambda]:
    """While the block runs (inside moto's mock), moto runs Lambda functions with `InProcessLambda`; `handlers`
    replaces the engine's entry points (a test's failing worker)."""
    from moto.awslambda.models import LambdaFunction

    check_moto_invoke(LambdaFunction)
    lambdas = InProcessLambda({**entry_points(), **(handlers or {})})

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:  # moto's own signature, `self` a function
        return lambdas.invoke(self, event)

    with mock.patch.object(LambdaFunction, "_invoke_lambda", invoke):
        yield lambdas


def check_moto_invoke(lambda_function: type) -> None:
    """Fail loudly if moto no longer runs a function through `_invoke_lambda(self, event)`, the method patched."""
    method = getattr(lambda_function, "_invoke_lambda", None)
    parameters = list(inspect.signature(method).parameters) if callable(method) else None
    if parameters != ["self", "event"]:
        raise RuntimeError(
            f"moto {importlib.metadata.version('moto')} no longer has LambdaFunction._invoke_lambda(self, event) "
            f"(found {parameters}): the demo's in-process Lambda (csv_ingest/demo.py) must follow it"
        )


def create_large_file_flow(
    *,
    table_name: str,
    key_column: str,
    rejects_bucket: str,
    work_bucket: str,
    partition_bytes: int = DEFAULT_PARTITION_BYTES,
    write_mode: WriteMode = DEFAULT_WRITE_MODE,
    write_concurrency: int = DEFAULT_CONCURRENCY,
    schema: Schema | None = None,
    fmt: CsvFormat | None = None,
) -> str:
    """In moto: the work bucket, the three task functions with the environment the stack gives them, and the state
    machine of the stack's packaged definition; return the state machine's ARN. `schema` (default: a string key in
    `key_column`) and `fmt` as the stack's context sets them."""
    import boto3

    boto3.client("s3").create_bucket(Bucket=work_bucket)
    iam, functions = boto3.client("iam"), boto3.client("lambda")
    role = iam.create_role(RoleName="csv-ingest-demo", AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST))["Role"]
    work = {
        ENV_WORK_BUCKET: work_bucket,
        **schema_environment(schema or Schema.keyed_on(key_column), fmt or CsvFormat()),
    }
    environments = {
        HANDLER_PARTITION: {**work, ENV_PARTITION_BYTES: str(partition_bytes)},
        HANDLER_INGEST_PARTITION: {
            **work,
            ENV_TABLE_NAME: table_name,
            ENV_WRITE_MODE: write_mode,
            ENV_WRITE_CONCURRENCY: str(write_concurrency),
        },
        HANDLER_FINISH: {**work, ENV_REJECTS_BUCKET: rejects_bucket},
    }
    arns = {}
    for entry_point, variables in environments.items():
        created = functions.create_function(
            FunctionName=f"csv-ingest-demo-{entry_point.replace('_', '-')}",
            Runtime="python3.14",
            Role=role["Arn"],
            Handler=f"handler.{entry_point}",
            Code={"ZipFile": _EMPTY_ZIP},
            Timeout=15 * 60,
            Environment={"Variables": {**variables, **_POWERTOOLS}},
        )
        arns[FLOW_FUNCTIONS[entry_point]] = created["FunctionArn"]
    machine = boto3.client("stepfunctions").create_state_machine(
        name="csv-ingest-demo-large-files",
        definition=flow_definition(arns),
        roleArn=role["Arn"],
        type="STANDARD",
    )
    return str(machine["stateMachineArn"])


def flow_definition(function_arns: Mapping[str, str]) -> str:
    """The packaged definition with the functions' ARNs in place of its placeholders, as moto can read it."""
    text = FLOW_DEFINITION.read_text(encoding="utf-8")
    for placeholder, arn in function_arns.items():
        text = text.replace(f"${{{placeholder}}}", arn)
    if "${" in text:
        raise ValueError(f"{FLOW_DEFINITION} has placeholders the demo does not fill: {text[text.index('${') :][:40]}")
    return json.dumps(_for_moto(json.loads(text)))


def _for_moto(node: Any) -> Any:
    """moto's ASL grammar takes ToleratedFailurePercentage only as a decimal (100.0), where AWS takes any number."""
    if isinstance(node, dict):
        return {
            name: float(value) if name == "ToleratedFailurePercentage" else _for_moto(value)
            for name, value in node.items()
        }
    if isinstance(node, list):
        return [_for_moto(value) for value in node]
    return node


def wait_for_execution(stepfunctions: Any, execution_arn: str) -> dict[str, Any]:
    """Poll the execution until it ends; return its description."""
    while True:
        execution: dict[str, Any] = stepfunctions.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(POLL_S)


_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
_POWERTOOLS = {"POWERTOOLS_SERVICE_NAME": SERVICE_NAME, "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE}


def _empty_zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "# run in process by the demo\n")
    return archive.getvalue()


_EMPTY_ZIP = _empty_zip()
