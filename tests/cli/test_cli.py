"""The `csv-ingest` command line, run with click's runner: exit codes, output, the rejects file, the table."""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.runner import ROOT, SAMPLES, TABLE, run
from tests.support import Endpoint


def test_load_writes_every_row_to_the_table(endpoint: Endpoint) -> None:
    """`load` upserts the file into the table over HTTP and exits 0."""
    result = run("load", SAMPLES / "sample-good.csv", "--table", endpoint.table)
    assert result.exit_code == 0, result.output
    assert "5 rows written, 0 rejected" in result.output
    items = endpoint.items()
    assert sorted(items) == ["123456", "234567", "345678", "456789", "567890"]
    assert items["567890"]["favourite_colour"] == "Gold"


def test_load_sends_dynamodb_requests_to_the_endpoint_url(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--endpoint-url` alone takes the writes to a DynamoDB other than AWS's (e.g. DynamoDB Local)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
    result = run(
        "load", SAMPLES / "sample-good.csv", "--table", endpoint.table, "--endpoint-url", endpoint.dynamodb_url
    )
    assert result.exit_code == 0, result.output
    assert len(endpoint.items()) == 5


def test_load_reads_an_s3_object(endpoint: Endpoint) -> None:
    """`load s3://bucket/key` downloads the object and ingests it with the same rules."""
    body = (SAMPLES / "sample-good.csv").read_bytes()
    endpoint.s3.put_object(Bucket=endpoint.bucket, Key="in/customers.csv", Body=body)
    result = run("load", f"s3://{endpoint.bucket}/in/customers.csv", "--table", endpoint.table)
    assert result.exit_code == 0, result.output
    assert len(endpoint.items()) == 5


def test_load_with_rejected_rows_exits_2_and_writes_the_rejects_file(endpoint: Endpoint, tmp_path: Path) -> None:
    """Rejected rows: the others are written, exit code 2, and --rejects holds every rejected row."""
    rejects = tmp_path / "rejects.csv"
    result = run("load", SAMPLES / "edge-rejected-rows.csv", "--table", endpoint.table, "--rejects", rejects)
    assert result.exit_code == 2, result.output
    assert sorted(endpoint.items()) == ["201", "203", "204"]
    assert "3 rows written, 3 rejected" in result.output
    rows = list(csv.reader(rejects.open(encoding="utf-8")))
    assert rows[0] == ["customer_id", "name", "city", "rejected_line", "rejected_reason"]
    assert [row[3] for row in rows[1:]] == ["3", "4", "5"]


def test_load_of_a_bad_file_exits_1_naming_the_problem(endpoint: Endpoint) -> None:
    """A file without the key column fails as a whole: exit 1, the message names `customer_id`."""
    result = run("load", SAMPLES / "sample-bad.csv", "--table", endpoint.table)
    assert result.exit_code == 1
    assert "no 'customer_id' column" in result.output
    assert endpoint.items() == {}


def test_load_into_a_missing_table_exits_1_naming_the_table(endpoint: Endpoint) -> None:
    """A table that does not exist fails the file with the table's name in the message."""
    result = run("load", SAMPLES / "sample-good.csv", "--table", "nope")
    assert result.exit_code == 1
    assert "DynamoDB table 'nope'" in result.output


@pytest.mark.parametrize("command", ["load", "validate", "demo"])
def test_a_missing_file_fails_with_exit_1_before_any_aws_call(command: str) -> None:
    """A path that does not exist is a failed file (exit 1), not "rows rejected" (2) nor a usage error."""
    result = run(command, "no-such.csv", *(["--table", TABLE] if command == "load" else []))
    assert result.exit_code == 1
    assert "failed: no-such.csv: no such file" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["load", str(SAMPLES / "sample-good.csv")],  # no --table
        ["validate", str(SAMPLES / "sample-good.csv"), "--rejects", "/no/such/folder/rejects.csv"],
        ["load", str(SAMPLES / "sample-good.csv"), "--table", TABLE, "--mode", "upsert"],
    ],
)
def test_command_line_mistakes_exit_64_not_2(args: list[str]) -> None:
    """Usage errors have their own exit code, so 2 always means "some rows were rejected"."""
    result = run(*args)
    assert result.exit_code == 64, result.output
    assert "Error:" in result.output


