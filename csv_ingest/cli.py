"""The `csv-ingest` command line: load, validate and demo, on the Lambda's own engine.

Exit codes: 0 every row written (or valid), 1 the file failed as a whole, 2 some rows were rejected, 64 the command
line itself was wrong, 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import importlib.util
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from csv_ingest.parallel import SMALL_FILE_BYTES, WriterSettings, default_workers, ingest_in_workers
from csv_ingest_engine import FileResult, IngestError, IngestStopped, Rejection, ingest_file
from csv_ingest_engine import schema as schemas
from csv_ingest_engine.constants import (
    COLUMN_TYPES,
    DEFAULT_CONCURRENCY,
    DEFAULT_DELIMITER,
    DEFAULT_ENCODING,
    DEFAULT_KEY_COLUMN,
    DEFAULT_LARGE_FILE_BYTES,
    DEFAULT_WRITE_MODE,
    ENCODINGS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    KEY_TYPES,
    MAX_CLI_WORKERS,
    MAX_CONCURRENCY,
    MIN_CONCURRENCY,
    WRITE_MODES,
    WRITE_PATIENCE_S,
    ColumnType,
    KeyType,
    WriteMode,
)
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.rules import UNTYPED_COLUMNS
from csv_ingest_engine.schema import CsvFormat, KeyAttribute, Schema, SchemaError

# `demo`'s default file, the brief's good sample: package data in an installed wheel (pyproject.toml ships it there),
# the repository's own copy in a checkout (an editable install maps the package to the source tree).
_PACKAGED_SAMPLE = resources.files("csv_ingest") / "samples" / "sample-good.csv"
SAMPLE_GOOD = (
    Path(str(_PACKAGED_SAMPLE))
    if _PACKAGED_SAMPLE.is_file()
    else Path(__file__).resolve().parent.parent / "sample-csvs" / "sample-good.csv"
)
# What `demo` imports beyond the command line's own dependencies: the `demo` extra (module -> distribution).
DEMO_REQUIREMENTS = {"moto": "moto", "aws_lambda_powertools": "aws-lambda-powertools"}
# Rejected rows printed on the terminal (and in --json); the --rejects file has them all.
SHOWN_REJECTIONS = 20

# soft_wrap: messages stay on one line, whole, for copying and grepping; tables still fit the terminal.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _Commands(click.Group):
    """click's group, with usage errors on their own exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as exc:
            exc.show()
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:  # Ctrl-C outside a load's run, or a second one during it
            err.print("Aborted.")
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="csv-ingest", prog_name="csv-ingest", message="%(prog)s %(version)s")
def main() -> None:
    """Load CSV files into DynamoDB with the same rules as the csv-ingest Lambda.

    \b
    Exit codes: 0   every row written (or valid)
                1   the file failed as a whole (the message says why)
                2   the file was processed but some rows were rejected
                64  the command line was wrong (unknown option, missing --table...)
                130 interrupted with Ctrl-C (`load` stops sending, then says from which line rows may be missing)
    """


def count(number: int, noun: str) -> str:
    """`1 row`, `2 rows`, `20,000 rows`."""
    return f"{number:,} {noun if number == 1 else noun + 's'}"


# -- options --------------------------------------------------------------------------------------------------------

source_argument = click.argument("source", metavar="SOURCE")
key_column_option = click.option(
    "--key-column",
    metavar="COLUMN",
    help=f"The column that holds the table's partition key (default {DEFAULT_KEY_COLUMN}; load: the table's, which "
    "this must then name).",
)
mode_option = click.option(
    "--mode",
    type=click.Choice(WRITE_MODES),
    default=DEFAULT_WRITE_MODE,
    show_default=True,
    help="merge: upsert each row into its item, keeping other attributes. "
    "replace: put whole items in batches of 25 (faster; each row REPLACES its item) - for loads into empty tables.",
)


