"""`validate` predicts `load` for items that grow across rows: in `merge` mode each row's attributes are set onto the
item its earlier rows built, and DynamoDB refuses the row that would take the item past 400 KB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE
from csv_ingest_engine.ordering import STAMP_BYTES
from csv_ingest_engine.rules import MAX_ITEM_BYTES
from tests.cli.runner import run
from tests.support import Endpoint

COLUMNS = 20
# ASCII only: dynalite measures strings in UTF-16 units, DynamoDB in UTF-8 bytes; for ASCII they agree.
VALUE = "x" * 30_000
# The key attribute's name and value ("customer_id", "1"), and the order stamp's name and value.
KEY_BYTES = len("customer_id") + 1
STAMP = len(DEFAULT_ORDER_ATTRIBUTE) + STAMP_BYTES


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(cells) for cells in [header, *rows]) + "\n")
    return path


def _one_key_growing(path: Path, *, keys: list[str] | None = None) -> Path:
    """The issue's file: 20 rows (of key 1, or of `keys`), row i filling column ci with 30,000 characters."""
    keys = keys or ["1"] * COLUMNS
    header = ["customer_id", *(f"c{i}" for i in range(COLUMNS))]
    rows = [[key, *(VALUE if i == n else "" for i in range(COLUMNS))] for n, key in enumerate(keys)]
    return _csv(path, header, rows)


def _validate(source: Path, *options: str) -> tuple[int, dict[str, Any]]:
    result = run("validate", source, "--json", *options)
    return result.exit_code, json.loads(result.stdout)


def _rejected_lines(summary: dict[str, Any]) -> list[int]:
    return [rejection["line"] for rejection in summary["rejected_rows"]]


@pytest.mark.skip_backend("moto", reason="moto refuses items over 405,000 bytes and keeps a refused update's part")
def test_validate_rejects_exactly_the_rows_load_rejects_as_an_item_grows(endpoint: Endpoint, tmp_path: Path) -> None:
    """20 merge rows of one key, each filling another 30 KB column: both reject lines 15-21 (the item passes 400 KB)."""
    source = _one_key_growing(tmp_path / "growing.csv")
    # when
    code, checked = _validate(source)
    loaded = json.loads(run("load", source, "--table", endpoint.table, "--json").stdout)
    # then
    assert (code, loaded["exit_code"]) == (2, 2)
    assert (checked["rows_valid"], checked["rows_rejected"]) == (loaded["rows_written"], loaded["rows_rejected"])
    assert (checked["rows_valid"], checked["rows_rejected"]) == (13, 7)
    assert _rejected_lines(checked) == _rejected_lines(loaded) == list(range(15, 22))
    assert sorted(endpoint.items()["1"]) == sorted(["customer_id", *(f"c{i}" for i in range(13))])
    grown = KEY_BYTES + STAMP + sum(len(f"c{i}") + len(VALUE) for i in range(14))
    assert checked["rejected_rows"][0]["reason"] == (
        f"the item would grow to {grown:,} bytes with this row, {STAMP} of them the upload's order stamp, over "
        "DynamoDB's 400 KB item limit (the file's 13 earlier rows of this key, lines 2 to 14, set the rest): DynamoDB "
        "would refuse it. Move some columns to another item, or shorten the values"
    )


def test_an_attribute_set_again_counts_once(tmp_path: Path) -> None:
    """Rows that set the same 30 KB column again replace its value: the item stays at 30 KB, every row is valid."""
    header = ["customer_id", "notes", "name"]
    source = _csv(tmp_path / "rewrites.csv", header, [["1", VALUE, f"n{i}"] for i in range(20)])
    code, summary = _validate(source)
    assert code == 0, summary
    assert (summary["rows_valid"], summary["rows_rejected"]) == (20, 0)


def test_replace_mode_never_accumulates(tmp_path: Path) -> None:
    """In `replace` each row replaces its item: the issue's file is all valid, as `load --mode replace` writes it."""
    code, summary = _validate(_one_key_growing(tmp_path / "growing.csv"), "--mode", "replace")
    assert code == 0, summary
    assert (summary["rows_valid"], summary["rows_rejected"]) == (20, 0)


def test_rows_of_different_keys_do_not_add_up(tmp_path: Path) -> None:
    """20 keys with a 30 KB column each are 20 items of 30 KB: every row is valid."""
    code, summary = _validate(_one_key_growing(tmp_path / "keys.csv", keys=[str(k) for k in range(COLUMNS)]))
    assert code == 0, summary
    assert summary["rows_rejected"] == 0


