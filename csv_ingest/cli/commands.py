"""The `csv-ingest` commands: load, validate and demo, on the Lambda's own engine, status (the outcome the pipeline
recorded on an upload), and spreadsheet-copy (a report to open in a spreadsheet).

Exit codes: 0 every row written (or valid), 1 the file failed as a whole, 2 some rows were rejected, 3 (status) no
outcome yet, 64 the command line itself was wrong, 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.markup import escape

from csv_ingest.cli import output
from csv_ingest.cli.file_run import FileRun, existing_file
from csv_ingest.cli.options import (
    Aws,
    FileOptions,
    aws_options,
    delimiter_option,
    file_options,
    format_options,
    json_option,
    key_column_option,
    mode_option,
)
from csv_ingest.cli.ordering_options import as_of_option, load_ordering
from csv_ingest.cli.schema_options import SchemaOptions, schema_options
from csv_ingest.cli.workers import SMALL_FILE_BYTES
from csv_ingest.cli.writer_settings import WriterSettings
from csv_ingest_engine import IngestError
from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.constants import (
    BOOKKEEPING_PREFIX,
    DEFAULT_CONCURRENCY,
    DEFAULT_LARGE_FILE_BYTES,
    DEFAULT_ORDER_ATTRIBUTE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    MAX_CLI_WORKERS,
    MAX_CONCURRENCY,
    MIN_CONCURRENCY,
    WRITE_PATIENCE_S,
    WriteMode,
)
from csv_ingest_engine.schema import CsvFormat
from csv_ingest_engine.words import count

# `demo`'s default file, the brief's good sample: package data in an installed wheel (pyproject.toml ships it there),
# the repository's own copy in a checkout (an editable install maps the package to the source tree).
_PACKAGED_SAMPLE = resources.files("csv_ingest") / "samples" / "sample-good.csv"
SAMPLE_GOOD = (
    Path(str(_PACKAGED_SAMPLE))
    if _PACKAGED_SAMPLE.is_file()
    else Path(__file__).resolve().parents[2] / "sample-csvs" / "sample-good.csv"
)
# What `demo` imports beyond the command line's own dependencies: the `demo` extra (module -> distribution).
DEMO_REQUIREMENTS = {"moto": "moto", "aws_lambda_powertools": "aws-lambda-powertools"}


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
        except click.Abort:  # Ctrl-C outside a run (a download), or a second one during it
            output.err.print("Aborted.")
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="csv-ingest", prog_name="csv-ingest", message="%(prog)s %(version)s")
def main() -> None:
    """Load CSV files into DynamoDB with the same rules as the csv-ingest Lambda.

    \b
    Exit codes: 0   every row written (or valid)
                1   the file failed as a whole (the message says why)
                2   the file was processed but some rows were rejected
                3   status: the object has no outcome yet (being ingested, or never ingested)
                64  the command line was wrong (unknown option, missing --table...)
                130 interrupted with Ctrl-C (`load` stops sending, then says from which line rows may be missing;
                    `validate` says what it checked)
    """


# -- load's own options -------------------------------------------------------------------------------------------

table_option = click.option(
    "--table", required=True, help="The DynamoDB table's name (its key schema is read from it)."
)
concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(MIN_CONCURRENCY, MAX_CONCURRENCY),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Writer threads, in each worker process (rows that share a key are still written in file order).",
)
workers_option = click.option(
    "--workers",
    type=click.IntRange(1, MAX_CLI_WORKERS),
    metavar="N",
    help=f"Worker processes, each writing the rows of its share of the keys (all rows of a key go to one, in file "
    f"order). Default: this machine's CPUs (at most {MAX_CLI_WORKERS}), but 1 for a file under "
    f"{SMALL_FILE_BYTES['merge'] // 1024} KiB ({SMALL_FILE_BYTES['replace'] // 1024 // 1024} MiB with --mode "
    "replace --no-ordering), where starting the processes takes longer than they save. 1: everything in this "
    "process.",
)
patience_option = click.option(
    "--patience",
    type=click.FloatRange(min=1),
    default=WRITE_PATIENCE_S,
    show_default=True,
    metavar="SECONDS",
    help="Throttled or unanswered writes are sent again for as long as the table takes any write; rows fail only "
    "after this long without one (lower it to fail fast against an endpoint that never answers).",
)
consistent_reads_option = click.option(
    "--consistent-reads",
    is_flag=True,
    help="With --mode changed: read the items back with strongly consistent reads (twice the read capacity) "
    "instead of eventually consistent ones, for a table that other writers change while the file loads.",
)


def _consistent_reads(mode: WriteMode, consistent_reads: bool) -> bool:
    """--consistent-reads, which only --mode changed reads with: a usage error with another mode."""
    if consistent_reads and mode != "changed":
        raise click.UsageError(f"--consistent-reads applies to --mode changed only (this is --mode {mode})")
    return consistent_reads


# -- commands -------------------------------------------------------------------------------------------------------


@main.command()
@file_options(
    table=table_option,
    ordering=[as_of_option],
    writing=[concurrency_option, workers_option, patience_option, consistent_reads_option],
)
def load(
    options: FileOptions,
    table: str,
    as_of: datetime | None,
    concurrency: int,
    workers: int | None,
    patience: float,
    consistent_reads: bool,
) -> None:
    """Upsert every row of SOURCE (a local path or s3://bucket/key, .csv or .csv.gz) into a DynamoDB table, keyed
    as the table is (DescribeTable).

    Each item keeps the order stamp of the upload that last wrote it: a row is written only if its item holds no
    newer upload's rows (the load is one upload, as of --as-of or the moment it started); otherwise it is counted
    as superseded, which is not a failure. With --mode changed, only the rows that would change their item are
    written; the others are counted as unchanged.
    """
    options.schema.column_types()  # a bad --type is a usage error before anything is read
    consistent = _consistent_reads(options.mode, consistent_reads)
    aws = options.aws
    writer = WriterSettings(
        table,
        options.mode,
        concurrency,
        patience,
        # Taken once, here: every worker process writes with this one stamp.
        ordering=load_ordering(options.order_attribute, as_of),
        endpoint_url=aws.endpoint_url,
        region=aws.region,
        profile=aws.profile,
        consistent_reads=consistent,
    )
    _run(options, writer, workers)


@main.command()
@file_options()
def validate(options: FileOptions) -> None:
    """Check SOURCE (a local path or s3://bucket/key) against the rules `load` applies in --mode, with its order
    stamp (unless --no-ordering), writing nothing.

    Exit 0 only if every row would be written. A local file needs no AWS at all: the key schema and the columns'
    types are the options' (those of the table `load` writes to, for the same verdicts). In --mode merge, a row that
    would take the item its key's earlier rows in the file built past 400 KB is rejected; attributes already in
    the table cannot be known.
    """
    options.schema.schema()  # a bad option is a usage error before anything is read
    _run(options, None)


def _run(options: FileOptions, writer: WriterSettings | None, workers: int | None = 1) -> NoReturn:
    """Load (with a writer) or validate SOURCE, print the outcome and exit with its code."""
    run = FileRun(
        options.source,
        options=options.schema,
        fmt=options.fmt,
        mode=options.mode,
        aws=options.aws,
        writer=writer,
        rejects=options.rejects,
        as_json=options.as_json,
        order_attribute=options.order_attribute,
    )
    sys.exit(output.print_outcome(run.execute(workers), as_json=options.as_json))


@main.command()
@click.argument("path", default=str(SAMPLE_GOOD))
@key_column_option
@schema_options
@format_options
@mode_option
@click.option(
    "--large-file-bytes",
    type=click.IntRange(min=0),
    default=DEFAULT_LARGE_FILE_BYTES,
    show_default=True,
    metavar="N",
    help="A file over N bytes goes through the stack's large-file state machine (Partition, a Map of partition "
    "workers, Finish), as the deployed trigger sends it (a .csv.gz by its estimated text: the larger of 10 times "
    "its size and the size its gzip trailer gives); 0 sends every file there.",
)
@click.option(
    "--export",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Write the resulting table to PATH as CSV (the key column, then every attribute name seen, sorted; one "
    "line per item, by key), so that two runs can be compared with diff.",
)
@click.option(
    "--bookkeeping",
    is_flag=True,
    help=f"Show (and --export) the attributes the pipeline adds to items for its own bookkeeping, named "
    f"{BOOKKEEPING_PREFIX}... (the upload order stamp, {DEFAULT_ORDER_ATTRIBUTE}); left out by default, as they are "
    "not the file's columns and differ from run to run.",
)
@click.option(
    "--no-ordering",
    "unordered",
    is_flag=True,
    help="Run the functions as a stack deployed with -c ordering=off: no upload order stamp, unconditional writes "
    "(and --mode replace in batches of 25).",
)
@consistent_reads_option
def demo(
    path: str,
    key_column: str | None,
    types: tuple[str, ...],
    types_file: Path | None,
    key_type: str | None,
    sort_key_column: str | None,
    sort_key_type: str | None,
    delete_column: str | None,
    delimiter: str,
    encoding: str,
    max_cells: int,
    mode: WriteMode,
    large_file_bytes: int,
    export: Path | None,
    bookkeeping: bool,
    unordered: bool,
    consistent_reads: bool,
) -> None:
    """Run the real Lambda handler on PATH against an in-process AWS emulator (moto), and show the table.

    The table is keyed as the key options say and the functions read the file as the type and format options say,
    as a stack deployed with that context would. It is on dynalite when node and node_modules/dynalite are there
    (moto's own DynamoDB is slow on wide files), else on moto; the demo says which.

    A file over --large-file-bytes (a .csv.gz: its text, as the stack estimates it) goes through the state machine,
    executed by moto with the Lambda tasks run in this process: the demo shows the partitions, their counts and the
    execution's outcome.
    """
    missing = [dist for module, dist in DEMO_REQUIREMENTS.items() if importlib.util.find_spec(module) is None]
    if missing:
        output.err.print(
            f"[bold red]failed:[/] `csv-ingest demo` needs {' and '.join(missing)}, not installed here. "
            + escape("Install the demo's extra: pip install 'csv-ingest[demo]'")
        )
        sys.exit(EXIT_FAILED)
    from csv_ingest.cli.demo import run_demo  # deferred: starts moto

    try:
        local = existing_file(path)
    except IngestError as exc:
        output.err.print(f"[bold red]failed:[/] {escape(str(exc))}")
        sys.exit(EXIT_FAILED)
    with contextlib.suppress(OSError):  # an export file that does not exist yet is not the input
        if export is not None and local.samefile(export):
            raise click.BadParameter(
                f"{export} is the file being ingested ({path}); the export would overwrite it. Name another file.",
                param_hint="'--export'",
            )
    options = SchemaOptions(key_column, key_type, sort_key_column, sort_key_type, types, types_file, delete_column)
    order_attribute = None if unordered else DEFAULT_ORDER_ATTRIBUTE
    options.check_delete_column(order_attribute)
    config = EngineConfig(
        schema=options.schema(),
        fmt=CsvFormat(delimiter, encoding, max_cells),
        write_mode=mode,
        consistent_reads=_consistent_reads(mode, consistent_reads),
        large_file_bytes=large_file_bytes,
        order_attribute=order_attribute,
    )
    code = run_demo(
        local,
        config=config,
        out=output.out,
        err=output.err,
        progress=output.progress,
        export=export,
        bookkeeping=bookkeeping,
    )
    sys.exit(code)


@main.command("status")
@click.argument("location", metavar="s3://BUCKET/KEY")
@click.option(
    "--version-id", metavar="VERSION", help="The object version to look at (default: the object's current version)."
)
@aws_options
@json_option
def status_command(
    location: str,
    version_id: str | None,
    endpoint_url: str | None,
    region: str | None,
    profile: str | None,
    as_json: bool,
) -> None:
    """Print what became of an upload to the pipeline's bucket, as the pipeline tagged the object version: loaded,
    loaded with rejected rows (and where they are) or failed, with the rows counted and when.

    Exits as `load` would have for that outcome: 0 loaded, 2 loaded with rejected rows, 1 failed (or the object's
    tags could not be read); 3 when the object has no outcome yet (still being ingested, or never ingested).
    """
    from csv_ingest.cli.status import print_status, read_status

    status = read_status(location, version_id, Aws(endpoint_url, region, profile))
    sys.exit(print_status(status, as_json=as_json))


@main.command("spreadsheet-copy")
@click.argument("report", metavar="REPORT")
@click.argument("copy", metavar="COPY", type=click.Path(dir_okay=False, path_type=Path))
@delimiter_option
def spreadsheet_copy(report: str, copy: Path, delimiter: str) -> None:
    """Write COPY: REPORT (a rejects report, or any CSV) to open in Excel or another spreadsheet without running
    formulas.

    A cell that a spreadsheet would run as a formula (it starts with = + - @, a tab or a carriage return, and is
    not a number) gets an apostrophe in front, so that it shows as text; every other cell is copied as it is. COPY
    is UTF-8 with a byte-order mark (Excel's "CSV UTF-8"), with REPORT's delimiter. It is for reading: fix the rows
    in REPORT itself (which the pipeline reads again exactly as it is) and load that.
    """
    from csv_ingest.cli.spreadsheet import write_spreadsheet_copy

    try:
        source = existing_file(report)
    except IngestError as exc:
        output.err.print(f"[bold red]failed:[/] {escape(str(exc))}")
        sys.exit(EXIT_FAILED)
    with contextlib.suppress(OSError):  # a copy that does not exist yet is not the report
        if source.samefile(copy):
            raise click.BadParameter(f"{copy} is REPORT itself; name another file for the copy.", param_hint="COPY")
    try:
        copied = write_spreadsheet_copy(source, copy, delimiter=delimiter)
    except IngestError as exc:
        output.err.print(f"[bold red]failed:[/] {escape(str(exc))}")
        sys.exit(EXIT_FAILED)
    output.out.print(
        f"Wrote {escape(str(copy))}: its header and {count(copied.rows, 'row')}; "
        f"{count(copied.changed, 'cell')} that a spreadsheet would run as formulas now start with an apostrophe."
    )
