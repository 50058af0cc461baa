"""`--delete-column` on load, validate and demo: rows marked true delete their items, in one process or several,
counted in the summary and --json; a column that cannot be the marker is a usage error."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from csv_ingest.cli.dispatch import Dispatch
from csv_ingest.cli.outcome import Outcome, shown_rejections
from csv_ingest.cli.worker_pool import WorkerPool
from csv_ingest.cli.worker_process import WorkerEnd
from csv_ingest_engine import IngestStopped
from csv_ingest_engine.constants import DEFAULT_KEY_COLUMN, DEFAULT_ORDER_ATTRIBUTE
from csv_ingest_engine.partitioning import partition_of
from tests.cli.runner import TABLE, run
from tests.support import Endpoint, create_table
from tests.support.dynamodb import table_items

MARKER = "_deleted"
ACCEPTED = "use true, false or an empty cell, in any case"
KEYS = 23
# Lines whose marker is neither true, false nor empty (rejected).
UNKNOWN = {40: "yes", 333: "deleted"}


def _said(output: str) -> str:
    """The output as one line: rich wraps long lines at the runner's width."""
    return " ".join(output.split())


def _summary(output: str) -> dict[str, Any]:
    """--json's object, without what differs from run to run (the time)."""
    summary: dict[str, Any] = json.loads(output)
    del summary["seconds"]
    return summary


def _changes(path: Path) -> Path:
    path.write_text(f"customer_id,name,{MARKER}\n1,,true\n2,Bob,TRUE\n3,Cy, True \n4,Dina,false\n5,Ed,\n6,Fay,yes\n")
    return path


def _recurring(path: Path, rows: int = 600) -> tuple[Path, dict[str, dict[str, str]]]:
    """`rows` rows over KEYS keys recurring from the first line to the last, every fifth one a delete; the table a
    load must leave (each key's rows in file order)."""
    lines = [f"customer_id,name,city,{MARKER}"]
    items: dict[str, dict[str, str]] = {}
    for i in range(rows):
        line, key = len(lines) + 1, f"k{i % KEYS}"
        marker = UNKNOWN.get(line) or ("true" if i % 5 == 2 else "")
        name, city = f"name {i}", "" if i % 3 else f"city {i}"
        lines.append(f"{key},{name},{city},{marker}")
        if line in UNKNOWN:
            continue
        if marker:
            items.pop(key, None)
        else:
            items.setdefault(key, {DEFAULT_KEY_COLUMN: key, "name": name}).update(
                {"name": name, **({"city": city} if city else {})}
            )
    path.write_text("\n".join(lines) + "\n")
    return path, items


def test_load_deletes_the_rows_marked_true_and_counts_them(endpoint: Endpoint, tmp_path: Path) -> None:
    """The table, the exit code (a row was rejected for its marker) and --json's counts."""
    # given
    base = tmp_path / "base.csv"
    base.write_text("customer_id,name\n1,Ann\n2,Bob\n3,Cy\n4,Di\n")
    assert run("load", base, "--table", endpoint.table).exit_code == 0
    # when
    result = run(
        "load", _changes(tmp_path / "changes.csv"), "--table", endpoint.table, "--delete-column", MARKER, "--json"
    )
    # then
    assert result.exit_code == 2, result.output
    summary = _summary(result.output)
    assert (summary["rows_written"], summary["rows_deleted"], summary["rows_rejected"]) == (2, 3, 1)
    assert summary["rejected_rows"] == [
        {
            "line": 7,
            "key": "6",
            "reason": f"column '{MARKER}' (the delete marker): 'yes' is not a delete marker ({ACCEPTED})",
        }
    ]
    assert endpoint.items() == {
        "4": {"customer_id": "4", "name": "Dina"},
        "5": {"customer_id": "5", "name": "Ed"},
    }


def test_loads_summary_says_how_many_rows_deleted_their_items(endpoint: Endpoint, tmp_path: Path) -> None:
    source = tmp_path / "changes.csv"
    source.write_text(f"customer_id,name,{MARKER}\n1,Ann,\n1,,true\n2,,true\n")
    result = run("load", source, "--table", endpoint.table, "--delete-column", MARKER)
    assert result.exit_code == 0, result.output
    assert "changes.csv: 1 row written, 0 rejected (" in _said(result.output)
    assert _said(result.output).endswith("rows/s); 2 rows deleted their items")
    assert endpoint.items() == {}


