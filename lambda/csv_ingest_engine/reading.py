"""Streams CSV records out of a file or an S3 body: one delimiter, one encoding (UTF-8 by default, its BOM optional),
gzip decompressed on the way, RFC 4180 quoting, with line numbers."""

from __future__ import annotations

import codecs
import csv
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from csv_ingest_engine.bounded_lines import (
    RECORD_CHAR_LIMIT,
    STOP_CHECK_CHARS,
    BoundedLines,
    ReadingStopped,
    RecordTooLong,
)
from csv_ingest_engine.errors import IngestError, TextLargerThanEstimated
from csv_ingest_engine.schema import DELIMITER_NAMES, CsvFormat, gzipped

# Python's default is 128 KiB. A cell may legally be as large as DynamoDB's whole 400 KB item (the item-size rule
# rejects it later, per row); the limit still has to exist so that an unclosed quote cannot pull the rest of a
# large file into memory as one field.
FIELD_SIZE_LIMIT = 1024 * 1024
# How many records pass between two progress reports: often enough for a progress bar, rare enough to cost nothing.
PROGRESS_EVERY = 1024
# How many compressed bytes one read of a gzipped file asks for; one read inflates at most what the reader asked for.
GZIP_READ_BYTES = 64 * 1024
SAVE_AS_UTF8 = "save it as 'CSV UTF-8 (comma delimited)' and upload it again"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# An OLE2 compound file: a legacy Excel workbook (.xls), or another Office file of before 2007 (.doc, .ppt). Its 8
# bytes could begin cp1252 or Latin-1 text in theory (its first 4 too), never a CSV header in practice.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# How many bytes identify a file: the longest signature above.
START_BYTES = len(OLE2_MAGIC)
# Byte-order marks and the text they begin. Longer ones first: UTF-32's begin like UTF-16's.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
    (codecs.BOM_UTF8, "UTF-8"),
)
# The encodings read (constants.ENCODINGS) as messages name them, and the codec the text is decoded with: UTF-8's
# BOM is optional, UTF-16's says the byte order (the check below requires it).
ENCODING_NAMES = {"utf-8": "UTF-8", "cp1252": "cp1252", "latin-1": "Latin-1", "utf-16": "UTF-16"}
TEXT_CODECS = {"utf-8": "utf-8-sig", "cp1252": "cp1252", "latin-1": "latin-1", "utf-16": "utf-16"}


def set_encoding(encoding: str) -> str:
    """The advice where a file is right but its encoding setting is not."""
    return f"set the file's encoding (`csv-ingest --encoding {encoding}`, or the stack's context `csv_encoding`)"


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: the physical line it starts on (1-based) and its cells as written."""

    line: int
    cells: list[str]


class ReadableBytes(Protocol):
    """What records can be read from: a binary file, or an S3 object's streaming body."""

    def read(self, size: int = -1, /) -> bytes: ...


def read_records(
    path: Path,
    *,
    source: str,
    on_progress: Callable[[int], None] | None = None,
    fmt: CsvFormat | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_text_bytes: int | None = None,
) -> Iterator[Record]:
    """Yield the non-blank records of the file at `path`, in order; `source` names the file in errors.

    A `.gz` file is decompressed as it is read. See `read_stream`.
    """
    with path.open("rb") as raw:
        yield from read_stream(
            raw,
            source=source,
            on_progress=on_progress,
            fmt=fmt,
            gzip=gzipped(path.name),
            should_stop=should_stop,
            max_text_bytes=max_text_bytes,
        )


