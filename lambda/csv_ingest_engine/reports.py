"""Rejected rows as a CSV a user can open, fix and upload again as it is.

The report has the file's own columns followed by `rejected_line` and `rejected_reason` (then, in a row rejected
for them, the cells past the header's last column). The rules never write those two columns, so a fixed report
re-ingests without turning the diagnosis into attributes. It is written with the file's delimiter, in UTF-8; when
the files are read in another encoding, it starts with a UTF-8 byte-order mark, which the reader honours whatever
the configured encoding, so the report still uploads again as it is.
"""

from __future__ import annotations

import array
import csv
import io
import secrets
from pathlib import Path
from typing import IO

from csv_ingest_engine.constants import DEFAULT_ENCODING
from csv_ingest_engine.rules import ANNOTATION_COLUMNS, Rejection
from csv_ingest_engine.schema import CsvFormat

UTF8_BOM = "\ufeff".encode()


def report_start(fmt: CsvFormat) -> bytes:
    """What a report begins with before its header: a UTF-8 byte-order mark when the files are read in another
    encoding (see the module's docstring), else nothing."""
    return b"" if fmt.encoding == DEFAULT_ENCODING else UTF8_BOM


class RejectsReport:
    """Writes rejections to a local CSV file, in line order, whole or not at all.

    Rows go to a temporary file next to `path` as they come; `close` puts them in line order (the writer's threads
    report refusals after the rules have rejected later lines) and moves the file into place in one step, so `path`
    never holds half a report. A run with no rejection removes `path`: a report left by an earlier run must not pass
    for this one's. `discard` (the run crashed) leaves `path` as it was. As a context manager: `close` on a normal
    exit, `discard` on an exception, unless `close` was called first (to report the rows before a file's failure).
    """

    def __init__(self, path: Path, *, fmt: CsvFormat | None = None) -> None:
        self.path = path
        self._fmt = fmt or CsvFormat()
        self.count = 0
        self._columns: tuple[str, ...] = ()
        self._keep: list[int] = []
        self._width = 0
        self._temporary: Path | None = None
        self._file: IO[bytes] | None = None
        self._closed = False
        # Each row is formatted here, then written as bytes, so that where it starts in the file is known exactly.
        self._buffer = io.StringIO()
        # newline="" is the buffer's default: the csv module's RFC 4180 CRLF line ends and the newlines inside
        # cells reach the file as written.
        self._csv = csv.writer(self._buffer, delimiter=self._fmt.delimiter)
        # Per row, in the order they came: its line in the input and where it starts in the temporary file.
        # Arrays: a report can be as long as the file, and two machine integers a row keep that cheap.
        self._lines = array.array("q")
        self._offsets = array.array("q")
        self._in_order = True

    def __enter__(self) -> RejectsReport:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        """A run that ends normally (or called `close` itself) has its report; one that crashed leaves none."""
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def header(self, columns: tuple[str, ...]) -> None:
        """The columns of the file being ingested; called once, before any rejection."""
        self._keep = [i for i, name in enumerate(columns) if name not in ANNOTATION_COLUMNS]
        self._columns = tuple(columns[i] for i in self._keep)
        self._width = len(columns)

    def reject(self, rejection: Rejection) -> None:
        if self._file is None:
            self._temporary, self._file = self._open_temporary()
            self._file.write(report_start(self._fmt) + self._encode([*self._columns, *ANNOTATION_COLUMNS]))
        cells = rejection.cells
        kept = [cells[i] if i < len(cells) else "" for i in self._keep]
        # Cells beyond the header (the "too many fields" rejection) stay in the row, after the known columns,
        # so nothing the user wrote is lost; they must be fixed before the row can be ingested.
        row = self._encode([*kept, str(rejection.line), rejection.reason, *cells[self._width :]])
        if self._lines and rejection.line < self._lines[-1]:
            self._in_order = False
        self._lines.append(rejection.line)
        self._offsets.append(self._file.tell())
        self._file.write(row)
        self.count += 1

    def close(self) -> None:
        """Move the report into place, in line order; with no rejection, remove `path` instead."""
        if self._closed:
            return
        self._closed = True
        if self._file is None or self._temporary is None:
            self.path.unlink(missing_ok=True)
            return
        self._file.close()
        try:
            if not self._in_order:
                self._temporary = self._in_line_order(self._temporary)
            self._temporary.replace(self.path)
        except BaseException:
            self._temporary.unlink(missing_ok=True)
            raise

    def discard(self) -> None:
        """Forget the rows reported so far, and leave `path` as it was before the run."""
        if self._closed:
            return
        self._closed = True
        if self._file is not None and self._temporary is not None:
            self._file.close()
            self._temporary.unlink(missing_ok=True)

    def _open_temporary(self) -> tuple[Path, IO[bytes]]:
        # Next to `path`, so that moving it into place is one rename on one file system; created with the mode an
        # ordinary new file gets (mkstemp's would be private to the user), and hidden while it is being written.
        while True:
            temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
            try:
                return temporary, temporary.open("xb")
            except FileExistsError:  # pragma: no cover - 32 random bits
                continue

    def _encode(self, cells: list[str]) -> bytes:
        self._csv.writerow(cells)
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8")

    def _in_line_order(self, temporary: Path) -> Path:
        """A copy of the report with its rows in line order; the unordered one is deleted."""
        offsets = self._offsets
        ends = array.array("q", offsets[1:])
        ends.append(temporary.stat().st_size)
        order = sorted(range(self.count), key=self._lines.__getitem__)
        path, file = self._open_temporary()
        try:
            with temporary.open("rb") as unordered, file as ordered:
                ordered.write(unordered.read(offsets[0]))  # the header
                for i in order:
                    unordered.seek(offsets[i])
                    ordered.write(unordered.read(ends[i] - offsets[i]))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        temporary.unlink()
        return path