def test_two_workers_delete_as_one_does(endpoint: Endpoint, tmp_path: Path) -> None:
    """Keys recurring over the whole file with deletes among their rows: `--workers 2` leaves the table, the report
    and the --json of `--workers 1`, and the table each key's rows make in file order."""
    # given
    source, expected = _recurring(tmp_path / "customers.csv")
    assert {partition_of(f"k{i}", 2) for i in range(KEYS)} == {0, 1}
    rejects = tmp_path / "rejects.csv"
    one_table = f"{endpoint.table}-one"
    create_table(endpoint.dynamodb, one_table, DEFAULT_KEY_COLUMN)
    args: list[str | Path] = ["--delete-column", MARKER, "--rejects", rejects, "--json"]
    try:
        # when
        one = run("load", source, "--table", one_table, "--workers", "1", *args)
        one_report = rejects.read_bytes()
        two = run("load", source, "--table", endpoint.table, "--workers", "2", *args)
        # then
        assert (one.exit_code, two.exit_code) == (2, 2), one.output + two.output
        assert endpoint.items() == table_items(endpoint.dynamodb, one_table, DEFAULT_KEY_COLUMN) == expected
        assert rejects.read_bytes() == one_report
        assert _summary(two.output) == _summary(one.output)
        assert (_summary(two.output)["rows_deleted"], _summary(two.output)["rows_rejected"]) == (120, len(UNKNOWN))
    finally:
        endpoint.dynamodb.delete_table(TableName=one_table)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_backfills_deletes_leave_newer_items_and_count_them_superseded(
    endpoint: Endpoint, tmp_path: Path, workers: str
) -> None:
    """A load `--as-of` an older moment deletes no item a newer load wrote: those deletes are superseded."""
    newer = tmp_path / "newer.csv"
    newer.write_text("customer_id,name\n" + "".join(f"k{i},new\n" for i in range(0, 40, 2)))
    assert run("load", newer, "--table", endpoint.table).exit_code == 0
    older = tmp_path / "older.csv"
    older.write_text(f"customer_id,{MARKER}\n" + "".join(f"k{i},true\n" for i in range(40)))
    result = run(
        "load", older, "--table", endpoint.table, "--delete-column", MARKER, "--as-of", "2026-01-01",
        "--workers", workers, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = _summary(result.output)
    assert (summary["rows_written"], summary["rows_deleted"], summary["rows_superseded"]) == (0, 20, 20)
    assert endpoint.items() == {f"k{i}": {"customer_id": f"k{i}", "name": "new"} for i in range(0, 40, 2)}


def test_validate_counts_the_rows_that_would_delete_apart_from_the_valid_ones(tmp_path: Path) -> None:
    """rows_valid are the rows that would be written; rows_deleted those that would delete; the marker's problems
    are rejections, as load's."""
    source = _changes(tmp_path / "changes.csv")
    result = run("validate", source, "--delete-column", MARKER, "--json")
    assert result.exit_code == 2, result.output
    summary = _summary(result.output)
    assert (summary["rows_valid"], summary["rows_deleted"], summary["rows_rejected"]) == (2, 3, 1)
    text = run("validate", source, "--delete-column", MARKER)
    assert "changes.csv: 2 rows valid, 1 rejected (" in _said(text.output)
    assert "rows/s); 3 more valid rows would delete their items" in _said(text.output)


def test_validate_without_the_setting_checks_the_column_as_data(tmp_path: Path) -> None:
    """No --delete-column: the marker column is a column like any other, and its cells are all valid."""
    result = run("validate", _changes(tmp_path / "changes.csv"), "--json")
    assert result.exit_code == 0, result.output
    assert (_summary(result.output)["rows_valid"], _summary(result.output)["rows_deleted"]) == (6, 0)


# What the command line refuses as the marker, and why: (id, options, words of the message).
NOT_A_MARKER = [
    ("key", ["--delete-column", "customer_id"], "the delete-marker column 'customer_id' is a key column"),
    (
        "sort-key",
        ["--sort-key-column", "order_date", "--delete-column", "order_date"],
        "the delete-marker column 'order_date' is a key column",
    ),
    (
        "order-attribute",
        ["--delete-column", DEFAULT_ORDER_ATTRIBUTE],
        f"the delete-marker column '{DEFAULT_ORDER_ATTRIBUTE}' is the order attribute",
    ),
    (
        "typed",
        ["--delete-column", MARKER, "--type", f"{MARKER}=BOOL"],
        f"column '{MARKER}' is the delete-marker column",
    ),
    ("blank", ["--delete-column", " "], "' ' is not a column name"),
]
# validate (and load) also take --order-attribute; demo runs with the default one.
NAMED_ORDER_ATTRIBUTE = (
    "named-order-attribute",
    ["--order-attribute", "loaded_at", "--delete-column", " loaded_at "],
    "the delete-marker column 'loaded_at' is the order attribute",
)


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        pytest.param(command, args, message, id=f"{command}-{name}")
        for command, cases in (("validate", [*NOT_A_MARKER, NAMED_ORDER_ATTRIBUTE]), ("demo", NOT_A_MARKER))
        for name, args, message in cases
    ],
)
def test_a_column_that_cannot_be_the_marker_is_a_usage_error(
    command: str, args: list[str], message: str, tmp_path: Path
) -> None:
    """Exit 64 before anything is read, naming --delete-column and why."""
    result = run(command, _changes(tmp_path / "changes.csv"), *args)
    assert result.exit_code == 64, result.output
    assert "Invalid value for '--delete-column'" in _said(result.output)
    assert message in _said(result.output)


