"""Reading CSV files in other formats: delimiters, encodings and gzip, with the same line numbers; no AWS."""

from __future__ import annotations

import gzip
import io
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.reading import read_records, read_stream
from csv_ingest_engine.schema import CsvFormat

# Records that cross every line-numbering trap: CRLF, a quoted cell with a line break, a blank line, a lone CR.
TRAPS = 'customer_id,notes\r\n1,"two\r\nlines"\r\n\r\n2,plain\r3,"a ""q"", cell"\n'
TRAPS_LINES = [1, 2, 5, 6]


def records(tmp_path: Path, data: bytes, name: str = "file.csv", **fmt: Any) -> list[tuple[int, list[str]]]:
    path = tmp_path / name
    path.write_bytes(data)
    return [(r.line, r.cells) for r in read_records(path, source=name, fmt=CsvFormat(**fmt))]


def failure(tmp_path: Path, data: bytes, name: str = "file.csv", **fmt: str) -> str:
    with pytest.raises(IngestError) as failed:
        records(tmp_path, data, name, **fmt)
    return str(failed.value)


def numbered_rows(rows: int) -> bytes:
    return b"customer_id,name,notes\n" + b"".join(b"%d,name %d,some notes\n" % (i, i) for i in range(rows))


class _Body:
    """An S3 streaming body: only `read(n)`, a few bytes per read, so every multi-byte sequence gets cut in two."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(min(self._step, size) if size >= 0 else self._step)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_a_file_with_another_delimiter_splits_on_it_and_keeps_it_in_quoted_cells(
    tmp_path: Path, delimiter: str
) -> None:
    """Semicolon, tab and pipe files: cells split on the delimiter, a quoted cell keeps it (and commas) as text."""
    data = f'customer_id{delimiter}name\n1{delimiter}"Ann{delimiter} Lee, Jr"\n'.encode()
    assert records(tmp_path, data, delimiter=delimiter) == [
        (1, ["customer_id", "name"]),
        (2, ["1", f"Ann{delimiter} Lee, Jr"]),
    ]


def test_a_semicolon_file_read_with_commas_is_one_column(tmp_path: Path) -> None:
    """With the default delimiter a semicolon file's header is one column, for the header rules to explain."""
    assert records(tmp_path, b"customer_id;name\n1;Ann\n") == [(1, ["customer_id;name"]), (2, ["1;Ann"])]


def test_malformed_csv_in_a_semicolon_file_names_semicolons(tmp_path: Path) -> None:
    """The malformed-CSV advice speaks of the delimiter in use."""
    message = failure(tmp_path, b'customer_id;name\n1;"Al"ice\n', delimiter=";")
    assert "line 2: ';' expected after '\"'. A cell that contains semicolons, quotes or line breaks" in message


def test_cp1252_text_is_decoded(tmp_path: Path) -> None:
    """Windows' cp1252 (Excel's plain "CSV"): é, € and curly quotes come out as those characters."""
    data = "customer_id;name\n1;José “Pepe” 5 €\n".encode("cp1252")
    assert records(tmp_path, data, delimiter=";", encoding="cp1252")[1] == (2, ["1", "José “Pepe” 5 €"])


def test_a_byte_cp1252_does_not_define_fails_naming_its_line(tmp_path: Path) -> None:
    """0x81 is not a cp1252 character: the file fails on the line it is on, with the fix."""
    message = failure(tmp_path, b"customer_id,name\n1,Ann\n2,B\x81b\n", encoding="cp1252")
    assert message.startswith("file.csv: the file is not cp1252 text (byte 0x81 on line 3 is not a cp1252 character)")
    assert "`csv-ingest --encoding utf-8`" in message


def test_latin1_text_is_decoded_byte_for_byte(tmp_path: Path) -> None:
    """Latin-1 maps every byte, 0x80-0x9F included, to the character of that number."""
    data = b"customer_id,name\n1,Jos\xe9 \x80\xff\n"
    assert records(tmp_path, data, encoding="latin-1")[1] == (2, ["1", "José \x80ÿ"])


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_decoded_in_its_byte_order(tmp_path: Path, codec: str) -> None:
    """Both byte orders, with characters beyond the BMP (surrogate pairs) and the line numbers of UTF-8."""
    text = TRAPS.replace("plain", "日本 😀")
    data = "\ufeff".encode(codec) + text.encode(codec)
    read = records(tmp_path, data, encoding="utf-16")
    assert [line for line, _ in read] == TRAPS_LINES
    assert read[2] == (5, ["2", "日本 😀"])


