"""`--rejects`: never the input, whole or absent, this run's rows only, in line order."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from csv_ingest_engine import ingest_file
from tests.cli.runner import SAMPLES, TABLE, run
from tests.support import Endpoint

REJECTED = (SAMPLES / "edge-rejected-rows.csv").read_bytes()


def _report_lines(path: Path) -> list[str]:
    return [row[-2] for row in list(csv.reader(path.open(encoding="utf-8", newline="")))[1:]]


def _as_the_input(tmp_path: Path, how: str) -> tuple[Path, str]:
    """The input file, and a --rejects path that names that same file `how`."""
    data = tmp_path / "data"
    data.mkdir()
    source = data / "customers.csv"
    source.write_bytes(REJECTED)
    if how == "the same path":
        return source, str(source)
    if how == "a relative path":
        os.chdir(data)
        return source, "../data/./customers.csv"
    link = tmp_path / "report.csv"
    link.symlink_to(source)
    return source, str(link)


@pytest.mark.parametrize("how", ["the same path", "a relative path", "a symlink"])
@pytest.mark.parametrize("command", ["load", "validate"])
def test_rejects_naming_the_input_is_a_usage_error_that_leaves_the_input_whole(
    command: str, how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--rejects` that is the input file (however it is named) exits 64 before reading, and the file is untouched."""
    monkeypatch.chdir(tmp_path)
    source, rejects = _as_the_input(tmp_path, how)
    table = ["--table", TABLE] if command == "load" else []
    result = run(command, source, *table, "--rejects", rejects)
    assert result.exit_code == 64, result.output
    assert "Invalid value for '--rejects'" in result.output
    assert "is the file being read" in " ".join(result.output.split())
    assert source.read_bytes() == REJECTED


def test_a_run_without_rejections_removes_an_earlier_report(tmp_path: Path) -> None:
    """A clean file leaves no report, not even the one an earlier run wrote to the same path."""
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("customer_id,name,rejected_line,rejected_reason\r\n,Old,2,from an earlier run\r\n")
    result = run("validate", SAMPLES / "sample-good.csv", "--rejects", rejects)
    assert result.exit_code == 0, result.output
    assert not rejects.exists()


def test_an_interrupted_run_leaves_the_earlier_report_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped part-way never leaves half a report: the earlier one stays as it was, and no temporary file."""
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("the earlier report\n")

    def interrupted_at_the_second_rejection(*args: Any, on_reject: Callable[[Any], None], **kwargs: Any) -> Any:
        seen: list[Any] = []

        def reject(rejection: Any) -> None:  # called before the report gets the row: the first one is in it
            seen.append(rejection)
            if len(seen) == 2:
                raise KeyboardInterrupt
            on_reject(rejection)

        return ingest_file(*args, on_reject=reject, **kwargs)

    monkeypatch.setattr("csv_ingest.cli.file_run.ingest_file", interrupted_at_the_second_rejection)
    result = run("validate", SAMPLES / "edge-rejected-rows.csv", "--rejects", rejects)
    assert "Aborted." in result.output
    assert rejects.read_text() == "the earlier report\n"
    assert [path.name for path in tmp_path.iterdir()] == ["rejects.csv"]


def test_rows_rejected_by_the_rules_and_by_dynamodb_are_in_line_order(endpoint: Endpoint, tmp_path: Path) -> None:
    """DynamoDB refuses rows after the rules rejected later ones; the list and the report are in line order."""
    # given: items that a row's new attribute would take past 400 KB, which only DynamoDB can know
    for key in ("21", "41"):
        endpoint.dynamodb.put_item(
            TableName=endpoint.table, Item={"customer_id": {"S": key}, "a": {"S": "x" * 300_000}}
        )
    big = "y" * 200_000
    source = tmp_path / "mixed.csv"
    source.write_text(f"customer_id,b\n21,{big}\n,No key\n41,{big}\n,No key either\n7,Good\n")
    rejects = tmp_path / "rejects.csv"
    # when
    result = run("load", source, "--table", endpoint.table, "--rejects", rejects)
    # then
    assert result.exit_code == 2, result.output
    cells = [line.split("│")[1].strip() for line in result.output.splitlines() if line.count("│") == 4]
    assert [line for line in cells if line] == ["2", "3", "4", "5"]  # a long reason wraps onto unnumbered lines
    assert _report_lines(rejects) == ["2", "3", "4", "5"]
    assert endpoint.items()["7"]["b"] == "Good"