def _delimiter(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return schemas.delimiter(value, origin="--delimiter")
    except SchemaError as exc:
        raise click.BadParameter(str(exc).removeprefix("--delimiter: "), ctx=ctx, param=param) from None


def _encoding(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return schemas.encoding(value, origin="--encoding")
    except SchemaError as exc:
        raise click.BadParameter(str(exc).removeprefix("--encoding: "), ctx=ctx, param=param) from None


def format_options(command: Callable[..., None]) -> Callable[..., None]:
    """`--delimiter` and `--encoding`: how the file is written (a `.csv.gz` file is decompressed as it is read)."""
    for option in reversed(
        [
            click.option(
                "--delimiter",
                default=DEFAULT_DELIMITER,
                show_default=True,
                callback=_delimiter,
                help="The file's field separator: , ; | or tab (European Excel writes ;).",
            ),
            click.option(
                "--encoding",
                default=DEFAULT_ENCODING,
                show_default=True,
                callback=_encoding,
                help=f"The file's text encoding: {', '.join(ENCODINGS)} (utf-16 with its byte-order mark). A file "
                "that starts with a UTF-8 byte-order mark is read as UTF-8 whatever this says.",
            ),
        ]
    ):
        command = option(command)
    return command


def schema_options(command: Callable[..., None]) -> Callable[..., None]:
    """The columns' types and the key schema beyond --key-column (load reads the key schema from the table)."""
    for option in reversed(
        [
            click.option(
                "--type",
                "types",
                multiple=True,
                metavar="COLUMN=TYPE",
                help=f"Write COLUMN as TYPE: {', '.join(COLUMN_TYPES)} (S, a string as written, is every column's "
                "default). Repeatable; overrides --types-file.",
            ),
            click.option(
                "--types-file",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="PATH",
                help='A JSON object of column types, e.g. {"age": "N", "active": "BOOL"} (the stack\'s column_types).',
            ),
            click.option(
                "--key-type",
                type=click.Choice(KEY_TYPES, case_sensitive=False),
                help="The partition key's type (default S; load: the table's).",
            ),
            click.option(
                "--sort-key-column",
                metavar="COLUMN",
                help="The column that holds the table's sort key (default none; load: the table's).",
            ),
            click.option(
                "--sort-key-type",
                type=click.Choice(KEY_TYPES, case_sensitive=False),
                help="The sort key's type (default S; load: the table's).",
            ),
        ]
    ):
        command = option(command)
    return command


@dataclass(frozen=True)
class SchemaOptions:
    """What the command line says about the key and the columns' types; `None`: not given."""

    key_column: str | None
    key_type: str | None
    sort_key_column: str | None
    sort_key_type: str | None
    types: tuple[str, ...]
    types_file: Path | None

    def column_types(self) -> dict[str, ColumnType]:
        """--types-file, then each --type over it; a bad entry is a usage error naming it."""
        try:
            types: dict[str, ColumnType] = {}
            if self.types_file is not None:
                types.update(
                    schemas.column_types(self.types_file.read_text(encoding="utf-8"), origin=str(self.types_file))
                )
            for option in self.types:
                name, kind = schemas.type_option(option)
                types[name] = kind
        except (SchemaError, OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(str(exc), param_hint="'--type' / '--types-file'") from None
        return types

    def schema(self, table_key: tuple[KeyAttribute, KeyAttribute | None] | None = None) -> Schema:
        """The schema rows are written with: the table's key (`table_key`, as DescribeTable gave it), which the key
        options, if given, must match; or, without a table, the key the options describe."""
        if table_key is not None:
            self._check_against(*table_key)
            partition, sort = table_key
        else:
            partition = KeyAttribute(self.key_column or DEFAULT_KEY_COLUMN, _key_type(self.key_type))
            sort = KeyAttribute(self.sort_key_column, _key_type(self.sort_key_type)) if self.sort_key_column else None
            if self.sort_key_type and not self.sort_key_column:
                raise click.BadParameter("--sort-key-type needs --sort-key-column", param_hint="'--sort-key-type'")
        try:
            return Schema(partition, sort, self.column_types())
        except SchemaError as exc:
            raise click.BadParameter(str(exc), param_hint="'--type' / '--types-file'") from None

    def _check_against(self, partition: KeyAttribute, sort: KeyAttribute | None) -> None:
        """The key options describe the table's key, or are a usage error saying what the table has."""
        table = f"the table's key is {Schema(partition, sort).describe()}"
        given = {
            "--key-column": (self.key_column, partition.name),
            "--key-type": (self.key_type and self.key_type.upper(), partition.type),
            "--sort-key-column": (self.sort_key_column, sort.name if sort else None),
            "--sort-key-type": (self.sort_key_type and self.sort_key_type.upper(), sort.type if sort else None),
        }
        for option, (value, actual) in given.items():
            if value is not None and value != actual:
                raise click.BadParameter(
                    f"{table}, but {option} says {value!r}: leave it out (load reads the key from the table), or "
                    "name the table keyed that way",
                    param_hint=f"'{option}'",
                )


def _key_type(kind: str | None) -> KeyType:
    return schemas.key_type(kind or "S", origin="key type")


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the outcome as one JSON object on stdout, for scripts (no progress bar, no table).",
)


def aws_options(command: Callable[..., None]) -> Callable[..., None]:
    """`--endpoint-url`, `--region` and `--profile`: where and as whom the command reaches AWS."""
    for option in reversed(
        [
            click.option(
                "--endpoint-url", help="A DynamoDB (and S3) endpoint other than AWS's, e.g. http://127.0.0.1:8000."
            ),
            click.option("--region", help="AWS region (default: from your AWS configuration)."),
            click.option("--profile", help="AWS profile from ~/.aws/config."),
        ]
    ):
        command = option(command)
    return command


def _rejects_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Check the report can be written before any row is: a bad path must not surface mid-file."""
    if value is not None and not value.parent.is_dir():
        raise click.BadParameter(f"the folder {value.parent} does not exist", ctx=ctx, param=param)
    return value


rejects_option = click.option(
    "--rejects",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    callback=_rejects_path,
    help="Write rejected rows to this CSV (original cells + rejected_line, rejected_reason), in line order; fix it, "
    "load it again. Replaced at the end of each run; removed when no row was rejected.",
)


def _refuse_rejects_on_input(rejects: Path | None, source: str) -> None:
    """The report must never be the file being read: writing it would destroy the input mid-read."""
    if rejects is None or source.startswith("s3://"):
        return
    with contextlib.suppress(OSError):  # either does not exist: then they are not the same file
        if Path(source).samefile(rejects):  # also through a symlink, a hard link or another relative path
            raise click.BadParameter(
                f"{rejects} is the file being read ({source}); the report would overwrite it. "
                f"Name another file, e.g. --rejects {Path(source).with_suffix('').name}.rejected.csv",
                param_hint="'--rejects'",
            )


@dataclass(frozen=True)
class Aws:
    """Where and as whom to reach AWS: the command's `--endpoint-url`, `--region` and `--profile`."""

    endpoint_url: str | None
    region: str | None
    profile: str | None

    @functools.cached_property
    def session(self) -> Any:
        import boto3  # deferred: `validate` of a local file and `--help` need no AWS SDK start-up

        return boto3.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str, config: Any) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, config=config)


