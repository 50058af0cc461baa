"""Reading CSV records from a local file: encoding, quoting and line numbers, no AWS."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.reading import read_records, read_stream
from csv_ingest_engine.schema import CsvFormat

# The start of an .xls workbook: the OLE2 compound file signature, then its header (0x8D among the bytes that follow,
# as in the file a user reported).
XLS_START = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff\x09\x00\x8d" * 8


def records(tmp_path: Path, data: bytes) -> list[tuple[int, list[str]]]:
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    return [(r.line, r.cells) for r in read_records(path, source="file.csv")]


def test_records_carry_the_line_they_start_on(tmp_path: Path) -> None:
    """A quoted cell spanning lines, and blank lines, do not shift the line numbers of later records."""
    data = b'customer_id,notes\r\n1,"two\r\nlines"\r\n\r\n2,plain\r\n3,"a ""quoted"", cell"\r\n'
    assert records(tmp_path, data) == [
        (1, ["customer_id", "notes"]),
        (2, ["1", "two\r\nlines"]),
        (5, ["2", "plain"]),
        (6, ["3", 'a "quoted", cell']),
    ]


def test_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    """Excel's UTF-8 BOM is stripped, so the first header name matches."""
    assert records(tmp_path, b"\xef\xbb\xbfcustomer_id\n1\n")[0] == (1, ["customer_id"])


def test_lf_and_crlf_files_read_the_same(tmp_path: Path) -> None:
    """Line endings do not change the cells."""
    assert [c for _, c in records(tmp_path, b"a,b\n1,2\n")] == [c for _, c in records(tmp_path, b"a,b\r\n1,2\r\n")]


def test_invalid_utf8_names_the_file_line_not_a_buffer_position(tmp_path: Path) -> None:
    """A bad byte far past the first read buffer is reported on its own line."""
    body = b"customer_id,name\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(5000)) + b"5000,Jos\xe9\n"
    with pytest.raises(IngestError, match=r"file.csv: the file is not UTF-8 text \(invalid bytes on line 5002\)"):
        records(tmp_path, body)


def test_an_unclosed_quote_fails_instead_of_reading_the_rest_of_the_file_as_one_cell(tmp_path: Path) -> None:
    """A runaway quoted cell stops at the field size limit with an error that points at the quote."""
    body = b'customer_id,notes\n1,"never closed\n' + b"2,filler text\n" * 100_000
    with pytest.raises(IngestError, match="a quote that is never closed"):
        records(tmp_path, body)


@pytest.mark.parametrize(
    ("data", "line", "problem"),
    [
        (b'customer_id,name\n1,"Alice\n2,Bob\n3,Carol\n', 2, "unexpected end of data"),
        (b'customer_id,name\r\n1,Ann\r\n2,"Al"ice\r\n3,Bob\r\n', 3, "',' expected after '\"'"),
    ],
)
def test_malformed_quoting_fails_naming_the_row_instead_of_swallowing_rows(
    tmp_path: Path, data: bytes, line: int, problem: str
) -> None:
    """An unclosed quote in a small file, or text after a closing quote, fails the file at that row's line."""
    with pytest.raises(IngestError) as failure:
        records(tmp_path, data)
    assert f"malformed CSV in the row that starts on line {line}: {problem}" in str(failure.value)


def test_invalid_utf8_line_counts_lone_cr_line_ends_like_the_reader(tmp_path: Path) -> None:
    """Old Excel for Mac ends lines with a lone CR: the bad line is still named correctly."""
    with pytest.raises(IngestError, match=r"invalid bytes on line 4\)"):
        records(tmp_path, b"customer_id,name\r1,a\r2,b\r3,Jos\xe9\r")


