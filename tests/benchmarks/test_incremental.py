"""benchmarks/run.py --incremental (benchmarks/incremental.py): the re-uploaded file, the issue's targets, the stub's
snapshot of the table, and the merge half of the scenario, run small."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from incremental import Case, change_rows, targets
from run import Stub, generate_csv

from tests.cli.runner import ROOT
from tests.support.writing import CREDENTIALS

SCRIPT = ROOT / "benchmarks" / "run.py"


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


@pytest.mark.parametrize(("percent", "changed"), [(1, 10), (12.5, 125), (100, 1000)])
def test_the_re_upload_changes_one_cell_of_the_share_of_rows_asked(
    tmp_path: Path, percent: float, changed: int
) -> None:
    """The second file is the first with `percent` of its rows changed, each in exactly one cell that is not the key."""
    # given
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    generate_csv(first, 1000, 10)
    # when
    count = change_rows(first, second, percent)
    # then
    before, after = _rows(first), _rows(second)
    assert before[0] == after[0] and len(before) == len(after)
    differing = [(old, new) for old, new in zip(before[1:], after[1:], strict=True) if old != new]
    assert count == len(differing) == changed
    for old, new in differing:
        assert old[0] == new[0]
        assert sum(a != b for a, b in zip(old, new, strict=True)) == 1


def _result(rows_per_s: float, dollars: float) -> dict[str, Any]:
    return {"rows": 100_000, "seconds": 100_000 / rows_per_s, "counted": {"dollars": dollars}}


@pytest.mark.parametrize(
    ("changed_at_1", "changed_at_100", "passed"),
    [
        (_result(5_000, 0.15), _result(800, 1.2), [True, True, True]),  # each exactly at its bound
        (_result(4_990, 0.15), _result(800, 1.2), [False, True, True]),
        (_result(5_000, 0.1501), _result(800, 1.2), [True, False, True]),
        (_result(5_000, 0.15), _result(799, 1.2), [True, True, False]),
    ],
)
def test_the_targets_pass_at_their_bounds_and_fail_beyond(
    changed_at_1: dict[str, Any], changed_at_100: dict[str, Any], passed: list[bool]
) -> None:
    """At 1% changed: `changed` >= 5x merge's rows/s, <= 15% of its dollars; at 100%: >= 0.8x its rows/s."""
    results: dict[Case, dict[str, Any]] = {
        ("merge", 1.0): _result(1_000, 1.0),
        ("changed", 1.0): changed_at_1,
        ("merge", 100.0): _result(1_000, 1.0),
        ("changed", 100.0): changed_at_100,
    }
    assert [verdict.passed for verdict in targets(results)] == passed


def test_no_target_is_judged_without_both_modes() -> None:
    """A run of one mode (the merge half alone) has nothing to compare: no verdict, no failure."""
    assert targets({("merge", 1.0): _result(1_000, 1.0), ("merge", 100.0): _result(1_000, 1.0)}) == []


def test_the_stub_restores_its_snapshot_and_digests_its_items() -> None:
    """The benchmark's stub process, driven over its stdin: `restore` brings back the items `snapshot` kept and
    zeroes the counters; `digest` leaves out the attributes named (two tables differing only there digest alike)."""
    stub = Stub(latency_ms=0)
    try:
        client = boto3.client("dynamodb", endpoint_url=stub.url, **CREDENTIALS)
        client.put_item(TableName="t", Item={"customer_id": {"S": "a"}, "v": {"S": "1"}, "o": {"S": "x"}})
        stub.command("snapshot")
        kept, kept_without_o = stub.command("digest"), stub.command("digest o")
        client.put_item(TableName="t", Item={"customer_id": {"S": "b"}, "v": {"S": "2"}})
        assert stub.command("digest")["items"] == 2
        counted = stub.command("restore")
        assert (counted["requests"], counted["write_units"]) == (0, 0)
        assert stub.command("digest") == kept
        assert kept["items"] == 1
        client.put_item(TableName="t", Item={"customer_id": {"S": "a"}, "v": {"S": "1"}, "o": {"S": "z"}})
        assert stub.command("digest") != kept
        assert stub.command("digest o") == kept_without_o
    finally:
        stub.stop()


def test_a_mode_the_engine_lacks_is_refused_before_anything_runs() -> None:
    """Asked for a write mode this checkout's engine does not have (`changed` before it is merged), the scenario
    exits 2 at once, naming it and the modes there are."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--incremental", "merge,nosuch"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "this engine has no write mode nosuch (it has merge, replace" in result.stderr
    assert "--incremental merge" in result.stderr
    assert result.stdout == ""


def test_the_merge_half_runs_and_its_loads_leave_the_changed_files_table() -> None:
    """`--incremental merge`, small: the first load and both re-uploads (1% and 100% changed) write every row, each
    a unit, the table then holds exactly the re-uploaded file (the script checks it), and it exits 0."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--incremental", "merge", "--rows", "300", "--repeat", "1", "--latency-ms", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CHECK FAILED" not in result.stderr
    lines = result.stdout.splitlines()
    assert "first load (merge, empty table):" in lines[1] and "300 write units, $0.000188" in lines[1]
    table = [line.split() for line in lines[3:5]]
    # mode, changed, runs, rows/s, CPU us/row, reads, writes, read units, write units, dollars, $ per 1M rows
    assert [(row[0], row[1], row[5], row[6], row[7], row[8], row[9], row[10]) for row in table] == [
        ("merge", f"{percent}%", "0", "300", "0.0", "300", "0.000188", "0.6250") for percent in (1, 100)
    ]