def read_stream(
    raw: ReadableBytes,
    *,
    source: str,
    on_progress: Callable[[int], None] | None = None,
    fmt: CsvFormat | None = None,
    gzip: bool = False,
    should_stop: Callable[[], bool] | None = None,
    max_text_bytes: int | None = None,
) -> Iterator[Record]:
    """Yield the non-blank records of the bytes `raw` reads, in order, in one pass (memory stays bounded).

    The text is in `fmt`'s encoding with `fmt`'s delimiter (default: `CsvFormat()`, UTF-8 and commas); with `gzip`,
    `raw` reads gzip data (one member or several), decompressed as it is read. A blank record is an empty line or
    one whose cells are all empty (`,,,`, as Excel writes for formatted but empty rows). In the first record, the
    header, spaces before an opening quote are skipped, so `customer_id, "name"` names a column `name`; later
    records keep every cell exactly as written.
    `on_progress`, if given, is called now and then with the number of bytes read so far (compressed ones, with
    `gzip`: the file's size is where they end).

    Memory stays bounded on any input: a record is never held past RECORD_CHAR_LIMIT characters (one that goes
    further fails the file, saying why), and a cell never past FIELD_SIZE_LIMIT. `should_stop()` is asked every few
    hundred blank records skipped and KiB of text read (the caller looks at the clock for the records it gets); when
    it turns true, `ReadingStopped` names the first line not yielded. With `max_text_bytes`, text (decompressed)
    past that many bytes raises `TextLargerThanEstimated`, once the rest of it has been counted (until
    `should_stop`).
    """
    fmt = fmt or CsvFormat()
    if fmt.delimiter not in DELIMITER_NAMES or fmt.encoding not in TEXT_CODECS:
        raise ValueError(f"not a format this reader reads: {fmt}")
    csv.field_size_limit(FIELD_SIZE_LIMIT)
    counted = _Counted(raw)
    text_bytes: ReadableBytes = _Gunzip(counted, source, should_stop) if gzip else counted
    if max_text_bytes is not None:
        text_bytes = _TextSized(text_bytes, source, max_text_bytes, should_stop)
    checked, encoding = _checked(text_bytes, source, fmt, gunzipped=gzip)
    with io.TextIOWrapper(io.BufferedReader(checked), encoding=TEXT_CODECS[encoding], newline="") as text:
        lines = BoundedLines(text, should_stop=should_stop)
        # strict: a quote that is never closed is an error, not a cell that silently swallows the rest of the file.
        # The header gets a reader of its own that skips spaces before a quote; the csv module reads line by line,
        # so the rows' reader starts exactly where the header's stopped.
        header_reader = csv.reader(lines, dialect="excel", delimiter=fmt.delimiter, strict=True, skipinitialspace=True)
        rows_reader = csv.reader(lines, dialect="excel", delimiter=fmt.delimiter, strict=True)
        yielded = 0  # records: none yet means a record too long is the header
        try:
            for record in _records(lines, header_reader, rows_reader, counted, on_progress):
                yielded += 1
                yield record
        except csv.Error as exc:
            raise IngestError(source, _malformed(str(exc), lines.record_start, fmt.delimiter)) from None
        except RecordTooLong as long:
            problem = _too_long(long.lines, lines.record_start, fmt, header=not yielded)
            raise IngestError(source, problem) from None
        except _InputStopped:
            raise ReadingStopped(lines.record_start) from None


def _records(
    lines: BoundedLines,
    header_reader: Iterator[list[str]],
    rows_reader: Iterator[list[str]],
    counted: _Counted,
    on_progress: Callable[[int], None] | None,
) -> Iterator[Record]:
    """The non-blank records `header_reader` (the first) and `rows_reader` (the rest) parse out of `lines`."""
    count = 0
    for reader in (header_reader, rows_reader):
        for cells in reader:
            count += 1
            line = lines.record_start
            blank = not any(cells)
            lines.record_read(blank=blank)
            if not blank:
                yield Record(line, cells)
                if reader is header_reader:
                    break
            if on_progress is not None and count % PROGRESS_EVERY == 0:
                on_progress(counted.bytes_read)


def _checked(text_bytes: ReadableBytes, source: str, fmt: CsvFormat, *, gunzipped: bool) -> tuple[_CheckedText, str]:
    """The text's bytes, checked as they are read (see `_CheckedText`), and the encoding they are in."""
    try:
        stream, encoding = _utf8_by_its_mark(text_bytes, source, fmt.encoding)
    except _InputStopped:  # while looking for a byte-order mark
        raise ReadingStopped(1) from None
    return _CheckedText.of(stream, source, encoding, gunzipped=gunzipped), encoding


