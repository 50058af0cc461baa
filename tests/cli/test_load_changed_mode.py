"""`csv-ingest load --mode changed`: a file loaded again writes only its changed rows and says how many were
unchanged, in the summary and --json; `--workers N` leaves the table and counts of one process, and the table merge
would; `--consistent-reads` goes with --mode changed only; `validate` and `demo` take the mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from csv_ingest_engine.constants import DEFAULT_KEY_COLUMN, EXIT_USAGE
from tests.cli.runner import SAMPLES, TABLE, run
from tests.support import Endpoint, create_table
from tests.support.dynamodb import table_items

KEYS = 97
SECOND_ROWS = KEYS * 6 + 1
FIRST = "customer_id,name,city\n" + "".join(f"k{i},name {i},city {i}\n" for i in range(KEYS))


def second_export(path: Path) -> Path:
    """FIRST again, with every 7th customer renamed, then each key five times more, a third of them moved (rows of a
    key in file order), and a new key: SECOND_ROWS rows over KEYS + 1 keys."""
    lines = [f"k{i},{'Name' if i % 7 == 0 else 'name'} {i},city {i}" for i in range(KEYS)]
    lines += [f"k{i},,{'moved' if i % 3 == 0 else 'city'} {i}" for i in range(KEYS)] * 5
    path.write_text("customer_id,name,city\n" + "\n".join(lines) + "\nk999,Di,Kyiv\n")
    return path


def first_export(path: Path) -> Path:
    path.write_text(FIRST)
    return path


def summary(output: str) -> dict[str, Any]:
    """--json's object, without what differs from run to run (the time)."""
    outcome: dict[str, Any] = json.loads(output)
    del outcome["seconds"]
    return outcome


def test_a_second_load_writes_only_the_changed_rows_and_says_how_many_were_unchanged(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    """The summary line names the unchanged rows; exit 0."""
    # given
    source = first_export(tmp_path / "customers.csv")
    assert run("load", source, "--table", endpoint.table).exit_code == 0
    source.write_text(FIRST.replace("k5,name 5,city 5", "k5,name 5,Oslo"))
    # when
    result = run("load", source, "--table", endpoint.table, "--mode", "changed")
    # then
    assert result.exit_code == 0, result.output
    assert f"{source}: 1 row written, 96 unchanged, 0 rejected (" in " ".join(result.output.split())
    assert endpoint.items()["k5"]["city"] == "Oslo"


def test_workers_leave_the_table_and_counts_of_one_process_and_the_table_of_merge(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    """The same two exports into three tables: the second loaded by merge, by changed in one process and by changed
    in two. Every table ends the same; the two changed loads give the same --json; changed's written and unchanged
    rows together are merge's written ones."""
    # given
    first, second = first_export(tmp_path / "first.csv"), second_export(tmp_path / "second.csv")
    tables = {name: f"{endpoint.table}-{name}" for name in ("merge", "one", "two")}
    for table in tables.values():
        create_table(endpoint.dynamodb, table, DEFAULT_KEY_COLUMN)
    try:
        for table in tables.values():
            assert run("load", first, "--table", table, "--workers", "1").exit_code == 0
        # when
        merge = run("load", second, "--table", tables["merge"], "--workers", "1", "--json")
        one = run("load", second, "--table", tables["one"], "--mode", "changed", "--workers", "1", "--json")
        two = run("load", second, "--table", tables["two"], "--mode", "changed", "--workers", "2", "--json")
        # then
        assert (merge.exit_code, one.exit_code, two.exit_code) == (0, 0, 0), merge.output + one.output + two.output
        contents = {name: table_items(endpoint.dynamodb, table, DEFAULT_KEY_COLUMN) for name, table in tables.items()}
        assert contents["one"] == contents["merge"] == contents["two"]
        assert contents["merge"]["k21"] == {"customer_id": "k21", "name": "Name 21", "city": "moved 21"}
        assert summary(two.output) == summary(one.output)
        changed, merged = summary(one.output), summary(merge.output)
        assert changed["rows_written"] + changed["rows_unchanged"] == merged["rows_written"] == SECOND_ROWS
        assert 0 < changed["rows_written"] < changed["rows_unchanged"]
        assert merged["rows_unchanged"] == 0
    finally:
        for table in tables.values():
            endpoint.dynamodb.delete_table(TableName=table)


def test_consistent_reads_needs_mode_changed(tmp_path: Path) -> None:
    """A usage error (exit 64) before anything is read: merge and replace read nothing back."""
    result = run("load", first_export(tmp_path / "c.csv"), "--table", TABLE, "--consistent-reads")
    assert result.exit_code == EXIT_USAGE, result.output
    assert "--consistent-reads applies to --mode changed only (this is --mode merge)" in result.output


def test_consistent_reads_loads_with_mode_changed(endpoint: Endpoint, tmp_path: Path) -> None:
    source = first_export(tmp_path / "customers.csv")
    result = run("load", source, "--table", endpoint.table, "--mode", "changed", "--consistent-reads", "--json")
    assert result.exit_code == 0, result.output
    assert (summary(result.output)["rows_written"], summary(result.output)["rows_unchanged"]) == (KEYS, 0)


@pytest.mark.parametrize("mode", ["merge", "changed"])
def test_validate_takes_mode_changed_and_checks_as_merge_does(tmp_path: Path, mode: str) -> None:
    """validate writes nothing either way; in changed the rows that are written are merge's, checked the same."""
    result = run("validate", second_export(tmp_path / "c.csv"), "--mode", mode, "--json")
    assert result.exit_code == 0, result.output
    assert (summary(result.output)["rows_valid"], summary(result.output)["rows_unchanged"]) == (SECOND_ROWS, 0)


def test_the_demo_runs_the_functions_in_mode_changed() -> None:
    """`demo --mode changed`: the stack's functions with write_mode=changed, on an empty table: every row new."""
    result = run("demo", SAMPLES / "sample-good.csv", "--mode", "changed")
    assert result.exit_code == 0, result.output
    assert "5 rows written, 0 rejected." in " ".join(result.output.split())