def test_utf16_without_a_byte_order_mark_is_refused(tmp_path: Path) -> None:
    """The byte order cannot be guessed: the message says the mark is missing."""
    message = failure(tmp_path, "customer_id\n1\n".encode("utf-16-le"), encoding="utf-16")
    assert "the file does not start with a UTF-16 byte-order mark (FF FE or FE FF)" in message


def test_utf16_with_an_odd_trailing_byte_fails_naming_its_line(tmp_path: Path) -> None:
    """Half a character at the end is named, on the last line."""
    data = "customer_id\r\n1\r\n2\r\n".encode("utf-16") + b"\x33"
    message = failure(tmp_path, data, encoding="utf-16")
    assert message.startswith("file.csv: the file is not UTF-16 text (an odd byte at the end on line 4)")


@pytest.mark.parametrize("step", [1, 3, 4096])
def test_utf16_with_a_lone_surrogate_fails_naming_its_line_however_the_stream_is_cut(step: int) -> None:
    """Half of a surrogate pair on line 3 is named on line 3, whatever sizes the body's reads return."""
    data = "customer_id\r\n1\r\n".encode("utf-16-le") + b"2\x00\x00\xd8x\x00\r\x00\n\x00"
    with pytest.raises(IngestError, match=r"not UTF-16 text \(half of a surrogate pair on line 3\)"):
        list(read_stream(_Body(b"\xff\xfe" + data, step), source="k.csv", fmt=CsvFormat(encoding="utf-16")))


def test_a_utf8_file_with_its_byte_order_mark_reads_as_without(tmp_path: Path) -> None:
    """utf-8 named explicitly: Excel's BOM is stripped, the records are the default's."""
    data = TRAPS.encode()
    assert records(tmp_path, b"\xef\xbb\xbf" + data, encoding="utf-8") == records(tmp_path, data)


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "utf-16"])
def test_a_file_with_utf8s_byte_order_mark_is_read_as_utf8_whatever_the_setting(tmp_path: Path, encoding: str) -> None:
    """The mark says UTF-8 (no text in the other encodings starts with it): a rejects report, written in UTF-8 with
    the mark, uploads again as it is to a pipeline set to another encoding."""
    data = "customer_id,name\n1,café “x”\n".encode()
    assert records(tmp_path, b"\xef\xbb\xbf" + data, encoding=encoding) == records(tmp_path, data)


def test_a_utf16_file_read_as_utf8_advises_the_encoding_setting(tmp_path: Path) -> None:
    """Excel's "Unicode Text": today's message, and `--encoding utf-16` as the other fix."""
    message = failure(tmp_path, "customer_id\n1\n".encode("utf-16"))
    assert message.startswith("file.csv: this is UTF-16 text, not UTF-8; save it as 'CSV UTF-8 (comma delimited)'")
    assert message.endswith(
        "or set the file's encoding (`csv-ingest --encoding utf-16`, or the stack's context `csv_encoding`)"
    )


def test_invalid_utf8_advises_the_cp1252_setting(tmp_path: Path) -> None:
    """A file Excel saved as plain "CSV" is cp1252: the message says how to read it as such."""
    message = failure(tmp_path, "customer_id,name\n1,José\n".encode("cp1252"))
    assert message.startswith("file.csv: the file is not UTF-8 text (invalid bytes on line 2)")
    assert "`csv-ingest --encoding cp1252`" in message


