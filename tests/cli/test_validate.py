"""`validate` predicts `load`: the same modes, the same kinds of SOURCE, the same messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csv_ingest_engine.requests import MERGE_MAX_ATTRIBUTES
from tests.cli.runner import SAMPLES, TABLE, run
from tests.support import Endpoint


@pytest.fixture
def wide_file(tmp_path: Path) -> Path:
    """One row filling more columns than one `merge` update expression can set."""
    columns = [f"c{i}" for i in range(MERGE_MAX_ATTRIBUTES + 1)]
    path = tmp_path / "wide.csv"
    path.write_text(f"customer_id,{','.join(columns)}\n1,{','.join('x' for _ in columns)}\n")
    return path


def test_validate_rejects_a_row_too_wide_for_a_merge_update(wide_file: Path) -> None:
    """By default `validate` checks `merge`'s rules: a row over the 4 KB update expression is rejected (exit 2)."""
    result = run("validate", wide_file, "--json")
    assert result.exit_code == 2, result.output
    (rejection,) = json.loads(result.stdout)["rejected_rows"]
    assert "more than one DynamoDB update expression (4 KB) can set" in rejection["reason"]


def test_validate_mode_replace_accepts_what_load_mode_replace_writes(wide_file: Path) -> None:
    """`validate --mode replace` has no update-expression limit, as `load --mode replace` has none: exit 0."""
    result = run("validate", wide_file, "--mode", "replace")
    assert result.exit_code == 0, result.output
    assert "1 row valid, 0 rejected" in result.output


def test_validate_reads_an_s3_object(endpoint: Endpoint) -> None:
    """`validate s3://bucket/key` downloads the object as `load` does and checks it."""
    endpoint.s3.put_object(
        Bucket=endpoint.bucket, Key="in/rejected.csv", Body=(SAMPLES / "edge-rejected-rows.csv").read_bytes()
    )
    result = run("validate", f"s3://{endpoint.bucket}/in/rejected.csv")
    assert result.exit_code == 2, result.output
    assert f"s3://{endpoint.bucket}/in/rejected.csv: 3 rows valid, 3 rejected" in result.output


def test_validate_of_a_missing_s3_object_fails_naming_it(endpoint: Endpoint) -> None:
    """An S3 object that is not there is a failed file (exit 1), named in the message."""
    result = run("validate", f"s3://{endpoint.bucket}/in/nothing.csv")
    assert result.exit_code == 1, result.output
    assert f"failed: s3://{endpoint.bucket}/in/nothing.csv: could not read the object" in result.output


@pytest.mark.parametrize("command", ["load", "validate"])
def test_a_folder_fails_saying_it_is_a_folder(command: str, tmp_path: Path) -> None:
    """A folder is named as a folder (exit 1), not as a file that does not exist."""
    result = run(command, tmp_path, *(["--table", TABLE] if command == "load" else []))
    assert result.exit_code == 1, result.output
    assert f"failed: {tmp_path}: is a folder, not a file" in " ".join(result.output.split())
