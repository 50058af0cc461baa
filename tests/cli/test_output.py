"""What `load` and `validate` print: counts a person reads, JSON a script reads, the version."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from csv_ingest.cli.outcome import Outcome, shown_rejections
from csv_ingest.cli.output import print_outcome
from csv_ingest_engine import FileResult, IngestError, IngestStopped, Rejection
from tests.cli.runner import SAMPLES, run
from tests.support import Endpoint


def _keyless(tmp_path: Path, rows: int) -> Path:
    """A file of `rows` rows with no key, each rejected."""
    path = tmp_path / "keyless.csv"
    path.write_text("customer_id,name\n" + "".join(f",n{i}\n" for i in range(rows)))
    return path


def test_version_prints_the_installed_version() -> None:
    """`csv-ingest --version` prints the package's version and exits 0."""
    result = run("--version")
    assert result.exit_code == 0, result.output
    assert result.output == f"csv-ingest {importlib.metadata.version('csv-ingest')}\n"


def test_one_row_is_counted_in_the_singular(tmp_path: Path) -> None:
    """ "1 row valid", not "1 rows valid"."""
    path = tmp_path / "one.csv"
    path.write_text("customer_id,name\n1,Ann\n")
    result = run("validate", path)
    assert result.exit_code == 0, result.output
    assert f"{path}: 1 row valid, 0 rejected" in result.output


def test_counts_of_rejected_rows_have_thousands_separators(tmp_path: Path) -> None:
    """Every count a person reads is grouped by thousands, the --rejects line included."""
    rejects = tmp_path / "rejects.csv"
    result = run("validate", _keyless(tmp_path, 1200), "--rejects", rejects)
    assert result.exit_code == 2, result.output
    assert "0 rows valid, 1,200 rejected" in result.output
    assert f"All 1,200 rejected rows are in {rejects}" in " ".join(result.output.split())


def test_more_rejections_than_shown_point_to_the_rejects_option(tmp_path: Path) -> None:
    """Past the first 20 rejected rows, the message names --rejects, which writes them all."""
    result = run("validate", _keyless(tmp_path, 25))
    assert result.exit_code == 2, result.output
    assert "… and 5 more: add --rejects FILE to write every rejected row" in " ".join(result.output.split())


def test_validate_json_prints_the_outcome_as_one_object(tmp_path: Path) -> None:
    """`validate --json`: stdout is exactly one JSON object with the counts and the first rejected rows."""
    source = SAMPLES / "edge-rejected-rows.csv"
    result = run("validate", source, "--json")
    assert result.exit_code == 2, result.output
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("source", "status", "exit_code", "rows_valid", "rows_rejected")} == {
        "source": str(source),
        "status": "rejected",
        "exit_code": 2,
        "rows_valid": 3,
        "rows_rejected": 3,
    }
    assert [(row["line"], row["key"]) for row in summary["rejected_rows"]] == [(3, None), (4, None), (5, "202")]


def test_load_json_prints_only_the_object(endpoint: Endpoint) -> None:
    """`load --json` prints no table or progress: stdout parses as JSON, with the rows written."""
    result = run("load", SAMPLES / "sample-good.csv", "--table", endpoint.table, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["rows_written"], summary["rows_rejected"]) == ("ok", 5, 0)
    assert result.stderr == ""


def test_json_of_a_failed_file_carries_the_error() -> None:
    """A file that fails as a whole still gives one JSON object, with status "failed" and the message."""
    result = run("validate", SAMPLES / "sample-bad.csv", "--json")
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["exit_code"]) == ("failed", 1)
    assert "no 'customer_id' column" in summary["error"]


def _outcome() -> Outcome:
    return Outcome("customers.csv", "written", 1.0, shown_rejections(20))


def test_a_failed_load_counts_the_rows_it_superseded_first(capsys: pytest.CaptureFixture[str]) -> None:
    """A load that fails after some rows were superseded says how many, on stderr and in --json; exit 1."""
    outcome = _outcome()
    problem = "writing line 9 to DynamoDB table 't' failed (AccessDenied); 4 rows were written"
    outcome.failed(IngestError("customers.csv", problem, rows_written=4, rows_superseded=3))
    assert print_outcome(outcome, as_json=False) == 1
    said = " ".join(capsys.readouterr().err.split())
    assert f"failed: customers.csv: {problem}" in said
    assert "Before that, 3 rows superseded (their items hold a newer upload's rows)." in said
    assert print_outcome(outcome, as_json=True) == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["status"], summary["rows_written"], summary["rows_superseded"]) == ("failed", None, 3)


def test_an_interrupted_load_counts_the_rows_it_superseded(capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C's message and --json count the superseded rows beside the written and rejected ones; exit 130."""
    outcome = _outcome()
    outcome.interrupted(
        IngestStopped(
            "customers.csv", "stopped", rows_written=10, rows_rejected=1, rows_failed=0, first_missing_line=40,
            rows_superseded=2,
        )
    )  # fmt: skip
    assert print_outcome(outcome, as_json=False) == 130
    said = " ".join(capsys.readouterr().err.split())
    assert "Ctrl-C stopped customers.csv before line 40: 10 rows written, 2 superseded, 1 rejected; queued" in said
    assert print_outcome(outcome, as_json=True) == 130
    summary = json.loads(capsys.readouterr().out)
    assert (summary["status"], summary["rows_written"], summary["rows_superseded"]) == ("interrupted", 10, 2)


def test_an_interrupted_loads_report_is_said_to_hold_every_row_rejected_so_far(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After Ctrl-C the report holds rejections from past the first missing line too (rows are read ahead of the
    writes): the message says so, rather than "rejected before that"; exit 130."""
    outcome = _outcome()
    for line in (3, 9, 55, 60):  # two from before line 40, two from after it
        outcome.rejections.add(Rejection(line, None, "the 'customer_id' cell is empty", []))
    outcome.report = tmp_path / "rejects.csv"
    outcome.interrupted(
        IngestStopped(
            "customers.csv", "stopped", rows_written=10, rows_rejected=4, rows_failed=0, first_missing_line=40
        )
    )
    assert print_outcome(outcome, as_json=False) == 130
    said = " ".join(capsys.readouterr().err.split())
    assert said.endswith(
        f"The 4 rows rejected so far are in {outcome.report}: every rejected row before line 40, and the rejected "
        "ones from line 40 on that were read before the load stopped."
    )


def test_one_superseded_row_is_named_in_the_singular_and_counted_in_the_rate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The summary names a single superseded row as one; it was settled like the others (5 rows in 1 s); exit 0."""
    outcome = _outcome()
    outcome.result = FileResult(rows_written=4, rows_superseded=1)
    assert print_outcome(outcome, as_json=False) == 0
    assert " ".join(capsys.readouterr().out.split()) == (
        "customers.csv: 4 rows written, 0 rejected (1.0 s, 5 rows/s); 1 row superseded (its item holds a newer "
        "upload's row)"
    )