def test_a_csv_gz_file_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """200,000 rows (40 MB of text) decompressed as they are read: the peak stays under 1 MB (it is ~0.3 MB)."""
    data = b"customer_id,notes\n" + b"".join(b'%d,"%s"\n' % (i, b"some notes, " * 16) for i in range(200_000))
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(data))
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_records(path, source="big.csv.gz"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_001
    assert len(data) > 40_000_000
    assert peak < 1_000_000, f"peak {peak:,} bytes for {len(data):,} bytes of text"


def test_a_multi_member_gzip_file_reads_every_member(tmp_path: Path) -> None:
    """Concatenated gzip files (as `cat a.gz b.gz` makes) are one text, from a body that only has `read(n)`."""
    data = gzip.compress(b"customer_id,name\n1,Ann\n") + gzip.compress(b"2,Bob\n") + gzip.compress(b"3,Cy\n")
    read = [(r.line, r.cells) for r in read_stream(_Body(data, 7), source="k.csv.gz", gzip=True)]
    assert read == [(1, ["customer_id", "name"]), (2, ["1", "Ann"]), (3, ["2", "Bob"]), (4, ["3", "Cy"])]


def test_a_truncated_gzip_file_fails_naming_the_line_reached(tmp_path: Path) -> None:
    """A .csv.gz cut short fails with what happened and a line past the last record read, not an EOFError."""
    compressed = gzip.compress(numbered_rows(20_000))
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    last_line = 0
    with pytest.raises(IngestError, match=r"the gzip-compressed data is cut short .* in line (\d+) of") as failed:
        for record in read_records(path, source="cut.csv.gz"):
            last_line = record.line
    line = int(str(failed.value).split(" in line ")[1].split()[0])
    assert 1_000 < last_line < line < 20_001
    assert "upload the whole .csv.gz file again" in str(failed.value)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda gz: gz[:-8] + bytes(4) + gz[-4:], "incorrect data check"),  # the trailer's CRC-32
        (lambda gz: gz[:10] + b"\xff" * 8 + gz[18:], "corrupt ("),  # the first deflate block's header
    ],
    ids=["checksum", "deflate-data"],
)
def test_a_corrupt_gzip_file_fails_naming_the_problem(
    tmp_path: Path, damage: Callable[[bytes], bytes], problem: str
) -> None:
    """Damaged gzip data fails the file with zlib's reason, not a zlib.error or BadGzipFile."""
    message = failure(tmp_path, damage(gzip.compress(numbered_rows(100))), "bad.csv.gz")
    assert message.startswith("bad.csv.gz: the gzip-compressed data is corrupt")
    assert problem in message


def test_a_gz_name_on_plain_text_is_refused(tmp_path: Path) -> None:
    """A `.csv.gz` that is not gzip data says so, instead of failing inside zlib."""
    message = failure(tmp_path, b"customer_id,name\n1,Ann\n", "plain.csv.gz")
    assert message.startswith("plain.csv.gz: the file is named .gz but is not gzip-compressed")


def test_gzip_content_under_a_csv_name_advises_the_csv_gz_name(tmp_path: Path) -> None:
    """Today's message for gzip data in a `.csv`, with the name that would have it decompressed."""
    message = failure(tmp_path, gzip.compress(b"customer_id\n1\n"))
    assert message.startswith("file.csv: this is a gzip-compressed file, not CSV text; decompress it")
    assert "name it .csv.gz to have it decompressed" in message


def test_progress_of_a_gzipped_file_counts_compressed_bytes_up_to_the_file_size(tmp_path: Path) -> None:
    """Progress is in bytes of the file on disk: it rises to the compressed size, never the decompressed one.

    The file has a multiple of 1024 records, so the last report comes after the last record.
    """
    data = numbered_rows(40 * 1024 - 1)
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(data))
    reports: list[int] = []
    for _ in read_records(path, source="big.csv.gz", on_progress=reports.append):
        pass
    assert len(reports) == 40
    assert reports == sorted(reports)
    assert reports[0] < reports[-1] == path.stat().st_size < len(data) // 3


def test_gzip_cp1252_and_semicolons_together(tmp_path: Path) -> None:
    """A gzipped cp1252 semicolon file (a European Excel export, compressed) reads right."""
    data = gzip.compress('customer_id;name\n1;"Zoë; “Z”"\n2;€\n'.encode("cp1252"))
    assert records(tmp_path, data, "eu.csv.gz", delimiter=";", encoding="cp1252") == [
        (1, ["customer_id", "name"]),
        (2, ["1", "Zoë; “Z”"]),
        (3, ["2", "€"]),
    ]


@pytest.mark.parametrize(
    ("name", "delimiter", "encoding", "compress"),
    [
        ("file.csv", ";", "cp1252", False),
        ("file.csv", "|", "latin-1", False),
        ("file.csv", "\t", "utf-16", False),
        ("file.csv.gz", ",", "utf-8", True),
        ("file.csv.gz", ";", "utf-16", True),
    ],
)
def test_line_numbers_are_the_same_in_every_format(
    tmp_path: Path, name: str, delimiter: str, encoding: str, compress: bool
) -> None:
    """A quoted cell with a line break, a blank line and a lone CR number the records as in a plain UTF-8 file."""
    data = TRAPS.replace(",", delimiter).encode(encoding)
    read = records(tmp_path, gzip.compress(data) if compress else data, name, delimiter=delimiter, encoding=encoding)
    assert [line for line, _ in read] == TRAPS_LINES
    assert read[1] == (2, ["1", "two\r\nlines"])
