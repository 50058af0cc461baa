"""One run of `load` (with a writer) or `validate` (without) of one file, local or in S3: the file, its schema,
the ingest in this process or in worker processes, the --rejects report; its `Outcome`."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape

from csv_ingest.cli.ctrl_c import ctrl_c_stops
from csv_ingest.cli.options import Aws
from csv_ingest.cli.outcome import Outcome, ShownRejections, shown_rejections
from csv_ingest.cli.output import err, progress
from csv_ingest.cli.schema_options import SchemaOptions
from csv_ingest.cli.workers import default_workers, ingest_in_workers
from csv_ingest.cli.writer_settings import WriterSettings
from csv_ingest_engine import FileResult, IngestError, IngestStopped, ingest_file
from csv_ingest_engine import schema as schemas
from csv_ingest_engine.constants import WriteMode
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.schema import CsvFormat, KeyAttribute, Schema, SchemaError

# Rejected rows printed on the terminal (and in --json); the --rejects file has them all.
SHOWN_REJECTIONS = 20


@dataclass
class FileRun:
    """`load` (with a writer) or `validate` (without) of one file, local or in S3."""

    source: str
    options: SchemaOptions
    fmt: CsvFormat
    mode: WriteMode
    aws: Aws
    writer: WriterSettings | None
    rejects: Path | None
    as_json: bool
    # validate's: the attribute load would stamp the writes in (None: --no-ordering); a load's writer brings its own.
    order_attribute: str | None = None

    def execute(self, workers: int | None = 1) -> Outcome:
        """Run it; a load with `workers` processes (None: by the file's size, see `default_workers`)."""
        rejections = shown_rejections(SHOWN_REJECTIONS)
        outcome = Outcome(self.source, "valid" if self.writer is None else "written", 0.0, rejections)
        failures: tuple[type[Exception], ...] = (IngestError,)
        if self.writer is not None or self.source.startswith("s3://"):
            from botocore.exceptions import BotoCoreError  # no region, no credentials, endpoint unreachable

            failures = (IngestError, BotoCoreError)
        started = time.monotonic()
        try:
            schema = self._schema()
            with self._local_copy() as path:
                outcome.result = self._ingest(path, schema, rejections, failures, workers)
        except IngestStopped as exc:
            outcome.interrupted(exc)
        except failures as exc:
            outcome.failed(exc)
        outcome.seconds = time.monotonic() - started
        if self.rejects is not None and self.rejects.is_file() and rejections.count:
            outcome.report = self.rejects
        return outcome

    @contextlib.contextmanager
    def _local_copy(self) -> Iterator[Path]:
        """The file to read: SOURCE itself, or the S3 object downloaded to a temporary file for the run."""
        if not self.source.startswith("s3://"):
            yield existing_file(self.source)
            return
        from csv_ingest_engine.objects import CLIENT_CONFIG, downloaded

        bucket, key = _s3_location(self.source)
        with downloaded(self.aws.client("s3", config=CLIENT_CONFIG), bucket, key) as path:
            yield path

    def _schema(self) -> Schema:
        """The key and types rows are written with: for a load, the table's key (DescribeTable)."""
        if self.writer is None:
            return self.options.schema()
        from botocore.exceptions import BotoCoreError, ClientError

        from csv_ingest_engine.objects import CLIENT_CONFIG

        table = self.writer.table
        try:
            described = self.aws.client("dynamodb", config=CLIENT_CONFIG).describe_table(TableName=table)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise IngestError(
                    self.source,
                    f"writing to DynamoDB table '{table}' failed before the first row: the table does not exist in "
                    f"this account and region ({exc}); 0 rows were written, and ingesting the file again is safe",
                ) from exc
            described = {}
            reason = str(exc)
        except BotoCoreError as exc:
            described = {}
            reason = str(exc)
        table_key = table_key_schema(described)
        if table_key is None:
            if described:
                reason = "DescribeTable gave no key schema"
            # The writes will say more (access, endpoint); the options' key is the best guess meanwhile.
            assumed = self.options.schema()
            err.print(
                f"[yellow]warning:[/] could not read table '{escape(table)}''s key schema ({escape(reason)}); "
                f"writing rows with {escape(assumed.describe())}."
            )
            return assumed
        return self.options.schema(table_key)

    def _ingest(
        self,
        path: Path,
        schema: Schema,
        rejections: ShownRejections,
        failures: tuple[type[Exception], ...],
        workers: int | None,
    ) -> FileResult:
        ordered = self.writer is not None and self.writer.ordering is not None
        workers = workers or default_workers(path.stat().st_size, self.mode, ordered=ordered)
        if self.writer is not None and workers > 1:
            return self._ingest_in_workers(self.writer, path, schema, rejections, failures, workers)
        writer = self.writer.writer() if self.writer is not None else None
        with contextlib.ExitStack() as stack:
            report = stack.enter_context(self._report(failures))
            on_progress = stack.enter_context(progress(path.stat().st_size, shown=not self.as_json))
            # Ctrl-C stops a load's sending, or a validate's checking, and the outcome says how far it got (one
            # JSON object with --json); anywhere else (a download) it aborts at once.
            should_stop = stack.enter_context(ctrl_c_stops())
            return ingest_file(
                path,
                source=self.source,
                schema=schema,
                fmt=self.fmt,
                writer=writer,
                mode=self.mode,
                order_attribute=self.order_attribute,
                on_reject=rejections.add,
                report=report,
                on_progress=on_progress,
                should_stop=should_stop,
            )

    def _ingest_in_workers(
        self,
        writer: WriterSettings,
        path: Path,
        schema: Schema,
        rejections: ShownRejections,
        failures: tuple[type[Exception], ...],
        workers: int,
    ) -> FileResult:
        """A load by `workers` processes, one per share of the keys: one bar, one report, one outcome."""
        with self._report(failures) as report, ctrl_c_stops() as should_stop:
            return ingest_in_workers(
                path,
                source=self.source,
                settings=writer,
                schema=schema,
                fmt=self.fmt,
                workers=workers,
                on_reject=rejections.add,
                report=report,
                progress=functools.partial(progress, shown=not self.as_json),  # entered with the records counted
                should_stop=should_stop,
            )

    @contextlib.contextmanager
    def _report(self, failures: tuple[type[Exception], ...]) -> Iterator[RejectsReport | None]:
        """The --rejects report of a run that reads the file (a mistyped path leaves an earlier one alone): whole at
        the end, with the rows rejected before a failure or Ctrl-C too, and the earlier one left if the run crashed."""
        if self.rejects is None:
            yield None
            return
        with RejectsReport(self.rejects, fmt=self.fmt) as report:
            try:
                yield report
            except failures:  # IngestStopped (Ctrl-C) too
                report.close()
                raise


def table_key_schema(described: dict[str, Any]) -> tuple[KeyAttribute, KeyAttribute | None] | None:
    """The partition and sort key of a DescribeTable `Table`; None when it has no (usable) key schema."""
    types = {d.get("AttributeName"): d.get("AttributeType") for d in described.get("AttributeDefinitions", ())}
    keys = {k.get("KeyType"): k.get("AttributeName") for k in described.get("KeySchema", ())}
    try:
        partition = KeyAttribute(keys["HASH"], schemas.key_type(types[keys["HASH"]], origin="the table"))
        sort = (
            KeyAttribute(keys["RANGE"], schemas.key_type(types[keys["RANGE"]], origin="the table"))
            if "RANGE" in keys
            else None
        )
    except (KeyError, SchemaError):
        return None
    return partition, sort


def _s3_location(source: str) -> tuple[str, str]:
    bucket, _, key = source.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise IngestError(source, "not an S3 location: expected s3://bucket/key")
    return bucket, key


def existing_file(source: str) -> Path:
    path = Path(source)
    if path.is_dir():
        raise IngestError(source, "is a folder, not a file: name one CSV file in it")
    if not path.is_file():
        raise IngestError(source, "no such file")
    return path