# -- commands -------------------------------------------------------------------------------------------------------


@main.command()
@source_argument
@click.option("--table", required=True, help="The DynamoDB table's name (its key schema is read from it).")
@key_column_option
@schema_options
@format_options
@aws_options
@mode_option
@click.option(
    "--concurrency",
    type=click.IntRange(MIN_CONCURRENCY, MAX_CONCURRENCY),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Writer threads, in each worker process (rows that share a key are still written in file order).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_CLI_WORKERS),
    metavar="N",
    help=f"Worker processes, each writing the rows of its share of the keys (all rows of a key go to one, in file "
    f"order). Default: this machine's CPUs (at most {MAX_CLI_WORKERS}), but 1 for a file under "
    f"{SMALL_FILE_BYTES['merge'] // 1024} KiB ({SMALL_FILE_BYTES['replace'] // 1024 // 1024} MiB with --mode "
    "replace), where starting the processes takes longer than they save. 1: everything in this process.",
)
@click.option(
    "--patience",
    type=click.FloatRange(min=1),
    default=WRITE_PATIENCE_S,
    show_default=True,
    metavar="SECONDS",
    help="Throttled or unanswered writes are sent again for as long as the table takes any write; rows fail only "
    "after this long without one (lower it to fail fast against an endpoint that never answers).",
)
@rejects_option
@json_option
def load(
    source: str,
    table: str,
    key_column: str | None,
    types: tuple[str, ...],
    types_file: Path | None,
    key_type: str | None,
    sort_key_column: str | None,
    sort_key_type: str | None,
    delimiter: str,
    encoding: str,
    endpoint_url: str | None,
    region: str | None,
    profile: str | None,
    mode: WriteMode,
    concurrency: int,
    workers: int | None,
    patience: float,
    rejects: Path | None,
    as_json: bool,
) -> None:
    """Upsert every row of SOURCE (a local path or s3://bucket/key, .csv or .csv.gz) into a DynamoDB table, keyed
    as the table is (DescribeTable)."""
    _refuse_rejects_on_input(rejects, source)
    options = SchemaOptions(key_column, key_type, sort_key_column, sort_key_type, types, types_file)
    options.column_types()  # a bad --type is a usage error before anything is read
    aws = Aws(endpoint_url, region, profile)
    writer = WriterSettings(table, mode, concurrency, patience, endpoint_url, region, profile)
    run = FileRun(
        source,
        options=options,
        fmt=CsvFormat(delimiter, encoding),
        mode=mode,
        aws=aws,
        writer=writer,
        rejects=rejects,
        as_json=as_json,
    )
    sys.exit(run.print_outcome(run.execute(workers)))