def zipped(name: str, data: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(name, data)
    return archive.getvalue()


def test_rows_of_only_empty_cells_are_skipped_like_blank_lines(tmp_path: Path) -> None:
    """Excel writes `,,,` for formatted but empty rows: they are blank rows, and line numbers stay right."""
    data = b'customer_id,name\r\n1,Ann\r\n,\r\n,,,\r\n"",""\r\n2,Bob\r\n'
    assert records(tmp_path, data) == [(1, ["customer_id", "name"]), (2, ["1", "Ann"]), (6, ["2", "Bob"])]


def test_a_row_of_only_empty_cells_before_the_header_is_skipped(tmp_path: Path) -> None:
    """The header is the first record with something in it."""
    assert records(tmp_path, b",,\ncustomer_id,name\n")[0] == (2, ["customer_id", "name"])


def test_a_row_of_spaces_is_not_blank(tmp_path: Path) -> None:
    """Only empty cells make a blank row: spaces are data (the rules reject the blank key)."""
    assert records(tmp_path, b"customer_id,name\n ,\n")[1] == (2, [" ", ""])


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (gzip.compress(b"customer_id,name\n1,Ann\n"), "this is a gzip-compressed file, not CSV text"),
        ("customer_id,name\n1,Ann\n".encode("utf-16"), "this is UTF-16 text, not UTF-8; save it as 'CSV UTF-8"),
        (b"\xfe\xff" + "customer_id\n".encode("utf-16-be"), "this is UTF-16 text, not UTF-8"),
        ("customer_id\n".encode("utf-32"), "this is UTF-32 text, not UTF-8"),
        (zipped("sheet.xml", b"<x/>"), "this is a zip archive (an Excel .xlsx workbook is one), not CSV text"),
        (XLS_START, "this is a legacy Excel workbook (.xls) or another Office file in the old binary format, not CSV"),
    ],
    ids=["gzip", "utf-16-le", "utf-16-be", "utf-32", "zip", "xls"],
)
def test_files_that_are_not_csv_text_say_what_they_are(tmp_path: Path, data: bytes, problem: str) -> None:
    """Compressed files, archives and UTF-16/32 text are named as such, not as "invalid bytes on line 1"."""
    with pytest.raises(IngestError) as failure:
        records(tmp_path, data)
    assert str(failure.value).startswith(f"file.csv: {problem}")


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_a_legacy_excel_workbook_is_named_in_any_encoding(tmp_path: Path, encoding: str) -> None:
    """An .xls renamed .csv is named as a workbook to save as CSV, not as text failing on byte 0x8D, whatever the
    encoding set (its bytes would decode in Latin-1)."""
    path = tmp_path / "file.csv"
    path.write_bytes(XLS_START)
    with pytest.raises(IngestError) as failure:
        list(read_records(path, source="file.csv", fmt=CsvFormat(encoding=encoding)))
    assert str(failure.value) == (
        "file.csv: this is a legacy Excel workbook (.xls) or another Office file in the old binary format, not CSV "
        "text; open it in Excel, save the sheet as 'CSV UTF-8 (comma delimited)', and upload the CSV file"
    )


def test_spaces_before_an_opening_quote_in_the_header_are_skipped(tmp_path: Path) -> None:
    """`customer_id, "name", "a, b"` names the columns `name` and `a, b`, not `"name"`, `"a` and `b"`."""
    data = b'customer_id, "name", "a, b"\n1,Ann,x\n'
    assert records(tmp_path, data)[0] == (1, ["customer_id", "name", "a, b"])


def test_spaces_before_a_quote_in_data_rows_are_kept_as_written(tmp_path: Path) -> None:
    """Values are stored exactly as written: only the header skips spaces before a quote."""
    data = b'customer_id,name\n1, "Ann"\n'
    assert records(tmp_path, data)[1] == (2, ["1", ' "Ann"'])


def test_line_numbers_after_a_quoted_multi_line_header_count_every_line(tmp_path: Path) -> None:
    """The header's own reader hands over to the rows' reader without losing a line."""
    data = b'\ncustomer_id, "two\nlines"\n1,a\n\n2,"b\nc"\n3,d\n'
    assert records(tmp_path, data) == [
        (2, ["customer_id", "two\nlines"]),
        (4, ["1", "a"]),
        (6, ["2", "b\nc"]),
        (8, ["3", "d"]),
    ]


def test_malformed_quoting_after_the_header_names_the_right_line(tmp_path: Path) -> None:
    """An error in the rows' reader counts the lines the header's reader read too."""
    with pytest.raises(IngestError, match="malformed CSV in the row that starts on line 4"):
        records(tmp_path, b'\ncustomer_id,name\n1,a\n2,"b"c\n')


class _Trickle:
    """An S3 body that hands out a few bytes per read, so every multi-byte character and CRLF gets cut in two."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(min(self._step, size) if size >= 0 else self._step)


@pytest.mark.parametrize("step", [1, 2, 3, 5])
def test_a_stream_read_in_pieces_gives_the_records_and_the_invalid_line_of_the_whole_file(
    tmp_path: Path, step: int
) -> None:
    """`read_stream` on an S3 body that returns a few bytes per read: the same records, and the same bad line."""
    good = 'customer_id,name\r\n1,Zoë\r2,"two\r\nlines"\n3,日本\r\n'.encode()
    streamed = [(r.line, r.cells) for r in read_stream(_Trickle(good, step), source="s3://b/k.csv")]
    assert streamed == records(tmp_path, good)
    bad = good + b"4,Jos\xe9\r\n5,fine\n"
    for read in (lambda: read_stream(_Trickle(bad, step), source="k.csv"), lambda: records(tmp_path, bad)):
        with pytest.raises(IngestError, match=r"invalid bytes on line 6\)"):
            list(read())
