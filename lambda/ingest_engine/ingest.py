"""One file, start to end: records -> header check -> writes or rejections -> counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest_engine.errors import IngestError, WriteFailed
from ingest_engine.reading import read_records
from ingest_engine.reports import RejectsReport
from ingest_engine.rules import Rejection, Write, parse_header, to_write
from ingest_engine.writing import TableWriter

# How many records pass between two looks at the clock (`should_stop`).
STOP_CHECK_EVERY = 256


@dataclass(slots=True)
class FileResult:
    """What happened to one file's data rows (with no writer: what would happen)."""

    rows_written: int = 0
    rows_rejected: int = 0


def ingest_file(
    path: Path,
    *,
    source: str,
    table_name: str,
    key_column: str,
    writer: TableWriter | None,
    on_reject: Callable[[Rejection], None] | None = None,
    report: RejectsReport | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FileResult:
    """Upsert every row of the CSV at `path` into `table_name`; `source` names the file in messages.

    With `writer=None` nothing is sent: the file is only checked against the rules. Each rejected row goes to
    `on_reject` and into `report`; `on_progress(rows, bytes_read)` is called now and then. When `should_stop()`
    turns true (asked every few hundred rows), reading stops and `IngestError` says which line was reached.

    Raises `IngestError` for a problem with the whole file (header, encoding, the table itself). Rows written
    before such an error stay written: every write is an idempotent upsert, so ingesting the file again is safe.
    """
    result = FileResult()
    progress = None
    if on_progress is not None:

        def progress(bytes_read: int) -> None:
            on_progress(result.rows_written + result.rows_rejected, bytes_read)

    records = read_records(path, source=source, on_progress=progress)
    first = next(records, None)
    header = parse_header(first.cells if first else None, key_column=key_column, source=source)
    if report is not None:
        report.header(header.columns)
    for count, record in enumerate(records, start=1):
        if should_stop is not None and count % STOP_CHECK_EVERY == 0 and should_stop():
            raise IngestError(
                source,
                f"the invocation was about to time out, so ingestion stopped before line {record.line} "
                f"({result.rows_written} rows written, {result.rows_rejected} rejected so far). The file is too "
                "large for one invocation: split it into smaller files, or load it with `csv-ingest load`. "
                "Rows already written stay, and uploading the file again is safe (every write is an upsert).",
            )
        outcome: Write | Rejection | None = to_write(record, header, table_name=table_name)
        if isinstance(outcome, Write):
            outcome = None if writer is None else _send(writer, outcome, record.cells, result, source, table_name)
        if outcome is None:
            result.rows_written += 1
        else:
            result.rows_rejected += 1
            if on_reject is not None:
                on_reject(outcome)
            if report is not None:
                report.reject(outcome)
    if on_progress is not None:
        on_progress(result.rows_written + result.rows_rejected, path.stat().st_size)
    return result


def _send(
    writer: TableWriter, write: Write, cells: list[str], result: FileResult, source: str, table_name: str
) -> Rejection | None:
    try:
        return writer.write(write, cells)
    except WriteFailed as exc:
        raise IngestError(
            source,
            f"writing line {exc.line} to DynamoDB table '{table_name}' failed ({exc.detail}); "
            f"{result.rows_written} rows before it were written, and ingesting the file again is safe",
        ) from exc
