"""What one run of `load` or `validate` did, as the terminal and --json report it, and its exit code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csv_ingest.cli.output import deleted
from csv_ingest_engine import FileResult, IngestError, IngestStopped, Rejection
from csv_ingest_engine.constants import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_REJECTED
from csv_ingest_engine.rejection_log import FirstByLine
from csv_ingest_engine.words import count

# The rejections a run shows, whole (the user's own terminal may show their cells): the first by line.
ShownRejections = FirstByLine[Rejection]


def shown_rejections(limit: int) -> ShownRejections:
    return FirstByLine(limit, lambda rejection: rejection)


@dataclass
class Outcome:
    """What one run did, for the terminal or for --json."""

    source: str
    verb: str  # "written", or "valid" for validate
    seconds: float
    rejections: ShownRejections
    result: FileResult | None = None  # None: the file failed as a whole
    error: str | None = None
    report: Path | None = None  # the --rejects file, when this run wrote one
    # Ctrl-C stopped the run: from this line on, rows may be missing (validate: were not checked)
    first_missing_line: int | None = None
    superseded_before_failure: int = 0  # a failed file has no result: the rows superseded before it failed
    unchanged_before_failure: int = 0  # and the rows found unchanged (`--mode changed`)
    deleted_before_failure: int = 0  # and the rows that deleted their item before it failed

    @property
    def rows_superseded(self) -> int:
        """Rows not written because their item holds a newer upload's: never a failure, never rejected."""
        return self.result.rows_superseded if self.result is not None else self.superseded_before_failure

    @property
    def rows_unchanged(self) -> int:
        """Rows not written because their item holds their values already (--mode changed): never a failure."""
        return self.result.rows_unchanged if self.result is not None else self.unchanged_before_failure

    @property
    def rows_deleted(self) -> int:
        """Rows whose delete marker deleted their item (validate: would delete it)."""
        return self.result.rows_deleted if self.result is not None else self.deleted_before_failure

    @property
    def exit_code(self) -> int:
        if self.first_missing_line is not None:
            return EXIT_INTERRUPTED
        if self.result is None:
            return EXIT_FAILED
        # Superseded rows are the ordering doing its job: they never change the code.
        return EXIT_REJECTED if self.result.rows_rejected else EXIT_OK

    def failed(self, exc: Exception) -> None:
        """The file failed as a whole: the message (the engine's names the file), and the rows superseded first."""
        if isinstance(exc, IngestError):
            self.error = str(exc)
            self.superseded_before_failure = exc.rows_superseded
            self.unchanged_before_failure = exc.rows_unchanged
            self.deleted_before_failure = exc.rows_deleted
        else:  # botocore's: no region, no credentials, an endpoint that does not answer
            self.error = f"{self.source}: {exc}"

    def interrupted(self, stop: IngestStopped) -> None:
        """Ctrl-C stopped the load (or validate): what was settled (checked) by then, and the CLI's own words for it
        (the engine's message speaks of the Lambda's deadline)."""
        self.result = FileResult(
            stop.rows_written,
            stop.rows_rejected,
            stop.rows_failed,
            stop.rows_superseded,
            rows_unchanged=stop.rows_unchanged,
            rows_deleted=stop.rows_deleted,
        )
        self.first_missing_line = stop.first_missing_line
        self.error = (
            _interrupted_message(self.source, stop) if self.verb != "valid" else _check_interrupted(self.source, stop)
        )

    def as_dict(self) -> dict[str, Any]:
        status = {EXIT_OK: "ok", EXIT_REJECTED: "rejected", EXIT_FAILED: "failed", EXIT_INTERRUPTED: "interrupted"}
        return {
            "source": self.source,
            "status": status[self.exit_code],
            "exit_code": self.exit_code,
            f"rows_{self.verb}": self.result.rows_written if self.result else None,
            "rows_rejected": self.result.rows_rejected if self.result else self.rejections.count,
            "rows_superseded": self.rows_superseded,
            "rows_unchanged": self.rows_unchanged,
            "rows_deleted": self.rows_deleted,
            "first_missing_line": self.first_missing_line,
            "seconds": round(self.seconds, 3),
            "rejected_rows": [
                {"line": r.line, "key": r.key, "reason": r.reason} for r in self.rejections.in_line_order()
            ],
            "rejects_report": str(self.report) if self.report else None,
            "untyped_columns": list(self.result.untyped_columns) if self.result else [],
            "error": self.error,
        }


def _interrupted_message(source: str, stop: IngestStopped) -> str:
    """What Ctrl-C left behind, in the engine's counts: what a user needs to decide to run the command again."""
    line = stop.first_missing_line
    if line <= 1:  # during the first pass, which only reads
        return (
            f"Ctrl-C stopped {source} while it was being checked, before the first write: nothing was written. "
            "Running the same command again is safe."
        )
    throttled = f" ({stop.rows_failed:,} of them not refused: the table throttled)" if stop.rows_failed else ""
    superseded = f"{stop.rows_superseded:,} superseded, " if stop.rows_superseded else ""
    unchanged = f"{stop.rows_unchanged:,} unchanged, " if stop.rows_unchanged else ""
    deleted = f"{stop.rows_deleted:,} deleted, " if stop.rows_deleted else ""
    return (
        f"Ctrl-C stopped {source} before line {line}: {count(stop.rows_written, 'row')} written, {unchanged}"
        f"{deleted}{superseded}"
        f"{stop.rows_rejected:,} rejected{throttled}; queued rows were not sent. Rows from line {line} on may be "
        "missing; running the same command again is safe (every write is an upsert)."
    )


def _check_interrupted(source: str, stop: IngestStopped) -> str:
    """What Ctrl-C left of a `validate`: the rows checked before the line it stopped at."""
    line = stop.first_missing_line
    return (
        f"Ctrl-C stopped checking {source} before line {line}: of the rows before it, "
        f"{count(stop.rows_written, 'row')} valid, {stop.rows_rejected:,} rejected{_would_delete(stop.rows_deleted)}; "
        f"rows from line {line} on were not "
        "checked. Nothing was written; run the same command again to check the whole file."
    )


def _would_delete(rows: int) -> str:
    """Nothing, or `, 3 more valid rows would delete their items`: the valid rows that delete (not among `valid`)."""
    return f", {deleted(rows, checked=True)}" if rows else ""
