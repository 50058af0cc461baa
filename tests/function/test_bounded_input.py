"""Rows have a width limit, records a length limit, and the clock is looked at however the file is padded: what the
reader and the rules make of wide, long and blank input (with no AWS, but for the trigger's own setting)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from csv_ingest_engine import IngestError, IngestStopped, ingest_file
from csv_ingest_engine.bounded_lines import RECORD_CHAR_LIMIT
from csv_ingest_engine.ingest import check_file
from csv_ingest_engine.reading import read_records
from csv_ingest_engine.schema import CsvFormat
from handler import handler
from tests.support import Aws, DemoContext
from tests.support.writing import table_writer

HEADER = "customer_id,notes\n"


def write(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, newline="")
    return path


def failure(path: Path, fmt: CsvFormat | None = None) -> str:
    """What reading the whole file fails with."""
    with pytest.raises(IngestError) as failed:
        list(read_records(path, source=path.name, fmt=fmt))
    return " ".join(str(failed.value).split())


class Unwritten:
    """A DynamoDB client for files that must fail before their first write."""

    def update_item(self, **params: object) -> None:
        raise AssertionError(f"a row was written: {params}")


# -- the width limit ------------------------------------------------------------------------------------------------


def test_a_row_wider_than_max_cells_is_rejected_and_the_rest_goes_in(tmp_path: Path) -> None:
    """Empty cells past the header pass (Excel pads rows), but not past `max_cells`: that row alone is rejected,
    with its cells, and the rows around it are valid."""
    path = write(tmp_path, HEADER + "1,a,,\n2,b" + "," * 4 + "\n3,c\n")
    rejected: list[tuple[int, str, int]] = []
    result = ingest_file(
        path,
        source="f.csv",
        fmt=CsvFormat(max_cells=5),
        writer=None,
        on_reject=lambda r: rejected.append((r.line, r.reason, len(r.cells))),
    )
    assert (result.rows_written, result.rows_rejected) == (2, 1)
    assert rejected == [
        (
            3,
            "the row has 6 cells, more than the 5 a row may have (context csv_max_cells, csv-ingest --max-cells); "
            "remove the empty cells at its end (a spreadsheet exported with empty columns?), or quote the cells that "
            "contain the delimiter",
            6,
        )
    ]


def test_the_default_width_limit_is_65_536_cells(tmp_path: Path) -> None:
    """A row of 65,536 cells is read; one of 65,537 is rejected (both only empty past the header)."""
    path = write(tmp_path, HEADER + "1" + "," * 65_535 + "\n2" + "," * 65_536 + "\n")
    rejected: list[int] = []
    result = ingest_file(path, source="f.csv", writer=None, on_reject=lambda r: rejected.append(r.line))
    assert (result.rows_written, rejected) == (1, [3])


def test_a_header_wider_than_max_cells_fails_the_file(tmp_path: Path) -> None:
    """The header is every row's columns: wider than `max_cells`, the file fails before anything is written."""
    path = write(tmp_path, "customer_id,a,b,,\n1,x,y\n")
    with pytest.raises(IngestError) as failed:
        ingest_file(path, source="f.csv", fmt=CsvFormat(max_cells=4), writer=table_writer(Unwritten()))
    assert str(failed.value).startswith(
        "f.csv: the header row has 5 cells, more than the 4 a row may have (context csv_max_cells"
    )


def test_a_row_of_a_million_cells_over_quoted_line_breaks_fails_without_being_held(tmp_path: Path) -> None:
    """Every physical line short, the record endless: cells that each hold a line break. The record is not held past
    the bound, and its width is what the file fails for (a report could not hold the row whole)."""
    path = write(tmp_path, HEADER + "1," + '"\n",' * 1_000_000 + "\n2,b\n")
    assert failure(path).startswith(
        "f.csv: the row has more cells than the 65,536 a row may have (context csv_max_cells, csv-ingest "
        "--max-cells); remove the empty cells at its end (a spreadsheet exported with empty columns?), or quote the "
        f"cells that contain the delimiter. It starts on line 2 and is longer than {RECORD_CHAR_LIMIT:,} characters, "
        "the most of a row that is read, so the file fails rather than the row alone being rejected"
    )


# -- the length limit -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
def test_a_record_of_exactly_the_bound_is_read_and_one_character_more_is_not(tmp_path: Path, line_end: str) -> None:
    """The bound counts every character of the record, its line end too, whichever line end it is."""
    cells = RECORD_CHAR_LIMIT - len(line_end) - len("1,")
    at_bound = write(tmp_path, f"{HEADER}1,{'x' * (cells // 2)},{'y' * (cells - cells // 2 - 1)}{line_end}2,b\n")
    assert [(r.line, len(r.cells)) for r in read_records(at_bound, source="f.csv")] == [(1, 2), (2, 3), (3, 2)]
    over = write(tmp_path, f"{HEADER}1,{'x' * (cells // 2)},{'y' * (cells - cells // 2)}{line_end}2,b\n")
    assert f"f.csv: the row that starts on line 2 is longer than {RECORD_CHAR_LIMIT:,} characters" in failure(over)


def test_a_long_line_of_short_cells_fails_naming_its_length_and_what_makes_a_row_that_long(tmp_path: Path) -> None:
    """Three cells under the field limit, 2.2 million characters: no cell is over the limit, so the message says
    the row is too long, why a row DynamoDB can take is shorter, and what may make one longer."""
    path = write(tmp_path, HEADER + "1," + ",".join("x" * 1_000_000 for _ in range(3)) + "\n")
    assert failure(path) == (
        f"f.csv: the row that starts on line 2 is longer than {RECORD_CHAR_LIMIT:,} characters, the most of a row "
        "that is read. A row DynamoDB can take is shorter (its item is at most 400 KB: twice that with every quote "
        "doubled, plus a delimiter and two quotes per cell, stays under it) unless cells are written far longer than "
        "their value (whitespace around a key, a number, a boolean or JSON): remove that, or split the row"
    )


