"""One file, start to end: records -> header check -> writes or rejections -> counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest_engine.errors import IngestError, WriteFailed
from ingest_engine.reading import read_records
from ingest_engine.rules import Rejection, Write, parse_header, to_write
from ingest_engine.writing import TableWriter


@dataclass(slots=True)
class FileResult:
    """What happened to one file's data rows."""

    rows_written: int = 0
    rows_rejected: int = 0


def ingest_file(
    path: Path,
    *,
    source: str,
    table_name: str,
    key_column: str,
    writer: TableWriter,
    on_reject: Callable[[Rejection], None],
) -> FileResult:
    """Upsert every row of the CSV at `path` into `table_name`; `source` names the file in messages.

    Raises `IngestError` for a problem with the whole file (header, encoding, the table itself). Rows written
    before such an error stay written: every write is an idempotent upsert, so ingesting the file again is safe.
    """
    records = read_records(path, source=source)
    first = next(records, None)
    header = parse_header(first.cells if first else None, key_column=key_column, source=source)
    result = FileResult()
    for record in records:
        outcome: Write | Rejection | None = to_write(record, header, table_name=table_name)
        if isinstance(outcome, Write):
            try:
                outcome = writer.write(outcome, record.cells)
            except WriteFailed as exc:
                raise IngestError(
                    source,
                    f"writing line {exc.line} to DynamoDB table '{table_name}' failed ({exc.detail}); "
                    f"{result.rows_written} rows before it were written, and ingesting the file again is safe",
                ) from exc
        if outcome is None:
            result.rows_written += 1
        else:
            result.rows_rejected += 1
            on_reject(outcome)
    return result