def _malformed(problem: str, line: int, delimiter: str) -> str:
    return (
        f"malformed CSV in the row that starts on line {line}: {problem}. A cell that contains "
        f"{DELIMITER_NAMES[delimiter]}, quotes or line breaks must be enclosed in double quotes, with each quote "
        'inside it doubled ("")'
        + (
            f"; a cell over {FIELD_SIZE_LIMIT // 1024} KiB usually means a quote that is never closed"
            if "field larger than field limit" in problem
            else ""
        )
    )


def too_many_cells(cells: int | None, limit: int, *, header: bool) -> str:
    """Why a record of `cells` cells (None: not all counted) is wider than `limit`."""
    counted = f"{cells:,} cells, more than" if cells is not None else "more cells than"
    return (
        f"the {'header ' if header else ''}row has {counted} the {limit:,} a row may have (context csv_max_cells, "
        "csv-ingest --max-cells); remove the empty cells at its end (a spreadsheet exported with empty columns?), or "
        "quote the cells that contain the delimiter"
    )


def _too_long(lines: list[str], line: int, fmt: CsvFormat, *, header: bool) -> str:
    """Why a record longer than RECORD_CHAR_LIMIT characters fails the file, from its first characters (`lines`, as
    `RecordTooLong` has them), which the csv module reads again here: a cell over the field limit, a quote never
    closed, malformed quoting or too many cells are named as such; otherwise its length is."""
    try:
        cells = next(csv.reader(lines, dialect="excel", delimiter=fmt.delimiter, strict=True, skipinitialspace=header))
    except csv.Error as exc:
        if str(exc) != "unexpected end of data":
            return _malformed(str(exc), line, fmt.delimiter)
        # Its first characters end inside a quoted cell that began too late in them to be over the field limit yet.
        return _malformed(
            f"the row is longer than {RECORD_CHAR_LIMIT:,} characters, the most of a row that is read, and a quoted "
            "cell is still open there; a quote that is never closed?",
            line,
            fmt.delimiter,
        )
    row = f"the {'header ' if header else ''}row that starts on line {line}"
    read = f"is longer than {RECORD_CHAR_LIMIT:,} characters, the most of a row that is read"
    if len(cells) > fmt.max_cells:
        alone = (
            "" if header else ", so the file fails rather than the row alone being rejected (a report holds rows whole)"
        )
        return f"{too_many_cells(None, fmt.max_cells, header=header)}. It starts on line {line} and {read}{alone}"
    return (
        f"{row} {read}. A row DynamoDB can take is shorter (its item is at most 400 KB: twice that with every quote "
        "doubled, plus a delimiter and two quotes per cell, stays under it) unless cells are written far longer than "
        "their value (whitespace around a key, a number, a boolean or JSON): remove that, or split the row"
    )


def _utf8_by_its_mark(raw: ReadableBytes, source: str, encoding: str) -> tuple[ReadableBytes, str]:
    """The stream to read and the encoding to read it in: a file that starts with UTF-8's byte-order mark is UTF-8,
    whatever the setting says (no cp1252, Latin-1 or UTF-16 text starts with those bytes, and rejects reports carry
    the mark so that they upload again as they are)."""
    if encoding == "utf-8":
        return raw, encoding
    start = b""
    try:
        while len(start) < len(codecs.BOM_UTF8) and (more := raw.read(len(codecs.BOM_UTF8) - len(start))):
            start += more
    except _BrokenGzip as broken:
        raise IngestError(
            source, f"the gzip-compressed data {broken.what} in line 1 of the CSV text; {broken.fix}"
        ) from None
    return _Prefixed(start, raw), "utf-8" if start == codecs.BOM_UTF8 else encoding


class _Prefixed:
    """`prefix`, then the rest of `raw`: bytes already read, given back."""

    def __init__(self, prefix: bytes, raw: ReadableBytes) -> None:
        self._prefix = prefix
        self._raw = raw

    def read(self, size: int = -1, /) -> bytes:
        if not self._prefix:
            return self._raw.read(size)
        if size < 0:
            data, self._prefix = self._prefix + self._raw.read(), b""
            return data
        data, self._prefix = self._prefix[:size], self._prefix[size:]
        return data