def test_with_no_ordering_the_order_attributes_name_may_be_the_marker(tmp_path: Path) -> None:
    """Without ordering no stamp is written: the name is free."""
    source = tmp_path / "a.csv"
    source.write_text(f"customer_id,{DEFAULT_ORDER_ATTRIBUTE}\n1,true\n")
    result = run("validate", source, "--no-ordering", "--delete-column", DEFAULT_ORDER_ATTRIBUTE, "--json")
    assert result.exit_code == 0, result.output
    assert _summary(result.output)["rows_deleted"] == 1


def test_load_refuses_the_tables_key_column_as_the_marker(endpoint: Endpoint, tmp_path: Path) -> None:
    """The table's key (DescribeTable) is checked too: exit 64, nothing written."""
    result = run(
        "load", _changes(tmp_path / "changes.csv"), "--table", endpoint.table, "--delete-column", "customer_id"
    )
    assert result.exit_code == 64, result.output
    assert "the delete-marker column 'customer_id' is a key column" in _said(result.output)
    assert endpoint.items() == {}


@pytest.mark.parametrize("large_file_bytes", ["8388608", "0"], ids=["one-invocation", "state-machine"])
def test_demo_runs_the_functions_with_the_marker_column(tmp_path: Path, large_file_bytes: str) -> None:
    """As a stack deployed with `-c delete_column=_deleted`: the summary counts the deletes, the table has neither
    the deleted items nor the marker column."""
    source = tmp_path / "changes.csv"
    source.write_text(f"customer_id,name,{MARKER}\n1,Ann,\n2,Bob,\n1,,true\n3,Cy,false\n")
    export = tmp_path / "table.csv"
    result = run("demo", source, "--delete-column", MARKER, "--large-file-bytes", large_file_bytes, "--export", export)
    assert result.exit_code == 0, result.output
    assert "3 rows written, 0 rejected; 1 row deleted its item." in _said(result.output)
    assert export.read_bytes() == b"customer_id,name\r\n2,Bob\r\n3,Cy\r\n"


def test_ctrl_c_during_a_load_counts_the_rows_deleted_so_far() -> None:
    """The interrupted load's message and --json carry the deletes settled before it stopped."""
    outcome = Outcome("customers.csv", "written", 1.0, shown_rejections(20))
    outcome.interrupted(
        IngestStopped(
            "customers.csv", "", rows_written=5, rows_rejected=1, rows_failed=0, first_missing_line=40, rows_deleted=3
        )
    )
    assert outcome.as_dict()["rows_deleted"] == 3
    assert outcome.error is not None
    assert "before line 40: 5 rows written, 3 deleted, 1 rejected;" in outcome.error


def test_ctrl_c_during_a_validate_counts_the_rows_that_would_delete() -> None:
    outcome = Outcome("customers.csv", "valid", 1.0, shown_rejections(20))
    outcome.interrupted(
        IngestStopped(
            "customers.csv", "", rows_written=5, rows_rejected=0, rows_failed=0, first_missing_line=9, rows_deleted=1
        )
    )
    assert "5 rows valid, 0 rejected, 1 more valid row would delete its item;" in (outcome.error or "")


def test_a_stopped_load_by_workers_counts_every_worker_s_deleted_rows() -> None:
    """Ctrl-C during a load by two workers: the stop carries the rows both deleted, as one worker's would."""
    pool = SimpleNamespace(
        processes=[None, None],
        ended={
            0: WorkerEnd(0, written=5, deleted=2, complete=True),
            1: WorkerEnd(1, written=1, deleted=3, first_missing_line=40),
        },
        source="customers.csv",
        settings=SimpleNamespace(table=TABLE, patience_s=1.0),
    )
    dispatch = Dispatch(
        cast(WorkerPool, pool), on_reject=lambda rejection: None, report=None, on_progress=None, should_stop=None
    )
    with pytest.raises(IngestStopped) as stopped:
        dispatch._outcome()
    assert (stopped.value.rows_written, stopped.value.rows_deleted) == (6, 5)
