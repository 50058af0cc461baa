"""Streams CSV records out of a local file: UTF-8 (BOM optional), RFC 4180 quoting, with line numbers."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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


class ReadableBytes(Protocol):
    """What records can be read from: a binary file, or an S3 object's streaming body."""

    def read(self, size: int = -1, /) -> bytes: ...


def read_records(path: Path, *, source: str, on_progress: Callable[[int], None] | None = None) -> Iterator[Record]:
    """Yield the non-blank records of the file at `path`, in order; `source` names the file in errors.

    See `read_stream`.
    """
    with path.open("rb") as raw:
        yield from read_stream(raw, source=source, on_progress=on_progress)


def read_stream(
    raw: ReadableBytes, *, source: str, on_progress: Callable[[int], None] | None = None
) -> Iterator[Record]:
    """Yield the non-blank records of the bytes `raw` reads, in order, in one pass (memory stays bounded).

    A blank record is an empty line or one whose cells are all empty (`,,,`, as Excel writes for formatted but
    empty rows). In the first record, the header, spaces before an opening quote are skipped, so
    `customer_id, "name"` names a column `name`; later records keep every cell exactly as written.
    `on_progress`, if given, is called now and then with the number of bytes read so far.
    """
    csv.field_size_limit(FIELD_SIZE_LIMIT)
    checked = _CheckedUtf8(raw, source)
    with io.TextIOWrapper(io.BufferedReader(checked), encoding="utf-8-sig", newline="") as text:
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
                        on_progress(checked.bytes_read)
                lines_before = lines_done
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


class _CheckedUtf8(io.RawIOBase):
    """The bytes of `raw`, checked on the way through: not a compressed file, an archive or UTF-16/32 text (by the
    first bytes), and valid UTF-8, with the physical line of the first invalid byte in the error.

    Lines end as the csv reader ends them: CRLF, LF, or a lone CR (old Excel for Mac's line end); CR and LF never
    occur inside a multi-byte UTF-8 sequence, so counting them needs no decoding.
    """

    def __init__(self, raw: ReadableBytes, source: str) -> None:
        super().__init__()
        self._raw = raw
        self._source = source
        self._checked_start = False
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._line_ends = 0  # in the bytes checked so far
        self._ended_with_cr = False
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # The first read returns the (up to 4) bytes that identify the file: a raw read may return fewer than asked.
        data = self._first_bytes() if self._checked_start is False else self._raw.read(len(buffer))
        self._checked_start = True
        self._check(data, final=not data)
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)

    def _first_bytes(self) -> bytes:
        start = b""
        while len(start) < 4 and (more := self._raw.read(4 - len(start))):
            start += more
        for signature, problem in SIGNATURES:
            if start.startswith(signature):
                raise IngestError(self._source, problem)
        return start

    def _check(self, data: bytes, *, final: bool) -> None:
        pending = self._decoder.getstate()[0]  # the start of a multi-byte sequence the last read cut in two
        try:
            if pending or not data.isascii():  # ASCII is UTF-8: most files need no decoding to check
                self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            # The offset counts the pending bytes too; they hold no line end.
            line = 1 + self._line_ends + _line_ends(data[: max(0, exc.start - len(pending))], self._ended_with_cr)
            raise IngestError(
                self._source, f"the file is not UTF-8 text (invalid bytes on line {line}); {SAVE_AS_UTF8}"
            ) from None
        if data:
            self._line_ends += _line_ends(data, self._ended_with_cr)
            self._ended_with_cr = data.endswith(b"\r")


def _line_ends(data: bytes, after_cr: bool) -> int:
    """How many lines `data` ends (CRLF, LF or a lone CR), when the bytes before it ended with a CR or not."""
    ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    if after_cr and data.startswith(b"\n"):  # the second half of a CRLF split between two reads
        ends -= 1
    return ends