class _Counted:
    """The bytes of `raw`, counted: what progress reports (the compressed bytes, for a gzipped file)."""

    def __init__(self, raw: ReadableBytes) -> None:
        self._raw = raw
        self.bytes_read = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        self.bytes_read += len(data)
        return data


class _TextSized:
    """The text's bytes (decompressed) `raw` reads, until more than `limit` of them have been: then the rest is only
    counted, to its end or until `should_stop`, and `TextLargerThanEstimated` says how many there are."""

    def __init__(
        self, raw: ReadableBytes, source: str, limit: int, should_stop: Callable[[], bool] | None = None
    ) -> None:
        self._raw = raw
        self._source = source
        self._limit = limit
        self._should_stop = should_stop
        self._bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        self._bytes += len(data)
        if self._bytes > self._limit:
            raise TextLargerThanEstimated(self._source, *self._count_the_rest())
        return data

    def _count_the_rest(self) -> tuple[int, bool]:
        """The text's size in bytes, and whether it is all of it (the count stops early at `should_stop`, or where
        gzip data is broken: what reads the file whole says so)."""
        try:
            while data := self._raw.read(GZIP_READ_BYTES):
                self._bytes += len(data)
                if self._should_stop is not None and self._should_stop():
                    return self._bytes, False
        except (_BrokenGzip, _InputStopped):
            return self._bytes, False
        return self._bytes, True


