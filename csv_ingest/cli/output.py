"""What `load` and `validate` print: the summary, the rejected rows' table, the outcome as JSON, the progress bar.

Messages go to stderr (`err`), results to stdout (`out`); soft_wrap keeps a message on one line, whole, for copying
and grepping, while tables still fit the terminal.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from csv_ingest_engine import FileResult, Rejection
from csv_ingest_engine.rules import UNTYPED_COLUMNS
from csv_ingest_engine.words import count

if TYPE_CHECKING:
    from csv_ingest.cli.outcome import Outcome

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_outcome(outcome: Outcome, *, as_json: bool) -> int:
    """Print the outcome (as JSON with --json); return the exit code."""
    if as_json:
        click.echo(json.dumps(outcome.as_dict(), ensure_ascii=False))
    elif outcome.first_missing_line is not None:
        err.print(f"[bold yellow]interrupted:[/] {escape(outcome.error or '')}")
        _print_rejected_before(outcome)
    elif outcome.result is None:
        err.print(f"[bold red]failed:[/] {escape(outcome.error or '')}")
        before = [
            *([f"{outcome.rows_unchanged:,} unchanged"] if outcome.rows_unchanged else []),
            *([superseded(outcome.rows_superseded)] if outcome.rows_superseded else []),
            *([deleted(outcome.rows_deleted)] if outcome.rows_deleted else []),
        ]
        if before:
            err.print(f"Before that, {' and '.join(before)}.")
        _print_rejected_before(outcome)
    else:
        if outcome.result.untyped_columns:
            names = ", ".join(f"'{name}'" for name in outcome.result.untyped_columns)
            err.print(f"[yellow]warning:[/] {escape(UNTYPED_COLUMNS)}: {escape(names)}")
        _print_summary(outcome.result, outcome.source, outcome.verb, outcome.seconds)
        if outcome.result.rows_rejected:
            print_rejections(outcome.rejections.in_line_order(), outcome.result.rows_rejected, outcome.report)
    return outcome.exit_code


def _print_rejected_before(outcome: Outcome) -> None:
    """Where the rows rejected before the file failed (or Ctrl-C stopped it) are, if they were reported."""
    if outcome.report is None:
        return
    total = outcome.rejections.count
    report = escape(str(outcome.report))
    line = outcome.first_missing_line
    if line is not None and outcome.verb == "valid":
        # validate reads in one process and stops at the line: nothing past it was checked, nor rejected.
        rows = (
            f"The row rejected before line {line} is"
            if total == 1
            else f"The {total:,} rows rejected before line {line} are"
        )
        err.print(f"{rows} in {report}.")
        return
    if line is None:
        rows = "The row rejected before that is" if total == 1 else f"The {total:,} rows rejected before that are"
        err.print(f"{rows} in {report}.")
        return
    # Rows are read (and rejected) ahead of the writes, by each worker process on its own: the report holds
    # rejections from past the first line that may be missing too, so "before that" would undercount it.
    rows = "The row rejected so far is" if total == 1 else f"The {total:,} rows rejected so far are"
    err.print(
        f"{rows} in {report}: every rejected row before line {line}, and the rejected ones from line {line} on that "
        "were read before the load stopped."
    )


@contextlib.contextmanager
def progress(total: int, *, shown: bool = True) -> Iterator[Callable[[int, int], None] | None]:
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
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task("ingesting", total=total, rows=0, rate=0.0)

        def update(rows: int, completed: int) -> None:
            rate = rows / max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=completed, rows=rows, rate=rate)

        yield update


def superseded(rows: int) -> str:
    """`12 rows superseded (...)`: rows not written because their item holds a newer upload's, and why."""
    why = "its item holds a newer upload's row" if rows == 1 else "their items hold a newer upload's rows"
    return f"{count(rows, 'row')} superseded ({why})"


def deleted(rows: int, *, checked: bool = False) -> str:
    """`2 rows deleted their items` (a load), or `2 more valid rows would delete their items` (`checked`: a validate,
    whose valid rows do not count them)."""
    items = "its item" if rows == 1 else "their items"
    if checked:
        return f"{count(rows, 'more valid row')} would delete {items}"
    return f"{count(rows, 'row')} deleted {items}"


def _print_summary(result: FileResult, source: str, verb: str, seconds: float) -> None:
    # Unchanged, deleting and superseded rows were read and settled like the others: they count toward the rate, and
    # are named only when there are any (unchanged ones only with --mode changed; most loads have none of the others).
    rows = (
        result.rows_written
        + result.rows_rejected
        + result.rows_superseded
        + result.rows_unchanged
        + result.rows_deleted
    )
    unchanged = f", {result.rows_unchanged:,} unchanged" if result.rows_unchanged else ""
    also = f"; {deleted(result.rows_deleted, checked=verb == 'valid')}" if result.rows_deleted else ""
    also += f"; {superseded(result.rows_superseded)}" if result.rows_superseded else ""
    out.print(
        f"{escape(source)}: {count(result.rows_written, 'row')} {verb}{unchanged}, {result.rows_rejected:,} rejected "
        f"({seconds:.1f} s, {rows / max(seconds, 1e-6):,.0f} rows/s){also}"
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
