"""The newest upload wins, per item, from the command line: `load` is one upload as of the moment it started (or
`--as-of`), its rows superseded where an item holds a newer upload's; `--no-ordering` and `--order-attribute`;
`validate` predicts the rules of stamped writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from csv_ingest_engine.constants import DEFAULT_KEY_COLUMN, DEFAULT_ORDER_ATTRIBUTE
from csv_ingest_engine.ordering import as_of, stamp
from csv_ingest_engine.partitioning import partition_of
from csv_ingest_engine.requests import MERGE_MAX_ATTRIBUTES, MERGE_MAX_ATTRIBUTES_UNORDERED
from csv_ingest_engine.rules import MAX_ITEM_BYTES
from tests.cli.runner import TABLE, run
from tests.support import Endpoint, create_table
from tests.support.dynamodb import table_items

# Two moments a day apart: the newer upload's, and the older one a backfill loads later.
NEWER, OLDER = "2026-12-02T09:00:00Z", "2026-12-01T09:00:00+00:00"
NEWER_ROWS = "customer_id,name,city\n1,Ann,Oslo\n2,Bob,Bern\n3,Cid,Rome\n"
# An earlier version of the file: keys 1 and 2 changed since (their rows are superseded), key 4 only here.
OLDER_ROWS = "customer_id,name,city\n1,Ann Old,Oslo Old\n2,Bob Old,\n4,Dee,Nice\n"
AFTER_BOTH = {
    "1": {"customer_id": "1", "name": "Ann", "city": "Oslo"},
    "2": {"customer_id": "2", "name": "Bob", "city": "Bern"},
    "3": {"customer_id": "3", "name": "Cid", "city": "Rome"},
    "4": {"customer_id": "4", "name": "Dee", "city": "Nice"},
}


@pytest.fixture
def newer(tmp_path: Path) -> Path:
    path = tmp_path / "customers-newer.csv"
    path.write_text(NEWER_ROWS)
    return path


@pytest.fixture
def older(tmp_path: Path) -> Path:
    path = tmp_path / "customers-older.csv"
    path.write_text(OLDER_ROWS)
    return path


def _stamps(endpoint: Endpoint, table: str | None = None, attribute: str = DEFAULT_ORDER_ATTRIBUTE) -> dict[str, Any]:
    """Each item's order stamp, by key (None: the item has none)."""
    items = table_items(endpoint.dynamodb, table or endpoint.table, DEFAULT_KEY_COLUMN, bookkeeping=True)
    return {key: item.get(attribute) for key, item in items.items()}


def _load(endpoint: Endpoint, source: Path, *options: str) -> Any:
    return run("load", source, "--table", endpoint.table, *options)


# -- an older upload loaded later -------------------------------------------------------------------------------


def test_an_older_version_loaded_later_leaves_the_newer_rows_and_says_how_many_it_superseded(
    endpoint: Endpoint, newer: Path, older: Path
) -> None:
    """A backfill `--as-of` before the newer load: its rows for items the newer one wrote are superseded (counted in
    the summary, exit 0); its rows for other items are written."""
    # given
    assert _load(endpoint, newer, "--as-of", NEWER).exit_code == 0
    # when
    result = _load(endpoint, older, "--as-of", OLDER)
    # then
    assert result.exit_code == 0, result.output
    summary = " ".join(result.output.split())
    assert f"{older}: 1 row written, 0 rejected (" in summary
    assert "; 2 rows superseded (their items hold a newer upload's rows)" in summary
    assert endpoint.items() == AFTER_BOTH
    assert _stamps(endpoint) == {key: stamp(as_of(OLDER if key == "4" else NEWER)) for key in AFTER_BOTH}