class _BrokenGzip(Exception):
    """The gzip data cannot be decompressed further; the text's reader adds the line it got to."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


class _InputStopped(Exception):
    """`should_stop` turned true while compressed input that inflates to nothing was read (empty members, zero
    padding, empty blocks): the reader names the line it got to."""


class _Gunzip:
    """The decompressed bytes of the gzip data `raw` reads, every member of it in turn, inflated as they are read:
    one read inflates at most the bytes asked for, so neither the file nor a member is ever whole in memory.

    Compressed data can inflate to nothing for as long as it goes on (empty members, zero padding, empty blocks), so
    the text's reader never gets a line to look at the clock for: `should_stop()` is asked every STOP_CHECK_CHARS
    compressed bytes read too, and `_InputStopped` raised when it is true.
    """

    def __init__(self, raw: ReadableBytes, source: str, should_stop: Callable[[], bool] | None = None) -> None:
        self._raw = raw
        self._source = source
        self._should_stop = should_stop
        self._until_check = STOP_CHECK_CHARS
        self._started = False
        self._input = b""  # compressed bytes read but not yet handed to a member's decompressor
        self._member: zlib._Decompress | None = None  # the current member's decompressor

    def read(self, size: int = -1, /) -> bytes:
        if not self._started:
            self._input = self._magic()
            self._started = True
        if size == 0:
            return b""
        size = size if size > 0 else GZIP_READ_BYTES
        while True:
            member = self._member or self._next_member()
            if member is None:
                return b""
            data = member.unconsumed_tail or self._take_input()
            try:
                out = member.decompress(data, size)
            except zlib.error as exc:
                problem = str(exc).rpartition(": ")[2]
                raise _BrokenGzip(
                    f"is corrupt ({problem})", "compress the CSV file again and upload the .csv.gz file"
                ) from None
            if member.eof:
                self._input, self._member = member.unused_data, None
            elif not out and not data:  # the input ended, and the member did not
                raise _BrokenGzip(
                    "is cut short (an upload or a copy that did not finish?)", "upload the whole .csv.gz file again"
                )
            if out:
                return out

    def _next_member(self) -> zlib._Decompress | None:
        """The next member's decompressor (wbits=31: gzip's header and trailer); None at the end of the data."""
        self._input = self._input.lstrip(b"\0")  # gzip allows zeros after a member (tape-block padding)
        while not self._input:
            more = self._read_raw()
            if not more:
                return None
            self._input = more.lstrip(b"\0")
        self._member = zlib.decompressobj(wbits=31)
        return self._member

    def _take_input(self) -> bytes:
        data, self._input = self._input or self._read_raw(), b""
        return data

    def _read_raw(self) -> bytes:
        data = self._raw.read(GZIP_READ_BYTES)
        self._until_check -= len(data)
        if self._until_check <= 0:
            self._until_check = STOP_CHECK_CHARS
            if self._should_stop is not None and self._should_stop():
                raise _InputStopped
        return data

    def _magic(self) -> bytes:
        start = b""
        while len(start) < len(GZIP_MAGIC) and (more := self._raw.read(len(GZIP_MAGIC) - len(start))):
            start += more
        if start and start != GZIP_MAGIC:
            raise IngestError(
                self._source,
                "the file is named .gz but is not gzip-compressed; name it .csv if it is CSV text, or compress it "
                "with gzip, and upload it again",
            )
        return start


class _CheckedText(io.RawIOBase):
    """The bytes of `raw`, checked on the way through: not a compressed file, an archive or text in another Unicode
    encoding (by the first bytes), and valid text in `encoding`, with the physical line of the first invalid byte in
    the error.

    Lines end as the csv reader ends them: CRLF, LF, or a lone CR (old Excel for Mac's line end). In UTF-8, cp1252 and
    Latin-1, CR and LF are bytes that never occur inside a multi-byte character, so counting them needs no decoding.
    """

    def __init__(self, raw: ReadableBytes, source: str, encoding: str, *, gunzipped: bool) -> None:
        super().__init__()
        self._raw = raw
        self._source = source
        self._encoding = encoding
        self._gunzipped = gunzipped
        self._checked_start = False
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._line_ends = 0  # in the bytes checked so far
        self._ended_with_cr = False

    @staticmethod
    def of(raw: ReadableBytes, source: str, encoding: str, *, gunzipped: bool) -> _CheckedText:
        kind = _CheckedUtf16 if encoding == "utf-16" else _CheckedText
        return kind(raw, source, encoding, gunzipped=gunzipped)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            # The first read returns the (up to START_BYTES) bytes that identify the file: a raw read may return fewer.
            data = self._raw.read(len(buffer)) if self._checked_start else self._first_bytes()
        except _BrokenGzip as broken:
            raise IngestError(
                self._source,
                f"the gzip-compressed data {broken.what} in line {self._line_ends + 1} of the CSV text; {broken.fix}",
            ) from None
        self._check(data if self._checked_start else self._text_of(data), final=not data)
        self._checked_start = True
        buffer[: len(data)] = data
        return len(data)

    def _first_bytes(self) -> bytes:
        start = b""
        while len(start) < START_BYTES and (more := self._raw.read(START_BYTES - len(start))):
            start += more
        problem = _start_problem(start, self._encoding, gunzipped=self._gunzipped)
        if problem is not None:
            raise IngestError(self._source, problem)
        return start

    def _text_of(self, start: bytes) -> bytes:
        """The first bytes as the check decodes them."""
        return start

    def _check(self, data: bytes, *, final: bool) -> None:
        pending = self._decoder.getstate()[0]  # the start of a multi-byte sequence the last read cut in two
        try:
            if pending or not data.isascii():  # ASCII is valid in each: most files need no decoding to check
                self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            # The offset counts the pending bytes too; they hold no line end.
            line = 1 + self._line_ends + _line_ends(data[: max(0, exc.start - len(pending))], self._ended_with_cr)
            raise IngestError(self._source, self._invalid(exc, line)) from None
        if data:
            self._line_ends += _line_ends(data, self._ended_with_cr)
            self._ended_with_cr = data.endswith(b"\r")

    def _invalid(self, exc: UnicodeDecodeError, line: int) -> str:
        if self._encoding == "utf-8":  # most often a file saved by Excel as plain "CSV", in Windows' cp1252
            fix = set_encoding("cp1252")
            return f"the file is not UTF-8 text (invalid bytes on line {line}); {SAVE_AS_UTF8}, or {fix}"
        byte = exc.object[exc.start]
        return (
            f"the file is not {ENCODING_NAMES[self._encoding]} text (byte 0x{byte:02X} on line {line} is not a "
            f"{self._encoding} character); {SAVE_AS_UTF8}, or, if it is UTF-8 text, {set_encoding('utf-8')}"
        )


class _CheckedUtf16(_CheckedText):
    """`_CheckedText` for UTF-16, whose byte-order mark (required) says the byte order; its lines are counted in the
    decoded text, as a CR or LF byte may be half of another character."""

    _codec = "utf-16-le"

    def _text_of(self, start: bytes) -> bytes:
        # The start check let through only an empty file or one that starts with a byte-order mark.
        if start.startswith(codecs.BOM_UTF16_BE):
            self._codec = "utf-16-be"
        self._decoder = codecs.getincrementaldecoder(self._codec)()
        return start[len(codecs.BOM_UTF16_LE) :]

    def _check(self, data: bytes, *, final: bool) -> None:
        pending = self._decoder.getstate()[0]  # an odd byte, or half a surrogate pair, the last read cut off
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            # Up to the offset (which counts the pending bytes too), the bytes are whole characters.
            before = (pending + data)[: exc.start].decode(self._codec, "replace")
            line = 1 + self._line_ends + _line_ends_in_text(before, self._ended_with_cr)
            what = "an odd byte at the end" if exc.reason == "truncated data" else "half of a surrogate pair"
            raise IngestError(
                self._source, f"the file is not UTF-16 text ({what} on line {line}); {SAVE_AS_UTF8}"
            ) from None
        if text:
            self._line_ends += _line_ends_in_text(text, self._ended_with_cr)
            self._ended_with_cr = text.endswith("\r")


def _start_problem(start: bytes, encoding: str, *, gunzipped: bool) -> str | None:
    """What is wrong with a file whose first (up to START_BYTES) bytes are `start`, read as `encoding`; None if nothing.

    Files uploaded by mistake are recognised by bytes that cannot begin a CSV header in any encoding read.
    """
    if start.startswith(GZIP_MAGIC):
        if gunzipped:
            return "this is a gzip-compressed file inside a gzip-compressed file; decompress it once and upload it"
        return (
            "this is a gzip-compressed file, not CSV text; decompress it and upload the CSV file inside, or name it "
            ".csv.gz to have it decompressed as it is read"
        )
    if start.startswith(ZIP_MAGIC):
        return (
            "this is a zip archive (an Excel .xlsx workbook is one), not CSV text; save the sheet as "
            "'CSV UTF-8 (comma delimited)', or unzip the archive, and upload the CSV file"
        )
    if start.startswith(OLE2_MAGIC):
        return (
            "this is a legacy Excel workbook (.xls) or another Office file in the old binary format, not CSV text; "
            "open it in Excel, save the sheet as 'CSV UTF-8 (comma delimited)', and upload the CSV file"
        )
    name = ENCODING_NAMES[encoding]
    text = next((text for mark, text in BYTE_ORDER_MARKS if start.startswith(mark)), None)
    if text == name:
        return None
    if text == "UTF-32":
        return f"this is UTF-32 text, not {name}; {SAVE_AS_UTF8}"
    if text == "UTF-16":
        return f"this is UTF-16 text, not {name}; {SAVE_AS_UTF8}, or {set_encoding('utf-16')}"
    if encoding == "utf-16" and start:
        return (
            "the file's encoding is set to utf-16, but the file does not start with a UTF-16 byte-order mark (FF FE or "
            "FE FF), which says its byte order; if it is UTF-16 text, save it again with one (Excel's 'Unicode Text' "
            f"has one); otherwise {set_encoding('utf-8')} or {SAVE_AS_UTF8}"
        )
    return None


def _line_ends(data: bytes, after_cr: bool) -> int:
    """How many lines `data` ends (CRLF, LF or a lone CR), when the bytes before it ended with a CR or not."""
    ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    if after_cr and data.startswith(b"\n"):  # the second half of a CRLF split between two reads
        ends -= 1
    return ends


def _line_ends_in_text(text: str, after_cr: bool) -> int:
    """`_line_ends` for decoded text."""
    ends = text.count("\n") + text.count("\r") - text.count("\r\n")
    if after_cr and text.startswith("\n"):
        ends -= 1
    return ends
