"""One file, start to end: records -> header check -> writes or rejections -> counts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from csv_ingest_engine.constants import DEFAULT_WRITE_MODE, WriteMode
from csv_ingest_engine.errors import DeadlineReached, IngestError, WriteFailed
from csv_ingest_engine.reading import read_records
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.rules import Rejection, Row, parse_header, to_row
from csv_ingest_engine.writing import TableWriter, WriteTotals, max_attributes

# How many records pass between two looks at the clock (`should_stop`).
STOP_CHECK_EVERY = 256


@dataclass(slots=True)
class FileResult:
    """What happened to one file's data rows (with no writer: what would happen).

    `rows_failed` are rows the table did not take in time (it took no write at all for the writer's patience);
    they are also in `rows_rejected`'s report, marked as such, and loading them again later will work.
    """

    rows_written: int = 0
    rows_rejected: int = 0
    rows_failed: int = 0


def ingest_file(
    path: Path,
    *,
    source: str,
    key_column: str,
    writer: TableWriter | None,
    mode: WriteMode = DEFAULT_WRITE_MODE,
    on_reject: Callable[[Rejection], None] | None = None,
    report: RejectsReport | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FileResult:
    """Write every row of the CSV at `path` with `writer`; `source` names the file in messages.

    With `writer=None` nothing is sent: the file is only checked against the rules of `mode` (a writer brings its
    own mode). Each rejected row goes to
    `on_reject` and into `report`; `on_progress(rows_read, bytes_read)` is called now and then. When
    `should_stop()` turns true (asked every few hundred rows, and by the writer while it waits), reading and
    writing stop within the writer's grace, and `IngestError` names the first line that may be missing.

    Raises `IngestError` for a problem with the whole file (header, encoding, the table itself). Rows written
    before such an error stay written: every write is an idempotent upsert, so ingesting the file again is safe.
    """
    lock = threading.Lock()  # rejections come from the writer's threads as well as this one

    def reject(rejection: Rejection) -> None:
        with lock:
            if on_reject is not None:
                on_reject(rejection)
            if report is not None:
                try:
                    report.reject(rejection)
                except OSError as exc:  # e.g. /tmp full: the rows must not go unreported
                    raise IngestError(source, f"could not write the rejected-rows report ({exc})") from exc

    progress = None
    if on_progress is not None:

        def progress(bytes_read: int) -> None:
            on_progress(rows_read, bytes_read)

    records = read_records(path, source=source, on_progress=progress)
    first = next(records, None)
    header = parse_header(first.cells if first else None, key_column=key_column, source=source)
    if report is not None:
        report.header(header.columns)

    row_limit = max_attributes(writer.mode if writer is not None else mode)
    session = writer.session(reject, should_stop=should_stop) if writer is not None else None
    rows_read = accepted = rejected_by_rules = 0
    stopped_before: int | None = None
    fatal: WriteFailed | None = None
    try:
        for record in records:
            rows_read += 1
            if should_stop is not None and rows_read % STOP_CHECK_EVERY == 0 and should_stop():
                stopped_before = record.line
                if session is not None:
                    session.cancel()
                break
            outcome = to_row(record, header, max_attributes=row_limit)
            if isinstance(outcome, Row):
                accepted += 1
                if session is not None:
                    session.submit(outcome)
            else:
                rejected_by_rules += 1
                reject(outcome)
    except WriteFailed as exc:
        fatal = exc
    except DeadlineReached as exc:  # the writers were busy when time ran out
        stopped_before = exc.line
        if session is not None:
            session.cancel()
    finally:
        # Always close: it waits for the writes in flight (and the queued ones, unless cancelled at the deadline),
        # so the counts and the report are whole, even on failure; past the deadline it stops waiting.
        totals = WriteTotals(written=accepted)
        if session is not None:
            try:
                totals = session.close()
            except WriteFailed as exc:
                fatal, totals = fatal or exc, session.totals

    result = FileResult(totals.written, rejected_by_rules + totals.rejected + totals.failed, totals.failed)
    if on_progress is not None:
        on_progress(rows_read, path.stat().st_size)
    if fatal is not None:
        table_name = writer.table_name if writer is not None else "-"
        raise IngestError(
            source,
            f"writing line {fatal.line} to DynamoDB table '{table_name}' failed ({fatal.detail}); "
            f"{result.rows_written} rows were written, and ingesting the file again is safe",
        ) from fatal
    # The writer stops on its own at the deadline too (while it waits to resend, or in `close`).
    unsent = totals.first_unsent_line
    if unsent is not None and (stopped_before is None or unsent < stopped_before):
        stopped_before = unsent
    if stopped_before is not None:
        failed = (
            f" ({result.rows_failed} of them were not refused: the table throttled, and they are in the report too)"
            if result.rows_failed
            else ""
        )
        raise IngestError(
            source,
            f"the invocation was about to time out, so ingestion stopped before line {stopped_before} "
            f"({result.rows_written} rows written, {result.rows_rejected} rejected so far){failed}. The file is too "
            "large for one invocation: split it into smaller files, or load it with `csv-ingest load`. "
            "Rows already written stay, and uploading the file again is safe (every write is an upsert).",
        )
    if result.rows_failed:
        patience = f"{writer.patience_s:g} s" if writer is not None else "a while"
        raise IngestError(
            source,
            f"{result.rows_failed} rows could not be written before retries ran out (the table took no write at all "
            f"for {patience}: it throttled or did not answer); {result.rows_written} rows were written. Ingesting the "
            "file again is safe and will write them.",
        )
    return result
