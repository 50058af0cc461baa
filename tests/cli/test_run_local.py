"""`./run-local.sh FILE` (`csv-ingest demo`), as a newcomer runs it: paths, file names, long files."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from csv_ingest.cli import output
from tests.cli.runner import ROOT, run


def _customers(path: Path, rows: int) -> Path:
    path.write_text("customer_id,name\n" + "".join(f"{i:05},n{i}\n" for i in range(rows)))
    return path


def test_run_local_reads_a_relative_path_from_the_callers_folder(tmp_path: Path) -> None:
    """`./run-local.sh mine.csv` run from another folder ingests that folder's mine.csv, not one in the repository."""
    _customers(tmp_path / "mine.csv", 3)
    completed = subprocess.run(
        [str(ROOT / "run-local.sh"), "mine.csv"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Handler summary: 3 rows written, 0 rejected." in completed.stdout


def test_demo_of_a_file_not_named_csv_says_the_pipeline_needs_csv(tmp_path: Path) -> None:
    """A file whose name does not end in .csv fails with exit 1 and says why, instead of a traceback."""
    path = _customers(tmp_path / "customers.txt", 3)
    result = run("demo", path)
    assert result.exit_code == 1, result.output
    assert f"failed: {path}: the pipeline only ingests files whose name ends in .csv" in " ".join(result.output.split())


def test_demo_prints_the_first_20_items_and_how_many_more(tmp_path: Path) -> None:
    """A long file prints 20 items of the table and a count of the others, not every item."""
    result = run("demo", _customers(tmp_path / "many.csv", 30))
    assert result.exit_code == 0, result.output
    items = [line for line in result.output.splitlines() if re.match(r"│ \d{5} ", line)]
    assert len(items) == 20
    assert "(30 items)" in result.output
    assert "… and 10 more" in result.output


def test_demo_shows_progress_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal, the demo draws the same progress bar as `load` (rows, rows/s) while the handler runs."""
    screen = io.StringIO()
    monkeypatch.setattr(output, "out", Console(file=screen, force_terminal=True, width=120))
    result = run("demo", _customers(tmp_path / "many.csv", 100))
    assert result.exit_code == 0, result.output
    drawn = screen.getvalue()
    assert "━" in drawn
    assert re.search(r"[\d,]+ rows, [\d,]+ rows/s", drawn)
