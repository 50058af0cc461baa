"""Reading CSV records from a local file: encoding, quoting and line numbers, no AWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.reading import read_records


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