def test_json_counts_superseded_rows_and_no_rejects_report_lists_them(
    endpoint: Endpoint, newer: Path, older: Path, tmp_path: Path
) -> None:
    """--json has `rows_superseded`; superseded rows are neither rejected nor in the --rejects report, which a run
    with no rejected row removes."""
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("an earlier report\n")
    assert _load(endpoint, newer, "--as-of", NEWER).exit_code == 0
    result = _load(endpoint, older, "--as-of", OLDER, "--rejects", str(rejects), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {key: summary[key] for key in ("status", "rows_written", "rows_rejected", "rows_superseded")} == {
        "status": "ok",
        "rows_written": 1,
        "rows_rejected": 0,
        "rows_superseded": 2,
    }
    assert (summary["rejected_rows"], summary["rejects_report"]) == ([], None)
    assert not rejects.exists()


def test_a_rejected_row_beside_superseded_ones_is_the_only_one_reported(
    endpoint: Endpoint, newer: Path, tmp_path: Path
) -> None:
    """Exit 2 for the rejected row alone: the report holds it and none of the superseded rows."""
    older = tmp_path / "older.csv"
    older.write_text(OLDER_ROWS + ",No Key,Nowhere\n")
    rejects = tmp_path / "rejects.csv"
    assert _load(endpoint, newer, "--as-of", NEWER).exit_code == 0
    result = _load(endpoint, older, "--as-of", OLDER, "--rejects", str(rejects), "--json")
    assert result.exit_code == 2, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows_written"], summary["rows_rejected"], summary["rows_superseded"]) == (1, 1, 2)
    assert [row["line"] for row in summary["rejected_rows"]] == [5]
    assert rejects.read_text(encoding="utf-8-sig").splitlines()[1:] == [
        ",No Key,Nowhere,5,the 'customer_id' cell is empty"
    ]


@pytest.mark.parametrize("second", [OLDER, NEWER], ids=["the-same-moment", "a-later-moment"])
def test_a_load_as_of_the_same_or_a_later_moment_overwrites(
    endpoint: Endpoint, newer: Path, older: Path, second: str
) -> None:
    """Loaded as of the moment an item's rows were (a load run again) or later, the rows are written: nothing is
    superseded, and the items carry the later load's stamp."""
    assert _load(endpoint, older, "--as-of", OLDER).exit_code == 0
    result = _load(endpoint, newer, "--as-of", second, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows_written"], summary["rows_superseded"]) == (3, 0)
    assert endpoint.items() == AFTER_BOTH
    assert _stamps(endpoint) == {key: stamp(as_of(OLDER if key == "4" else second)) for key in AFTER_BOTH}


def test_replace_mode_supersedes_too(endpoint: Endpoint, newer: Path, older: Path) -> None:
    """`--mode replace` with ordering puts each row on the condition of its item's stamp: the newer items stay whole
    (the older row for key 2, with no city, does not replace the item that has one)."""
    assert _load(endpoint, newer, "--mode", "replace", "--as-of", NEWER).exit_code == 0
    result = _load(endpoint, older, "--mode", "replace", "--as-of", OLDER, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows_written"], summary["rows_superseded"]) == (1, 2)
    assert endpoint.items() == AFTER_BOTH


# -- the stamp ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "2"])
def test_items_carry_one_stamp_for_the_whole_load_as_of_its_start(
    endpoint: Endpoint, tmp_path: Path, workers: str
) -> None:
    """By default every item gets `_csv_ingest_order`: the same stamp for every row of the load, in every worker
    process, taken when the load started."""
    source = tmp_path / "customers.csv"
    source.write_text("customer_id,name\n" + "".join(f"k{i},n{i}\n" for i in range(40)))
    assert {partition_of(f"k{i}", 2) for i in range(40)} == {0, 1}
    before = stamp(datetime.now(UTC))
    result = _load(endpoint, source, "--workers", workers)
    after = stamp(datetime.now(UTC))
    assert result.exit_code == 0, result.output
    stamps = set(_stamps(endpoint).values())
    assert len(stamps) == 1
    assert before <= stamps.pop() <= after


def test_order_attribute_names_where_the_stamp_is_kept(endpoint: Endpoint, newer: Path, older: Path) -> None:
    """`--order-attribute` (a table deployed with context order_attribute): the stamp goes there, none to
    `_csv_ingest_order`, and an older load is superseded by it."""
    assert _load(endpoint, newer, "--as-of", NEWER, "--order-attribute", "upload_order").exit_code == 0
    result = _load(endpoint, older, "--as-of", OLDER, "--order-attribute", "upload_order", "--json")
    assert json.loads(result.stdout)["rows_superseded"] == 2, result.output
    assert _stamps(endpoint, attribute="upload_order")["1"] == stamp(as_of(NEWER))
    assert set(_stamps(endpoint).values()) == {None}


# -- --no-ordering ------------------------------------------------------------------------------------------------


def test_no_ordering_writes_no_stamp(endpoint: Endpoint, newer: Path) -> None:
    """`--no-ordering` (a table deployed with ordering=off): the items have the file's columns and nothing else."""
    result = _load(endpoint, newer, "--no-ordering")
    assert result.exit_code == 0, result.output
    items = table_items(endpoint.dynamodb, endpoint.table, DEFAULT_KEY_COLUMN, bookkeeping=True)
    assert items == {key: AFTER_BOTH[key] for key in ("1", "2", "3")}


def test_no_ordering_overwrites_whatever_upload_wrote_last(endpoint: Endpoint, newer: Path, older: Path) -> None:
    """Without ordering an older file loaded later overwrites the newer rows (each row merged into its item), and
    nothing is superseded."""
    assert _load(endpoint, newer, "--as-of", NEWER).exit_code == 0
    result = _load(endpoint, older, "--no-ordering", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows_written"], summary["rows_superseded"]) == (3, 0)
    assert endpoint.items() == {
        "1": {"customer_id": "1", "name": "Ann Old", "city": "Oslo Old"},
        "2": {"customer_id": "2", "name": "Bob Old", "city": "Bern"},  # an empty cell keeps the attribute
        "3": {"customer_id": "3", "name": "Cid", "city": "Rome"},
        "4": {"customer_id": "4", "name": "Dee", "city": "Nice"},
    }


# -- --workers ----------------------------------------------------------------------------------------------------


def test_two_workers_supersede_what_one_does(endpoint: Endpoint, tmp_path: Path) -> None:
    """An older version loaded by `--workers 2` leaves the table (stamps included) and the counts that `--workers 1`
    does: the superseded rows of both workers summed."""
    # given: keys k0..k39 in both partitions; the newer version has the even ones, in two tables
    keys = [f"k{i}" for i in range(40)]
    assert {partition_of(key, 2) for key in keys} == {0, 1}
    newer, older = tmp_path / "newer.csv", tmp_path / "older.csv"
    newer.write_text("customer_id,name\n" + "".join(f"{key},new\n" for key in keys[::2]))
    older.write_text("customer_id,name\n" + "".join(f"{key},old\n" for key in keys))
    one_table = f"{endpoint.table}-one"
    create_table(endpoint.dynamodb, one_table, DEFAULT_KEY_COLUMN)
    try:
        for table in (one_table, endpoint.table):
            assert run("load", newer, "--table", table, "--as-of", NEWER).exit_code == 0
        # when
        one = run("load", older, "--table", one_table, "--as-of", OLDER, "--workers", "1", "--json")
        two = run("load", older, "--table", endpoint.table, "--as-of", OLDER, "--workers", "2", "--json")
        # then
        assert (one.exit_code, two.exit_code) == (0, 0), one.output + two.output
        counts = [{k: json.loads(r.stdout)[k] for k in ("rows_written", "rows_superseded")} for r in (one, two)]
        assert counts == [{"rows_written": 20, "rows_superseded": 20}] * 2
        assert _stamps(endpoint) == _stamps(endpoint, one_table)
        assert endpoint.items() == table_items(endpoint.dynamodb, one_table, DEFAULT_KEY_COLUMN)
        assert {key: item["name"] for key, item in endpoint.items().items()} == {
            key: "new" if i % 2 == 0 else "old" for i, key in enumerate(keys)
        }
    finally:
        endpoint.dynamodb.delete_table(TableName=one_table)


# -- validate predicts load ---------------------------------------------------------------------------------------


@pytest.fixture
def order_column(tmp_path: Path) -> Path:
    path = tmp_path / "exported.csv"
    path.write_text(f"customer_id,name,{DEFAULT_ORDER_ATTRIBUTE}\n1,Ann,whatever\n")
    return path


def test_validate_fails_a_file_with_a_column_named_like_the_order_attribute(order_column: Path) -> None:
    """A column `_csv_ingest_order` (e.g. a table exported with --bookkeeping) fails the file, as load would: exit 1,
    with the fix."""
    result = run("validate", order_column)
    assert result.exit_code == 1, result.output
    assert (
        f"failed: {order_column}: the header has a column '{DEFAULT_ORDER_ATTRIBUTE}', the attribute where the "
        "pipeline keeps each item's upload order; rename the column, or give the order attribute another name"
    ) in " ".join(result.output.split())


@pytest.mark.parametrize("option", [["--no-ordering"], ["--order-attribute", "upload_order"]])
def test_validate_passes_that_file_without_ordering_or_with_another_attribute(
    order_column: Path, option: list[str]
) -> None:
    """With ordering off, or the stamp kept elsewhere, the column is one like any other."""
    result = run("validate", order_column, *option)
    assert result.exit_code == 0, result.output
    assert "1 row valid, 0 rejected" in result.output


def test_load_fails_that_file_before_writing_anything(endpoint: Endpoint, order_column: Path) -> None:
    """`load` refuses it as `validate` said: exit 1, nothing written."""
    result = _load(endpoint, order_column)
    assert result.exit_code == 1, result.output
    assert f"the header has a column '{DEFAULT_ORDER_ATTRIBUTE}'" in " ".join(result.output.split())
    assert endpoint.items() == {}


def test_validate_counts_the_stamp_toward_the_item_size(tmp_path: Path) -> None:
    """A row at exactly 400 KB without the stamp is over it with the stamp: rejected, saying so; valid with
    --no-ordering."""
    name_and_key = len("customer_id") + len("1") + len("doc")
    path = tmp_path / "large.csv"
    path.write_text(f"customer_id,doc\n1,{'x' * (MAX_ITEM_BYTES - name_and_key)}\n")
    result = run("validate", path, "--json")
    assert result.exit_code == 2, result.output
    (rejection,) = json.loads(result.stdout)["rejected_rows"]
    assert "of them the upload's order stamp), over DynamoDB's 400 KB item limit" in rejection["reason"]
    assert run("validate", path, "--no-ordering").exit_code == 0


def test_validate_leaves_room_for_the_stamp_in_a_merge_update(tmp_path: Path) -> None:
    """The stamp is set by each update: a row as wide as an unstamped update can set is rejected, and valid with
    --no-ordering."""
    assert MERGE_MAX_ATTRIBUTES < MERGE_MAX_ATTRIBUTES_UNORDERED
    columns = [f"c{i}" for i in range(MERGE_MAX_ATTRIBUTES_UNORDERED)]
    path = tmp_path / "wide.csv"
    path.write_text(f"customer_id,{','.join(columns)}\n1,{','.join('x' for _ in columns)}\n")
    result = run("validate", path, "--json")
    assert result.exit_code == 2, result.output
    (rejection,) = json.loads(result.stdout)["rejected_rows"]
    assert "more than one DynamoDB update expression (4 KB) can set" in rejection["reason"]
    assert run("validate", path, "--no-ordering").exit_code == 0


# -- the command line ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--as-of", "nonsense"], "Invalid value for '--as-of': 'nonsense' is not a date and time: use ISO 8601"),
        (["--as-of", "2999-01-01"], "Invalid value for '--as-of': '2999-01-01' is in the future"),
        (["--as-of", OLDER, "--no-ordering"], "--as-of orders the load's rows, and --no-ordering turns ordering off"),
        (["--no-ordering", "--order-attribute", "x"], "--order-attribute names where the writes keep their order"),
        (["--order-attribute", " "], "Invalid value for '--order-attribute': ' ' is not a column name"),
    ],
)
def test_ordering_mistakes_are_usage_errors(newer: Path, options: list[str], message: str) -> None:
    """Exit 64 before anything is read or written, naming the option."""
    result = run("load", newer, "--table", TABLE, *options)
    assert result.exit_code == 64, result.output
    assert message in " ".join(result.output.split())


def test_validate_takes_no_as_of(newer: Path) -> None:
    """`--as-of` is load's: validate writes nothing to order."""
    result = run("validate", newer, "--as-of", OLDER)
    assert result.exit_code == 64, result.output
    assert "No such option '--as-of'" in result.output


def _in_order(text: str, *headings: str) -> bool:
    return [text.index(heading) for heading in headings] == sorted(text.index(heading) for heading in headings)


def test_help_lists_the_ordering_options_of_each_command() -> None:
    """`load --help` has --as-of, --no-ordering and --order-attribute, after --mode; `validate --help` the two it
    shares, with what --no-ordering means for it."""
    load, validate = (" ".join(run(command, "--help").output.split()) for command in ("load", "validate"))
    assert _in_order(load, "--mode [", "--as-of TIME", "--no-ordering Write", "--order-attribute NAME", "--concurrency")
    assert "--as-of" not in validate
    assert _in_order(validate, "--mode [", "--no-ordering Write", "--order-attribute NAME", "--endpoint-url")
    assert "(validate: check the rules of such writes)" in validate
