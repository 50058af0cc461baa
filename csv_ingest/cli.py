"""The `csv-ingest` command line: load, validate and demo, on the Lambda's own engine.

Exit codes: 0 every row written (or valid), 1 the file failed as a whole, 2 some rows were rejected, 64 the command
line itself was wrong.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from csv_ingest_engine import FileResult, IngestError, Rejection, ingest_file
from csv_ingest_engine.constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_KEY_COLUMN,
    DEFAULT_WRITE_MODE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    MAX_CONCURRENCY,
    MIN_CONCURRENCY,
    WRITE_MODES,
    WriteMode,
)
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.writing import TableWriter

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
# Rejected rows printed on the terminal; the --rejects file has them all.
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
        except click.Abort:
            err.print("Aborted.")
            sys.exit(EXIT_FAILED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Load CSV files into DynamoDB with the same rules as the csv-ingest Lambda.

    \b
    Exit codes: 0  every row written (or valid)
                1  the file failed as a whole (the message says why)
                2  the file was processed but some rows were rejected
                64 the command line was wrong (unknown option, missing --table...)
    """


key_column_option = click.option(
    "--key-column", default=DEFAULT_KEY_COLUMN, show_default=True, help="The column that holds the table's key."
)


def _rejects_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Check the report can be written before any row is: a bad path must not surface mid-file."""
    if value is not None and not value.parent.is_dir():
        raise click.BadParameter(f"the folder {value.parent} does not exist", ctx=ctx, param=param)
    return value


rejects_option = click.option(
    "--rejects",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    callback=_rejects_path,
    help="Write rejected rows to this CSV (original cells + rejected_line, rejected_reason); fix it, load it again.",
)


@main.command()
@click.argument("source")
@click.option("--table", required=True, help="The DynamoDB table's name.")
@key_column_option
@click.option("--endpoint-url", help="A DynamoDB (and S3) endpoint other than AWS's, e.g. http://127.0.0.1:8000.")
@click.option("--region", help="AWS region (default: from your AWS configuration).")
@click.option("--profile", help="AWS profile from ~/.aws/config.")
@click.option(
    "--mode",
    type=click.Choice(WRITE_MODES),
    default=DEFAULT_WRITE_MODE,
    show_default=True,
    help="merge: upsert each row into its item, keeping other attributes. "
    "replace: put whole items in batches of 25 (faster; each row REPLACES its item) - for loads into empty tables.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(MIN_CONCURRENCY, MAX_CONCURRENCY),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Parallel writers (rows that share a key are still written in file order).",
)
@rejects_option
def load(
    source: str,
    table: str,
    key_column: str,
    endpoint_url: str | None,
    region: str | None,
    profile: str | None,
    mode: WriteMode,
    concurrency: int,
    rejects: Path | None,
) -> None:
    """Upsert every row of SOURCE (a local path or s3://bucket/key) into a DynamoDB table."""
    import boto3  # deferred: `validate` and `--help` need no AWS SDK start-up
    from botocore.exceptions import BotoCoreError

    from csv_ingest_engine.objects import CLIENT_CONFIG, downloaded, dynamodb_config

    try:
        s3_location = _s3_location(source) if source.startswith("s3://") else None
        local = None if s3_location else _existing_file(source)
        session = boto3.Session(profile_name=profile, region_name=region)
        client = session.client("dynamodb", endpoint_url=endpoint_url, config=dynamodb_config(concurrency))
        writer = TableWriter(client, table_name=table, key_column=key_column, concurrency=concurrency, mode=mode)
        with contextlib.ExitStack() as stack:
            if s3_location:
                s3 = session.client("s3", endpoint_url=endpoint_url, config=CLIENT_CONFIG)
                local = stack.enter_context(downloaded(s3, *s3_location))
            assert local is not None
            code = _run(local, source, key_column=key_column, writer=writer, rejects=rejects, verb="written")
    except IngestError as exc:
        err.print(f"[bold red]failed:[/] {exc}")
        code = EXIT_FAILED
    except BotoCoreError as exc:  # no region, no credentials, unknown profile, endpoint unreachable
        err.print(f"[bold red]failed:[/] {source}: {exc}")
        code = EXIT_FAILED
    sys.exit(code)


@main.command()
@click.argument("path")
@key_column_option
@rejects_option
def validate(path: str, key_column: str, rejects: Path | None) -> None:
    """Check PATH against the ingestion rules, with no AWS at all; exit 0 only if every row would be written."""
    local = _existing_file_or_exit(path)
    sys.exit(_run(local, path, key_column=key_column, writer=None, rejects=rejects, verb="valid"))


@main.command()
@click.argument("path", default=str(SAMPLE_GOOD))
@key_column_option
def demo(path: str, key_column: str) -> None:
    """Run the real Lambda handler on PATH against an in-process AWS emulator (moto), and show the table."""
    missing = [dist for module, dist in DEMO_REQUIREMENTS.items() if importlib.util.find_spec(module) is None]
    if missing:
        err.print(
            f"[bold red]failed:[/] `csv-ingest demo` needs {' and '.join(missing)}, not installed here. "
            + escape("Install the demo's extra: pip install 'csv-ingest[demo]'")
        )
        sys.exit(EXIT_FAILED)
    from csv_ingest.demo import run_demo  # deferred: starts moto

    sys.exit(run_demo(_existing_file_or_exit(path), key_column=key_column, out=out, err=err))


def _s3_location(source: str) -> tuple[str, str]:
    bucket, _, key = source.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise IngestError(source, "not an S3 location: expected s3://bucket/key")
    return bucket, key


def _existing_file(source: str) -> Path:
    path = Path(source)
    if not path.is_file():
        raise IngestError(source, "no such file")
    return path


def _existing_file_or_exit(source: str) -> Path:
    try:
        return _existing_file(source)
    except IngestError as exc:
        err.print(f"[bold red]failed:[/] {exc}")
        sys.exit(EXIT_FAILED)


def _run(
    path: Path,
    source: str,
    *,
    key_column: str,
    writer: TableWriter | None,
    rejects: Path | None,
    verb: str,
) -> int:
    """Ingest (or, with no writer, validate) one local file; print what happened; return the exit code."""
    shown: list[Rejection] = []

    def keep(rejection: Rejection) -> None:
        if len(shown) < SHOWN_REJECTIONS:
            shown.append(rejection)

    report = RejectsReport(rejects) if rejects else None
    started = time.monotonic()
    try:
        with _progress(path.stat().st_size) as on_progress:
            result = ingest_file(
                path,
                source=source,
                key_column=key_column,
                writer=writer,
                on_reject=keep,
                report=report,
                on_progress=on_progress,
            )
    except IngestError as exc:
        err.print(f"[bold red]failed:[/] {exc}")
        return EXIT_FAILED
    finally:
        if report is not None:
            report.close()
    _print_summary(result, source, verb, time.monotonic() - started)
    if result.rows_rejected:
        print_rejections(shown, result.rows_rejected)
        if report is not None:
            out.print(f"All {report.count} rejected rows are in {report.path}: fix them there and load that file.")
        return EXIT_REJECTED
    return EXIT_OK


@contextlib.contextmanager
def _progress(total_bytes: int) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar (rows, rows/s, ETA from the file size) when stdout is a terminal; nothing otherwise."""
    if not out.is_terminal:
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
        task = progress.add_task("ingesting", total=total_bytes, rows=0, rate=0.0)

        def update(rows: int, bytes_read: int) -> None:
            rate = rows / max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=bytes_read, rows=rows, rate=rate)

        yield update


def _print_summary(result: FileResult, source: str, verb: str, seconds: float) -> None:
    out.print(
        f"{source}: {result.rows_written:,} rows {verb}, {result.rows_rejected:,} rejected "
        f"({seconds:.1f} s, {(result.rows_written + result.rows_rejected) / max(seconds, 1e-6):,.0f} rows/s)"
    )


def print_rejections(rejections: list[Rejection], total: int) -> None:
    """The first rejected rows, with line, key and reason."""
    table = Table(title=f"Rejected rows ({total:,})", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("key")
    table.add_column("reason")
    for rejection in rejections:
        table.add_row(str(rejection.line), rejection.key or "", rejection.reason)
    out.print(table)
    if total > len(rejections):
        out.print(f"... and {total - len(rejections):,} more")