def _exactly_full(path: Path) -> Path:
    """Two rows of key 1 whose item is exactly 400 KB without the order stamp: a then b."""
    a = "a" * 200_000
    b = "b" * (MAX_ITEM_BYTES - KEY_BYTES - 2 - len(a))  # 2: the names "a" and "b"
    return _csv(path, ["customer_id", "a", "b"], [["1", a, ""], ["1", "", b]])


def test_the_order_stamp_counts_toward_the_item_it_grows(tmp_path: Path) -> None:
    """An item exactly 400 KB once grown is valid unstamped (--no-ordering), and one stamp over with the stamp."""
    source = _exactly_full(tmp_path / "full.csv")
    unordered_code, unordered = _validate(source, "--no-ordering")
    code, stamped = _validate(source)
    assert (unordered_code, unordered["rows_rejected"]) == (0, 0)
    assert (code, _rejected_lines(stamped)) == (2, [3])
    assert f"would grow to {MAX_ITEM_BYTES + STAMP:,} bytes" in stamped["rejected_rows"][0]["reason"]


def test_a_small_first_row_counts_toward_the_item(tmp_path: Path) -> None:
    """A key's first row of a few cells (kept as it is until the key comes again) counts: one byte over is refused."""
    small = "s" * 1_000
    # what the key, the stamp and column s leave, less the name "b", and one byte more
    big = "b" * (MAX_ITEM_BYTES - KEY_BYTES - STAMP - len("s" + small) - len("b") + 1)
    code, summary = _validate(
        _csv(tmp_path / "small-first.csv", ["customer_id", "s", "b"], [["1", small, ""], ["1", "", big]])
    )
    assert (code, _rejected_lines(summary)) == (2, [3])
    assert f"would grow to {MAX_ITEM_BYTES + 1:,} bytes" in summary["rejected_rows"][0]["reason"]
    assert "(the file's 1 earlier row of this key, line 2, set the rest)" in summary["rejected_rows"][0]["reason"]


def test_a_refused_row_leaves_its_item_as_it_was(tmp_path: Path) -> None:
    """After the row DynamoDB would refuse, the item is what the rows before it made: a row that fits is valid."""
    rows = [["1", "a" * 200_000, "", ""], ["1", "", "b" * 250_000, ""], ["1", "", "", "c" * 150_000]]
    rows.append(["1", "", "b" * 60_000, ""])  # 200 + 150 + 60 KB: over
    code, summary = _validate(_csv(tmp_path / "refused.csv", ["customer_id", "a", "b", "c"], rows))
    assert (code, _rejected_lines(summary)) == (2, [3, 5])
    assert summary["rows_valid"] == 2
    earlier = "(the file's 2 earlier rows of this key, the first on line 2, the last on line 4, set the rest)"
    assert earlier in summary["rejected_rows"][1]["reason"]


def test_past_the_memory_bound_a_forgotten_key_is_checked_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key whose item was forgotten (other keys' rows filled the memory budget since) starts afresh: its row is
    checked alone, and valid, while a key still remembered is checked against what its rows built."""
    # given: key 1 at 200 KB, then 30 other keys' 30 KB rows, then key 1 (forgotten) and key 30 (remembered) growing
    header = ["customer_id", "a", "b"]
    rows = [["1", "a" * 200_000, ""], *([str(k), VALUE, ""] for k in range(2, 31))]
    rows += [["1", "", "b" * 250_000], ["30", "", "b" * 390_000]]
    source = _csv(tmp_path / "far.csv", header, rows)
    # a budget of about ten items (each row here is large, so its item is kept as sizes: about 600 bytes)
    monkeypatch.setattr("csv_ingest_engine.item_growth.MEMORY_BUDGET_BYTES", 6_000)
    # when
    code, summary = _validate(source)
    # then: only key 30's second row (line 33) is rejected; key 1's (line 32) was checked alone
    assert (code, _rejected_lines(summary)) == (2, [33])
    assert "the file's 1 earlier row of this key, line 31, set the rest" in summary["rejected_rows"][0]["reason"]
    # and with the default budget, key 1 is remembered: its row is rejected too
    monkeypatch.undo()
    assert _rejected_lines(_validate(source)[1]) == [32, 33]
