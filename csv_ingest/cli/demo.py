"""What `csv-ingest demo` (and ./run-local.sh) shows: a file uploaded to the emulated account (`csv_ingest.local`),
the DynamoDB its table is on, the path the real handler sent it on, the handler's or the state machine's summary,
the table and the rejected rows, then the file's outcome where people look: the EventBridge event a rule caught,
and the tags on the object version.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from csv_ingest.cli.demo_tables import (
    failure_cause,
    items_table,
    outcome_event_text,
    partitions_table,
    report_table,
    tags_table,
)
from csv_ingest.cli.output import deleted, superseded
from csv_ingest.local.demo_account import (
    REJECTS_BUCKET,
    TABLE,
    UPLOAD_BUCKET,
    WORK_BUCKET,
    create_resources,
    emulated_account,
    export_table,
)
from csv_ingest.local.demo_dynamodb import demo_dynamodb
from csv_ingest.local.events import object_created_event
from csv_ingest.local.lambdas import InProcessLambda, invoke_trigger
from csv_ingest.local.outcomes import catch_outcome_events, caught_outcome_events, object_tags
from csv_ingest.local.state_machine import create_large_file_flow, missing_state_machine_support, wait_for_execution
from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.constants import (
    CSV_SUFFIXES,
    DEFAULT_PARTITION_BYTES,
    ENV_STATE_MACHINE_ARN,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    HANDLER_FINISH,
    HANDLER_PARTITION,
)
from csv_ingest_engine.partitioning import GZIP_EXPANSION, content_bytes, goes_to_state_machine
from csv_ingest_engine.schema import gzipped

# The command line's progress bar: entered with the file's size, it yields the engine's `on_progress` (or None).
Progress = Callable[[int], contextlib.AbstractContextManager[Callable[[int, int], None] | None]]

# The partitions the demo cuts a file into when the stack's partition size would make fewer (see
# `demo_partition_bytes`): enough that the Map is seen running several workers.
DEMO_PARTITIONS = 4
# A gzip file ends with the size of its (last member's) text, which the trigger reads to choose the path.
GZIP_TRAILER_BYTES = 4


def run_demo(
    path: Path,
    *,
    config: EngineConfig,
    out: Console,
    err: Console,
    progress: Progress | None = None,
    export: Path | None = None,
    bookkeeping: bool = False,
) -> int:
    """Ingest `path` through the handler in an emulated account whose functions are configured by `config` (the key
    schema, column types, format, write mode, threshold and ordering, as the stack's context sets them); print the
    DynamoDB it used, the path the file took, the summary, the table and the rejected rows; return the exit code.

    A file whose CSV text is over `config.large_file_bytes` goes through the state machine (0: every file does), as
    `partitioning.goes_to_state_machine` decides it for the deployed trigger. `progress(total_bytes)`, if given, is
    entered while the one-invocation handler runs and yields its progress callback. `export`, if given, receives the
    table as CSV (see `export_table`). The table shown and exported has the file's columns, and the pipeline's
    bookkeeping attributes (the upload order stamp) only with `bookkeeping`.
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
    size = path.stat().st_size
    large = goes_to_state_machine(path.name, size, _gzip_trailer(path, size), config.large_file_bytes)
    if large and (missing := missing_state_machine_support()):
        err.print(
            f"[bold red]failed:[/] the file is over the large-file threshold, and moto needs {escape(missing)} to "
            "run the state machine: "
            + escape("pip install 'moto[stepfunctions]'")
            + f", or give --large-file-bytes {_estimate(path, size)} (the size it is taken for) to ingest it in one "
            "invocation"
        )
        return EXIT_FAILED
    demo = _Demo(path, config=config, out=out, err=err, bookkeeping=bookkeeping)
    with demo_dynamodb() as dynamodb, emulated_account(config, dynamodb_url=dynamodb.url) as lambdas:
        out.print(dynamodb.said)
        code = demo.run(lambdas, large=large, progress=None if large else progress)
        return code if export is None else demo.export(export, code)


def _gzip_trailer(path: Path, size: int) -> bytes | None:
    """A `.gz` file's last 4 bytes, as the trigger reads them from S3 (None for CSV)."""
    if not gzipped(path.name) or size < GZIP_TRAILER_BYTES:
        return None
    with path.open("rb") as file:
        file.seek(size - GZIP_TRAILER_BYTES)
        return file.read(GZIP_TRAILER_BYTES)


def _estimate(path: Path, size: int) -> int:
    """The CSV text's size the path is chosen by (a `.gz` file's estimated, see `partitioning.content_bytes`)."""
    return content_bytes(path.name, size, _gzip_trailer(path, size))


class _Demo:
    """One run of the demo: the emulated account's resources, the upload, the path it takes and what it shows."""

    def __init__(self, path: Path, *, config: EngineConfig, out: Console, err: Console, bookkeeping: bool) -> None:
        self.path = path
        self.config = config
        self.keys = config.schema.key_names
        self.out = out
        self.err = err
        self.bookkeeping = bookkeeping

    def run(self, lambdas: InProcessLambda, *, large: bool, progress: Progress | None) -> int:
        import boto3

        self.s3, self.dynamodb = boto3.client("s3"), boto3.client("dynamodb")
        create_resources(self.s3, self.dynamodb, self.config.schema)
        size = self.path.stat().st_size
        self.partition_bytes = demo_partition_bytes(_estimate(self.path, size))
        if large:
            # The trigger finds the state machine the way the stack tells it: by its environment.
            os.environ[ENV_STATE_MACHINE_ARN] = create_large_file_flow(
                table_name=TABLE,
                key_column=self.config.key_column,
                rejects_bucket=REJECTS_BUCKET,
                work_bucket=WORK_BUCKET,
                partition_bytes=self.partition_bytes,
                write_mode=self.config.write_mode,
                consistent_reads=self.config.consistent_reads,
                schema=self.config.schema,
                fmt=self.config.fmt,
                order_attribute=self.config.order_attribute,
            )
        sqs = boto3.client("sqs")
        outcomes = catch_outcome_events(boto3.client("events"), sqs)
        key = self.path.name
        put = self.s3.put_object(Bucket=UPLOAD_BUCKET, Key=key, Body=self.path.read_bytes())
        self.out.print(
            f"Uploaded [bold]{escape(key)}[/] to s3://{UPLOAD_BUCKET}/{escape(key)} "
            "(emulated by moto, in this process)."
        )
        event = object_created_event(UPLOAD_BUCKET, key, put["VersionId"], size, put["ETag"].strip('"'))
        code = self._ingest(event, lambdas, size, large, progress)
        self.out.print(outcome_event_text(caught_outcome_events(sqs, outcomes)))
        self.out.print(
            tags_table(UPLOAD_BUCKET, key, put["VersionId"], object_tags(self.s3, UPLOAD_BUCKET, key, put["VersionId"]))
        )
        return code

    def _ingest(
        self, event: dict[str, Any], lambdas: InProcessLambda, size: int, large: bool, progress: Progress | None
    ) -> int:
        """Hand the event to the trigger, follow the path it takes, show the summary, the table and the rejected
        rows; return the exit code."""
        from csv_ingest_engine import IngestError

        try:
            with progress(size) if progress else contextlib.nullcontext() as on_progress, lambdas.lock:
                summary = invoke_trigger(event, on_progress)
        except IngestError as exc:
            self.err.print(f"[bold red]The file failed:[/] {escape(str(exc))}")
            return EXIT_FAILED
        entry = summary["files"][0]
        threshold = f"the large-file threshold of {self.config.large_file_bytes:,}"
        if entry["status"] == "started":
            self.out.print(
                f"Path: the state machine ({self._size_said(size)}, over {threshold}): the handler started execution "
                f"{escape(entry['execution_arn'])}."
            )
            self.out.print(_partition_size_note(self.partition_bytes))
            return self._follow(entry["execution_arn"], lambdas)
        self.out.print(f"Path: one invocation ({self._size_said(size)}, not over {threshold}).")
        return self._show("Handler summary", entry)

    def _size_said(self, size: int) -> str:
        """What the path was chosen by: the file's size, or a `.gz` file's estimated text, as the trigger takes it."""
        if not gzipped(self.path.name):
            return f"the file is {size:,} bytes"
        return (
            f"its text is taken for {_estimate(self.path, size):,} bytes, the larger of {GZIP_EXPANSION} times the "
            f"{size:,} compressed bytes and the size its gzip trailer gives"
        )

    def export(self, path: Path, code: int) -> int:
        """Write the table to `path` as CSV (whatever the run's outcome); return the run's exit `code`, or 1 if the
        file cannot be written."""
        try:
            count = export_table(
                self.dynamodb,
                TABLE,
                self.keys,
                path,
                bookkeeping=self.bookkeeping,
                order_attribute=self.config.order_attribute,
            )
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
            self.out.print(partitions_table(partitioned[-1], lambdas))
        self.out.print(f"Execution {escape(execution['name'])}: {execution['status']}.")
        # moto may call an execution SUCCEEDED when a Map iteration failed: the verdict is Finish's own.
        verdict = lambdas.returned(HANDLER_FINISH)
        if execution["status"] != "SUCCEEDED" or not verdict:
            self.err.print(f"[bold red]The file failed:[/] {escape(failure_cause(execution))}")
            return EXIT_FAILED
        return self._show("State machine summary", verdict[-1])

    def _show(self, title: str, summary: dict[str, Any]) -> int:
        written, rejected = summary["rows_written"], summary["rows_rejected"]
        # Named only when there are any, as `load` does.
        older, deleting = summary.get("rows_superseded", 0), summary.get("rows_deleted", 0)
        also = f"; {deleted(deleting)}" if deleting else ""
        also += f"; {superseded(older)}" if older else ""
        same = summary.get("rows_unchanged", 0)
        unchanged = f", {same:,} unchanged" if same else ""
        self.out.print(
            f"{title}: {written:,} {'row' if written == 1 else 'rows'} written{unchanged}, {rejected:,} rejected{also}."
        )
        self.out.print(items_table(self.dynamodb, self.keys, bookkeeping=self.bookkeeping))
        if "rejects_report" not in summary:
            return EXIT_OK
        report_key = summary["rejects_report"].removeprefix(f"s3://{REJECTS_BUCKET}/")
        report = self.s3.get_object(Bucket=REJECTS_BUCKET, Key=report_key)["Body"].read().decode()
        self.out.print(report_table(report, summary["rejects_report"]))
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
