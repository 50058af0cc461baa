"""Streams CSV records out of a local file: UTF-8 (BOM optional), RFC 4180 quoting, with line numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from csv_ingest_engine.errors import IngestError

# Python's default is 128 KiB. A cell may legally be as large as DynamoDB's whole 400 KB item (the item-size rule
# rejects it later, per row); the limit still has to exist so that an unclosed quote cannot pull the rest of a
# large file into memory as one field.
FIELD_SIZE_LIMIT = 1024 * 1024
# How many records pass between two progress reports: often enough for a progress bar, rare enough to cost nothing.
PROGRESS_EVERY = 1024
SAVE_AS_UTF8 = "save it as 'CSV UTF-8 (comma delimited)' and upload it again"
# Files uploaded by mistake, recognised by their first bytes (none of which can begin UTF-8 text or a CSV header),
# and what to say about them. Longer signatures first: UTF-32's byte-order marks begin like UTF-16's.
SIGNATURES = (
    (b"\xff\xfe\x00\x00", f"this is UTF-32 text, not UTF-8; {SAVE_AS_UTF8}"),
    (b"\x00\x00\xfe\xff", f"this is UTF-32 text, not UTF-8; {SAVE_AS_UTF8}"),
    (b"\xff\xfe", f"this is UTF-16 text, not UTF-8; {SAVE_AS_UTF8}"),
    (b"\xfe\xff", f"this is UTF-16 text, not UTF-8; {SAVE_AS_UTF8}"),
    (b"\x1f\x8b", "this is a gzip-compressed file, not CSV text; decompress it and upload the CSV file inside"),
    (
        b"PK\x03\x04",
        "this is a zip archive (an Excel .xlsx workbook is one), not CSV text; save the sheet as "
        "'CSV UTF-8 (comma delimited)', or unzip the archive, and upload the CSV file",
    ),
)


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: the physical line it starts on (1-based) and its cells as written."""

    line: int
    cells: list[str]


def read_records(path: Path, *, source: str, on_progress: Callable[[int], None] | None = None) -> Iterator[Record]:
    """Yield the non-blank records of the file at `path`, in order; `source` names the file in errors.

    A blank record is an empty line or one whose cells are all empty (`,,,`, as Excel writes for formatted but
    empty rows). In the first record, the header, spaces before an opening quote are skipped, so
    `customer_id, "name"` names a column `name`; later records keep every cell exactly as written.
    `on_progress`, if given, is called now and then with the number of bytes read so far.
    """
    csv.field_size_limit(FIELD_SIZE_LIMIT)
    with path.open("rb") as raw, io.TextIOWrapper(_text_file(raw, source), encoding="utf-8-sig", newline="") as text:
        # strict: a quote that is never closed is an error, not a cell that silently swallows the rest of the file.
        # The header gets a reader of its own that skips spaces before a quote; the csv module reads line by line,
        # so the rows' reader starts exactly where the header's stopped.
        header_reader = csv.reader(text, dialect="excel", strict=True, skipinitialspace=True)
        rows_reader = csv.reader(text, dialect="excel", strict=True)
        lines_before = lines_done = count = 0
        try:
            for reader in (header_reader, rows_reader):
                for cells in reader:
                    count += 1
                    line, lines_done = lines_done + 1, lines_before + reader.line_num
                    if any(cells):
                        yield Record(line, cells)
                        if reader is header_reader:
                            break
                    if on_progress is not None and count % PROGRESS_EVERY == 0:
                        on_progress(raw.tell())
                lines_before = lines_done
        except UnicodeDecodeError:
            line = _first_invalid_utf8_line(path)
            raise IngestError(
                source,
                f"the file is not UTF-8 text (invalid bytes on line {line}); {SAVE_AS_UTF8}",
            ) from None
        except csv.Error as exc:
            raise IngestError(
                source,
                f"malformed CSV in the row that starts on line {lines_done + 1}: {exc}. A cell that contains commas, "
                'quotes or line breaks must be enclosed in double quotes, with each quote inside it doubled ("")'
                + (
                    f"; a cell over {FIELD_SIZE_LIMIT // 1024} KiB usually means a quote that is never closed"
                    if "field larger than field limit" in str(exc)
                    else ""
                ),
            ) from None


def _text_file(raw: BinaryIO, source: str) -> BinaryIO:
    """`raw`, rewound, once its first bytes show it is not a compressed file, an archive or UTF-16/32 text."""
    start = raw.read(4)
    for signature, problem in SIGNATURES:
        if start.startswith(signature):
            raise IngestError(source, problem)
    raw.seek(0)
    return raw


def _first_invalid_utf8_line(path: Path) -> int:
    """The 1-based physical line holding the first byte sequence that is not UTF-8."""
    # Latin-1 maps every byte to one character, so lines split exactly as the csv reader counts them (CRLF, LF or a
    # lone CR, old Excel for Mac's line end); CR and LF never occur inside a multi-byte UTF-8 sequence, so each
    # line can be checked on its own.
    with path.open(encoding="latin-1", newline=None) as text:
        for number, line in enumerate(text, start=1):
            try:
                line.encode("latin-1").decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0  # pragma: no cover - only called after a decode error, so some line is invalid
