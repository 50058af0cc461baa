"""Rejected rows as a CSV a user can open, fix and upload again as it is.

The report has the file's own columns followed by `rejected_line` and `rejected_reason`. The rules never write
those two columns, so a fixed report re-ingests without turning the diagnosis into attributes.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any

from csv_ingest_engine.rules import ANNOTATION_COLUMNS, Rejection


class RejectsReport:
    """Writes rejections to a local CSV file, created with the first rejection (a clean file leaves none)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._columns: tuple[str, ...] = ()
        self._keep: list[int] = []
        self._width = 0
        self._file: IO[str] | None = None
        self._writer: Any = None

    def header(self, columns: tuple[str, ...]) -> None:
        """The columns of the file being ingested; called once, before any rejection."""
        self._keep = [i for i, name in enumerate(columns) if name not in ANNOTATION_COLUMNS]
        self._columns = tuple(columns[i] for i in self._keep)
        self._width = len(columns)

    def reject(self, rejection: Rejection) -> None:
        if self._writer is None:
            # newline="" lets the csv module write RFC 4180 CRLF line ends and keep newlines inside cells intact.
            self._file = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow([*self._columns, *ANNOTATION_COLUMNS])
        cells = rejection.cells
        kept = [cells[i] if i < len(cells) else "" for i in self._keep]
        # Cells beyond the header (the "too many fields" rejection) stay in the row, after the known columns,
        # so nothing the user wrote is lost; they must be fixed before the row can be ingested.
        self._writer.writerow([*kept, str(rejection.line), rejection.reason, *cells[self._width :]])
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
