"""`csv-ingest validate` on hostile files: the reason on stdout (with --json too) and exit 1, in bounded memory; and
--max-cells, the widest row it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csv_ingest_engine.constants import EXIT_FAILED, EXIT_REJECTED, EXIT_USAGE
from tests.cli.runner import run
from tests.support.hostile_files import GIB, MIB, repeated_gzip, run_measured, sparse_line

PEAK_MIB = 300
VALIDATE = ["cli", "validate"]
FIELD_LIMIT = "malformed CSV in the row that starts on line 1: field larger than field limit (1048576)"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize("gzipped", [False, True])
def test_validate_fails_a_line_of_a_gib_with_the_field_limit_in_bounded_memory(
    folder: Path, tmp_path: Path, gzipped: bool, as_json: bool
) -> None:
    """A single line of 1 GiB: exit 1 and the field-limit message (with --json, in the one JSON object on stdout),
    within a few hundred MiB (the line took 2.2 GB before, and a MemoryError at 4 GiB printed nothing)."""
    # given
    if gzipped:
        path = repeated_gzip(folder / "line.csv.gz", b"a" * MIB, 1024)
    else:
        path = sparse_line(folder / "line.csv", size=GIB, written=b"a" * (8 * MIB))
    # when
    result = run_measured([*VALIDATE, str(path), *(["--json"] if as_json else [])], cwd=tmp_path)
    # then
    assert result.exit_code == EXIT_FAILED, result.stderr[-2000:]
    if as_json:
        assert json.loads(result.stdout)["error"].startswith(f"{path}: {FIELD_LIMIT}")
    else:
        assert f"failed: {path}: {FIELD_LIMIT}" in " ".join(result.stderr.split())
    assert result.peak_mib < PEAK_MIB, f"peak {result.peak_mib:,.0f} MiB"


def test_validate_fails_a_header_of_268_million_cells_in_bounded_memory(folder: Path, tmp_path: Path) -> None:
    """A 261 KB .csv.gz of one row of 268 million cells: exit 1 naming the limit and its setting, in a few hundred
    MiB (the row took 4.3 GB before, and passed as a header-only file)."""
    path = repeated_gzip(folder / "wide.csv.gz", b"," * MIB, 256, head=b"customer_id")
    result = run_measured([*VALIDATE, str(path), "--json"], cwd=tmp_path)
    assert result.exit_code == EXIT_FAILED, result.stderr[-2000:]
    assert json.loads(result.stdout)["error"].startswith(
        f"{path}: the header row has more cells than the 65,536 a row may have (context csv_max_cells, "
        "csv-ingest --max-cells)"
    )
    assert result.peak_mib < PEAK_MIB, f"peak {result.peak_mib:,.0f} MiB"


def test_max_cells_rejects_a_wider_row(tmp_path: Path) -> None:
    """--max-cells 5: a row of 6 cells (empty ones past the header, which pass otherwise) is rejected, exit 2."""
    path = tmp_path / "padded.csv"
    path.write_text("customer_id,name\n1,Ann,,,\n2,Bob,,,,\n")
    result = run("validate", path, "--max-cells", "5", "--json")
    assert result.exit_code == EXIT_REJECTED, result.output
    outcome = json.loads(result.stdout)
    assert outcome["rows_valid"] == 1
    (rejection,) = outcome["rejected_rows"]
    assert rejection["line"] == 3
    assert rejection["reason"].startswith("the row has 6 cells, more than the 5 a row may have")


@pytest.mark.parametrize("value", ["0", "409601", "many"])
def test_max_cells_out_of_range_is_a_usage_error(tmp_path: Path, value: str) -> None:
    """--max-cells goes from 1 to 409,600 (the most attributes a 400 KB item could hold): others exit 64."""
    path = tmp_path / "f.csv"
    path.write_text("customer_id\n1\n")
    result = run("validate", path, "--max-cells", value)
    assert result.exit_code == EXIT_USAGE, result.output
    assert "is not a number of cells from 1 to 409,600" in result.output