def test_a_quote_opened_late_in_a_long_line_is_named_as_never_closed(tmp_path: Path) -> None:
    """A quoted cell that opens 1.3 million characters in and is still open at the bound (not yet over the field
    limit): the message says a quoted cell is open there, a quote that is never closed."""
    path = write(tmp_path, HEADER + "1," + "x" * 900_000 + "," + "x" * 400_000 + ',"' + "y" * 2_000_000)
    assert failure(path).startswith(
        f"f.csv: malformed CSV in the row that starts on line 2: the row is longer than {RECORD_CHAR_LIMIT:,} "
        "characters, the most of a row that is read, and a quoted cell is still open there; a quote that is never "
        "closed?. A cell that contains commas, quotes or line breaks must be enclosed in double quotes"
    )


@pytest.mark.parametrize("opening", ["", '"', 'id,"'])
def test_a_long_line_fails_with_the_field_limit(tmp_path: Path, opening: str) -> None:
    """A cell over the field limit in a line over the bound, quoted or not, fails with the field limit's message
    (and its hint at a quote never closed), as a shorter one always did."""
    path = write(tmp_path, opening + "a" * 3_000_000)
    assert failure(path).startswith(
        "f.csv: malformed CSV in the row that starts on line 1: field larger than field limit (1048576). A cell that "
    )
    assert failure(path).endswith("a cell over 1024 KiB usually means a quote that is never closed")


def test_malformed_quoting_in_a_long_line_is_named(tmp_path: Path) -> None:
    """Text after a closing quote in the first characters of an over-long record: the csv module's own message."""
    path = write(tmp_path, HEADER + '1,"x"y,' + "z" * 3_000_000)
    assert failure(path).startswith(
        "f.csv: malformed CSV in the row that starts on line 2: ',' expected after '\"'. A cell that contains"
    )


# -- the clock ------------------------------------------------------------------------------------------------------


def blank_padded(tmp_path: Path, blank_lines: int = 1_000_000) -> Path:
    """A header, a million blank lines, then one row."""
    return write(tmp_path, "customer_id,name\n" + "\n" * blank_lines + "1,Ann\n")


def test_validating_looks_at_the_clock_in_blank_lines(tmp_path: Path) -> None:
    """Time out while blank lines are read: the run stops inside them (before the one row after them), instead of
    reading on until no time is left."""
    with pytest.raises(IngestStopped) as stopped:
        ingest_file(blank_padded(tmp_path), source="f.csv", writer=None, should_stop=lambda: True)
    assert 2 <= stopped.value.first_missing_line <= 1_000_001


def test_the_first_pass_looks_at_the_clock_in_blank_lines(tmp_path: Path) -> None:
    """The first pass before any write stops in the blank lines too, saying nothing was written."""
    with pytest.raises(IngestStopped, match="before the first row was written"):
        check_file(blank_padded(tmp_path), source="f.csv", should_stop=lambda: True)


def test_a_line_of_blank_cells_counts_toward_the_clock(tmp_path: Path) -> None:
    """Lines of delimiters only are blank rows too, and their characters count: two of them pass 256 KiB, so five
    are read with two looks at the clock, and the run stops inside them at the second."""
    path = write(tmp_path, "customer_id,name\n" + ("," * 200_000 + "\n") * 5 + "1,Ann\n")
    calls: list[int] = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(IngestStopped) as stopped:
        ingest_file(path, source="f.csv", writer=None, should_stop=should_stop)
    assert len(calls) == 2
    assert stopped.value.first_missing_line in range(2, 7)


@pytest.mark.parametrize(
    "padding",
    [
        gzip.compress(b"") * 200_000,  # 200,000 empty gzip members, 20 bytes each
        b"\0" * (8 * 1024 * 1024),  # zeros after the member (gzip's tape-block padding)
    ],
    ids=["empty members", "zero padding"],
)
def test_gzip_data_that_inflates_to_nothing_counts_toward_the_clock(tmp_path: Path, padding: bytes) -> None:
    """Compressed data that yields no text gives the reader no line to look at the clock for; the compressed bytes
    read count instead: the first pass stops inside them, before the row after them."""
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress(b"customer_id,name\n") + padding + gzip.compress(b"1,Ann\n"))
    calls: list[int] = []

    def should_stop() -> bool:
        calls.append(1)
        return True

    with pytest.raises(IngestStopped, match="before the first row was written"):
        check_file(path, source="f.csv.gz", should_stop=should_stop)
    assert calls == [1]
    # Without the clock, the file is read to its end.
    assert check_file(path, source="f.csv.gz")[1] == 1


def test_the_trigger_rejects_rows_wider_than_its_setting(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CSV_MAX_CELLS=3 (context csv_max_cells): the row of 4 cells is rejected and reported, the others written."""
    monkeypatch.setenv("CSV_MAX_CELLS", "3")
    version = aws.upload("w.csv", "customer_id,name\n1,Ann,\n2,Bob,,\n3,Cy\n")
    summary = handler(aws.event("w.csv", version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (2, 1)
    assert sorted(aws.items()) == ["1", "3"]
    (report,) = aws.reports().values()
    assert report.splitlines()[1].startswith('2,Bob,3,"the row has 4 cells, more than the 3 a row may have')