def test_load_from_a_malformed_s3_location_fails_with_exit_1() -> None:
    """`s3://bucket` without a key is named as not an S3 location."""
    result = run("load", "s3://bucket-only", "--table", TABLE)
    assert result.exit_code == 1
    assert "s3://bucket-only: not an S3 location: expected s3://bucket/key" in result.output


@pytest.mark.parametrize(
    ("sample", "code", "expected"),
    [
        ("sample-good.csv", 0, "5 rows valid, 0 rejected"),
        ("edge-quoting-and-odd-columns.csv", 0, "3 rows valid, 0 rejected"),
        ("edge-header-only.csv", 0, "0 rows valid, 0 rejected"),
        ("edge-rejected-rows.csv", 2, "the 'customer_id' cell is empty"),
        ("sample-bad.csv", 1, "no 'customer_id' column"),
        (
            "edge-semicolon.csv",
            1,
            "separated by semicolons (;), not commas (,); read it with `csv-ingest --delimiter ';'`",
        ),
        ("edge-tab-separated.csv", 1, "separated by tabs, not commas (,); read it with `csv-ingest --delimiter tab`"),
        ("edge-not-utf8.csv", 1, "not UTF-8 text (invalid bytes on line 3)"),
        ("edge-duplicate-header.csv", 1, "repeats column names 'name'"),
    ],
)
def test_validate_needs_no_aws_and_exits_0_only_for_clean_files(sample: str, code: int, expected: str) -> None:
    """`validate` applies the same rules with no AWS: exit 0 clean, 2 rejected rows, 1 failed file."""
    result = run("validate", SAMPLES / sample)
    assert result.exit_code == code, result.output
    assert expected in " ".join(result.output.split())


def test_validate_lists_each_rejected_row_with_line_and_reason() -> None:
    """The terminal shows line, key and reason for each rejected row."""
    result = run("validate", SAMPLES / "edge-rejected-rows.csv")
    rows = [line.split("│") for line in result.output.splitlines() if line.count("│") == 4]
    cells = [[cell.strip() for cell in row[1:4]] for row in rows]
    assert ["3", "", "the 'customer_id' cell is empty"] in cells
    assert ["5", "202", "the row has 4 fields but the header has 3 columns (an unquoted"] in cells


def test_demo_prints_the_five_sample_customers() -> None:
    """`demo` runs the handler against the emulator, with its table on dynalite (node and node_modules/dynalite are
    here, as in CI), and prints the table."""
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert "DynamoDB: dynalite (local, started for this demo)." in result.output
    assert "5 rows written, 0 rejected" in result.output
    for name in ("Tom", "Michael", "Marie", "Ivan", "Pablo"):
        assert name in result.output


@pytest.mark.parametrize(
    ("sample", "code", "expected"),
    [("sample-good.csv", 0, "Pablo"), ("sample-bad.csv", 1, "no 'customer_id' column")],
)
def test_run_local_script_on_the_brief_samples(sample: str, code: int, expected: str) -> None:
    """`./run-local.sh FILE`, as a newcomer runs it: exit code and the message or the table."""
    completed = subprocess.run(
        [str(ROOT / "run-local.sh"), str(SAMPLES / sample)], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == code, completed.stdout + completed.stderr
    assert expected in " ".join((completed.stdout + completed.stderr).split())


def test_progress_bar_shows_rows_and_rate_on_a_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """On a terminal, `validate`/`load` draw a progress bar with rows and rows/s; piped output stays plain."""
    import io

    from rich.console import Console

    from csv_ingest.cli import output

    path = tmp_path / "many.csv"
    path.write_text("customer_id,name\n" + "".join(f"{i},n{i}\n" for i in range(5000)))
    screen = io.StringIO()
    monkeypatch.setattr(output, "out", Console(file=screen, force_terminal=True, width=120))
    result = run("validate", path)
    assert result.exit_code == 0
    drawn = screen.getvalue()
    assert "━" in drawn  # the bar
    assert re.search(r"[\d,]+ rows, [\d,]+ rows/s", drawn)  # the bar's own column, not the summary line