@main.command()
@source_argument
@key_column_option
@schema_options
@format_options
@mode_option
@aws_options
@rejects_option
@json_option
def validate(
    source: str,
    key_column: str | None,
    types: tuple[str, ...],
    types_file: Path | None,
    key_type: str | None,
    sort_key_column: str | None,
    sort_key_type: str | None,
    delimiter: str,
    encoding: str,
    mode: WriteMode,
    endpoint_url: str | None,
    region: str | None,
    profile: str | None,
    rejects: Path | None,
    as_json: bool,
) -> None:
    """Check SOURCE (a local path or s3://bucket/key) against the rules `load` applies in --mode, writing nothing.

    Exit 0 only if every row would be written. A local file needs no AWS at all: the key schema and the columns'
    types are the options' (those of the table `load` writes to, for the same verdicts).
    """
    _refuse_rejects_on_input(rejects, source)
    options = SchemaOptions(key_column, key_type, sort_key_column, sort_key_type, types, types_file)
    options.schema()  # a bad option is a usage error before anything is read
    aws = Aws(endpoint_url, region, profile)
    run = FileRun(
        source,
        options=options,
        fmt=CsvFormat(delimiter, encoding),
        mode=mode,
        aws=aws,
        writer=None,
        rejects=rejects,
        as_json=as_json,
    )
    sys.exit(run.print_outcome(run.execute()))


@main.command()
@click.argument("path", default=str(SAMPLE_GOOD))
@key_column_option
@mode_option
@click.option(
    "--large-file-bytes",
    type=click.IntRange(min=0),
    default=DEFAULT_LARGE_FILE_BYTES,
    show_default=True,
    metavar="N",
    help="A file over N bytes goes through the stack's large-file state machine (Partition, a Map of partition "
    "workers, Finish), as the deployed trigger sends it; 0 sends every file there.",
)
@click.option(
    "--export",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Write the resulting table to PATH as CSV (the key column, then every attribute name seen, sorted; one "
    "line per item, by key), so that two runs can be compared with diff.",
)
def demo(path: str, key_column: str | None, mode: WriteMode, large_file_bytes: int, export: Path | None) -> None:
    """Run the real Lambda handler on PATH against an in-process AWS emulator (moto), and show the table.

    A file over --large-file-bytes goes through the state machine, executed by moto with the Lambda tasks run in
    this process: the demo shows the partitions, their counts and the execution's outcome.
    """
    missing = [dist for module, dist in DEMO_REQUIREMENTS.items() if importlib.util.find_spec(module) is None]
    if missing:
        err.print(
            f"[bold red]failed:[/] `csv-ingest demo` needs {' and '.join(missing)}, not installed here. "
            + escape("Install the demo's extra: pip install 'csv-ingest[demo]'")
        )
        sys.exit(EXIT_FAILED)
    from csv_ingest.demo import run_demo  # deferred: starts moto

    try:
        local = _existing_file(path)
    except IngestError as exc:
        err.print(f"[bold red]failed:[/] {escape(str(exc))}")
        sys.exit(EXIT_FAILED)
    with contextlib.suppress(OSError):  # an export file that does not exist yet is not the input
        if export is not None and local.samefile(export):
            raise click.BadParameter(
                f"{export} is the file being ingested ({path}); the export would overwrite it. Name another file.",
                param_hint="'--export'",
            )
    code = run_demo(
        local,
        key_column=key_column or DEFAULT_KEY_COLUMN,
        write_mode=mode,
        out=out,
        err=err,
        progress=_progress,
        large_file_bytes=large_file_bytes,
        export=export,
    )
    sys.exit(code)


# -- one run of load or validate --------------------------------------------------------------------------------------


class FirstRejections:
    """The rejections with the lowest line numbers, and how many there were in all.

    The rules reject rows as the file is read, the writer's threads report the table's refusals later: the rows to
    show are the first by line, not the first to arrive.
    """

    def __init__(self, size: int) -> None:
        self.total = 0
        self._size = size
        self._heap: list[tuple[int, int, Rejection]] = []  # (-line, arrival, rejection): the last line on top

    def add(self, rejection: Rejection) -> None:
        self.total += 1
        entry = (-rejection.line, self.total, rejection)
        if len(self._heap) < self._size:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heappushpop(self._heap, entry)

    def in_line_order(self) -> list[Rejection]:
        return [rejection for _, _, rejection in sorted(self._heap, reverse=True)]


@dataclass
class Outcome:
    """What one run did, for the terminal or for --json."""

    source: str
    verb: str  # "written", or "valid" for validate
    seconds: float
    rejections: FirstRejections
    result: FileResult | None = None  # None: the file failed as a whole
    error: str | None = None
    report: Path | None = None  # the --rejects file, when this run wrote one
    first_missing_line: int | None = None  # Ctrl-C stopped the load: from this line on, rows may be missing

    @property
    def exit_code(self) -> int:
        if self.first_missing_line is not None:
            return EXIT_INTERRUPTED
        if self.result is None:
            return EXIT_FAILED
        return EXIT_REJECTED if self.result.rows_rejected else EXIT_OK

    def interrupted(self, stop: IngestStopped) -> None:
        """Ctrl-C stopped the load: what was settled by then, and the CLI's own words for it (the engine's message
        speaks of the Lambda's deadline)."""
        self.result = FileResult(stop.rows_written, stop.rows_rejected, stop.rows_failed)
        self.first_missing_line = stop.first_missing_line
        self.error = _interrupted_message(self.source, stop)

    def as_dict(self) -> dict[str, Any]:
        status = {EXIT_OK: "ok", EXIT_REJECTED: "rejected", EXIT_FAILED: "failed", EXIT_INTERRUPTED: "interrupted"}
        return {
            "source": self.source,
            "status": status[self.exit_code],
            "exit_code": self.exit_code,
            f"rows_{self.verb}": self.result.rows_written if self.result else None,
            "rows_rejected": self.result.rows_rejected if self.result else self.rejections.total,
            "first_missing_line": self.first_missing_line,
            "seconds": round(self.seconds, 3),
            "rejected_rows": [
                {"line": r.line, "key": r.key, "reason": r.reason} for r in self.rejections.in_line_order()
            ],
            "rejects_report": str(self.report) if self.report else None,
            "untyped_columns": list(self.result.untyped_columns) if self.result else [],
            "error": self.error,
        }


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

    def execute(self, workers: int | None = 1) -> Outcome:
        """Run it; a load with `workers` processes (None: by the file's size, see `default_workers`)."""
        rejections = FirstRejections(SHOWN_REJECTIONS)
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
            outcome.error = str(exc) if isinstance(exc, IngestError) else f"{self.source}: {exc}"
        outcome.seconds = time.monotonic() - started
        if self.rejects is not None and self.rejects.is_file() and rejections.total:
            outcome.report = self.rejects
        return outcome

    @contextlib.contextmanager
    def _local_copy(self) -> Iterator[Path]:
        """The file to read: SOURCE itself, or the S3 object downloaded to a temporary file for the run."""
        if not self.source.startswith("s3://"):
            yield _existing_file(self.source)
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
        rejections: FirstRejections,
        failures: tuple[type[Exception], ...],
        workers: int | None,
    ) -> FileResult:
        workers = workers or default_workers(path.stat().st_size, self.mode)
        if self.writer is not None and workers > 1:
            return self._ingest_in_workers(self.writer, path, schema, rejections, failures, workers)
        writer = self.writer.writer() if self.writer is not None else None
        with contextlib.ExitStack() as stack:
            report = stack.enter_context(self._report(failures))
            on_progress = stack.enter_context(_progress(path.stat().st_size, shown=not self.as_json))
            # Only a load has something to wind down: Ctrl-C anywhere else (validate, a download) aborts at once.
            should_stop = stack.enter_context(_ctrl_c_stops()) if writer is not None else None
            return ingest_file(
                path,
                source=self.source,
                schema=schema,
                fmt=self.fmt,
                writer=writer,
                mode=self.mode,
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
        rejections: FirstRejections,
        failures: tuple[type[Exception], ...],
        workers: int,
    ) -> FileResult:
        """A load by `workers` processes, one per share of the keys: one bar, one report, one outcome."""
        with self._report(failures) as report, _ctrl_c_stops() as should_stop:
            return ingest_in_workers(
                path,
                source=self.source,
                settings=writer,
                schema=schema,
                fmt=self.fmt,
                workers=workers,
                on_reject=rejections.add,
                report=report,
                progress=functools.partial(_progress, shown=not self.as_json),  # entered with the records counted
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

    def print_outcome(self, outcome: Outcome) -> int:
        """Print the outcome (as JSON with --json); return the exit code."""
        if self.as_json:
            click.echo(json.dumps(outcome.as_dict(), ensure_ascii=False))
        elif outcome.first_missing_line is not None:
            err.print(f"[bold yellow]interrupted:[/] {escape(outcome.error or '')}")
            _print_rejected_before(outcome)
        elif outcome.result is None:
            err.print(f"[bold red]failed:[/] {escape(outcome.error or '')}")
            _print_rejected_before(outcome)
        else:
            if outcome.result.untyped_columns:
                names = ", ".join(f"'{name}'" for name in outcome.result.untyped_columns)
                err.print(f"[yellow]warning:[/] {escape(UNTYPED_COLUMNS)}: {escape(names)}")
            _print_summary(outcome.result, self.source, outcome.verb, outcome.seconds)
            if outcome.result.rows_rejected:
                print_rejections(outcome.rejections.in_line_order(), outcome.result.rows_rejected, outcome.report)
        return outcome.exit_code


def _print_rejected_before(outcome: Outcome) -> None:
    """Where the rows rejected before the file failed (or Ctrl-C stopped it) are, if they were reported."""
    if outcome.report is not None:
        total = outcome.rejections.total
        rows = "The row rejected before that is" if total == 1 else f"The {total:,} rows rejected before that are"
        err.print(f"{rows} in {escape(str(outcome.report))}.")


def _interrupted_message(source: str, stop: IngestStopped) -> str:
    """What Ctrl-C left behind, in the engine's counts: what a user needs to decide to run the command again."""
    line = stop.first_missing_line
    if line <= 1:  # during the first pass, which only reads
        return (
            f"Ctrl-C stopped {source} while it was being checked, before the first write: nothing was written. "
            "Running the same command again is safe."
        )
    throttled = f" ({stop.rows_failed:,} of them not refused: the table throttled)" if stop.rows_failed else ""
    return (
        f"Ctrl-C stopped {source} before line {line}: {count(stop.rows_written, 'row')} written, "
        f"{stop.rows_rejected:,} rejected{throttled}; queued rows were not sent. Rows from line {line} on may be "
        "missing; running the same command again is safe (every write is an upsert)."
    )


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


def _existing_file(source: str) -> Path:
    path = Path(source)
    if path.is_dir():
        raise IngestError(source, "is a folder, not a file: name one CSV file in it")
    if not path.is_file():
        raise IngestError(source, "no such file")
    return path


class _CtrlC:
    """SIGINT during a load: the first asks it to stop (`pressed`, which the engine polls), a second aborts at once."""

    def __init__(self) -> None:
        # A plain flag: the handler runs between two bytecodes of the main thread, so it must take no lock.
        self.pressed = False

    def should_stop(self) -> bool:
        return self.pressed

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.pressed:
            raise KeyboardInterrupt  # the run unwinds (the --rejects report is discarded), exit 130
        self.pressed = True


@contextlib.contextmanager
def _ctrl_c_stops() -> Iterator[Callable[[], bool] | None]:
    """While the block runs, Ctrl-C asks the load to stop instead of raising KeyboardInterrupt; the previous
    handler comes back after. Yields the `should_stop` to hand the engine (None where Ctrl-C is left alone)."""
    # Only the main thread may set handlers; and SIGINT ignored (a script's `cmd &` without job control) stays so.
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield None
        return
    ctrl_c = _CtrlC()
    previous = signal.signal(signal.SIGINT, ctrl_c.handle)
    try:
        yield ctrl_c.should_stop
    finally:
        # None: the handler was not set from Python; the default is the closest to put back.
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def _progress(total: int, *, shown: bool = True) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar when stdout is a terminal (nothing otherwise): rows, rows/s, and the ETA from `total`, the file's
    size (the update is `(rows, bytes_read)`) or, with worker processes, its record count (`(rows, rows)`)."""
    if not shown or not out.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f} rows/s"),
        TimeRemainingColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, console=out, transient=True) as progress:
        task = progress.add_task("ingesting", total=total, rows=0, rate=0.0)

        def update(rows: int, completed: int) -> None:
            rate = rows / max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=completed, rows=rows, rate=rate)

        yield update


def _print_summary(result: FileResult, source: str, verb: str, seconds: float) -> None:
    out.print(
        f"{escape(source)}: {count(result.rows_written, 'row')} {verb}, {result.rows_rejected:,} rejected "
        f"({seconds:.1f} s, {(result.rows_written + result.rows_rejected) / max(seconds, 1e-6):,.0f} rows/s)"
    )


def print_rejections(rejections: list[Rejection], total: int, report: Path | None) -> None:
    """The first rejected rows, with line, key and reason, and where the others are."""
    table = Table(title=f"Rejected rows ({total:,})", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("key")
    table.add_column("reason")
    for rejection in rejections:
        table.add_row(str(rejection.line), escape(rejection.key or ""), escape(rejection.reason))
    out.print(table)
    more = total - len(rejections)
    where = escape(str(report)) if report else ""
    if more and report:
        out.print(f"… and {more:,} more, in {where}.")
    elif more:
        out.print(
            f"… and {more:,} more: add --rejects FILE to write every rejected row to a CSV you can fix and load again."
        )
    if report:
        every = "The rejected row is" if total == 1 else f"All {total:,} rejected rows are"
        out.print(f"{every} in {where}: fix {'it' if total == 1 else 'them'} there and load that file.")
