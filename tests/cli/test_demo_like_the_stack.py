"""`csv-ingest demo` does what the deployed stack would: it chooses the path as the trigger does, reads and keys the
file as load's options say, and finishes a wide file by putting its table on dynalite (moto when it cannot)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from csv_ingest.local import dynalite
from csv_ingest_engine.partitioning import GZIP_EXPANSION, goes_to_state_machine
from tests.cli.runner import SAMPLES, run
from tests.support import Dynalite

PATHS = pytest.mark.parametrize("large_file_bytes", ["8388608", "0"], ids=["one-invocation", "state-machine"])
DYNALITE_LINE = "DynamoDB: dynalite (local, started for this demo)."


def _said(output: str) -> str:
    """The output as one line: rich wraps long lines at the runner's width."""
    return " ".join(output.split())


@pytest.mark.parametrize(
    ("name", "size", "trailer", "threshold", "expected"),
    [
        ("a.csv", 100, None, 100, False),
        ("a.csv", 101, None, 100, True),
        ("a.csv.gz", 11, None, 100, True),  # 110 bytes of text by the 10x rule
        ("a.csv.gz", 10, (500).to_bytes(4, "little"), 100, True),  # the trailer says more than 10x
        ("a.csv.gz", 10, (50).to_bytes(4, "little"), 100, False),
    ],
)
def test_the_path_is_chosen_by_the_text_the_file_holds(
    name: str, size: int, trailer: bytes | None, threshold: int, expected: bool
) -> None:
    """A CSV by its size; a .csv.gz by the larger of 10x its size and its gzip trailer."""
    assert goes_to_state_machine(name, size, trailer, threshold) is expected


def test_a_gzipped_file_whose_text_is_over_the_threshold_takes_the_state_machine(tmp_path: Path) -> None:
    """A .csv.gz smaller than the threshold whose text is over it goes through the state machine, as the deployed
    trigger sends it, and the demo says the estimate it went by."""
    text = "customer_id,name\n" + "".join(f"{i:05},the same name again\n" for i in range(2000))
    path = tmp_path / "customers.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    size = path.stat().st_size
    threshold = len(text) - 1
    assert size * GZIP_EXPANSION < threshold  # the trailer, not the rule of thumb, puts it over

    result = run("demo", path, "--large-file-bytes", str(threshold))

    assert result.exit_code == 0, result.output
    output = _said(result.output)
    assert (
        f"Path: the state machine (its text is taken for {len(text):,} bytes, the larger of 10 times the {size:,} "
        f"compressed bytes and the size its gzip trailer gives, over the large-file threshold of {threshold:,})"
    ) in output
    assert "State machine summary: 2,000 rows written, 0 rejected." in output


@PATHS
@pytest.mark.parametrize(
    ("data", "options", "export"),
    [
        pytest.param(
            "customer_id,name\n1,Zoë €5\n".encode("cp1252"),
            ["--encoding", "cp1252"],
            "customer_id,name\r\n1,Zoë €5\r\n",
            id="cp1252",
        ),
        pytest.param(
            b"customer_id;name;city\n1;Ann;Oslo\n2;Bob;Lima, Peru\n",
            ["--delimiter", ";"],
            'customer_id,city,name\r\n1,Oslo,Ann\r\n2,"Lima, Peru",Bob\r\n',
            id="semicolons",
        ),
        pytest.param(
            b"customer_id,age,active\n1,034,true\n",
            ["--type", "age=N", "--type", "active=BOOL"],
            'customer_id,active,age\r\n1,"{""BOOL"": true}",34\r\n',
            id="typed",
        ),
        pytest.param(
            b"customer_id,order_id,total\n10,b,1\n9,a,2\n10,a,3\n",
            ["--key-type", "N", "--sort-key-column", "order_id"],
            "customer_id,order_id,total\r\n9,a,2\r\n10,a,3\r\n10,b,1\r\n",
            id="number-key-and-sort-key",
        ),
    ],
)
def test_the_demo_reads_and_keys_the_file_as_loads_options_say(
    tmp_path: Path, large_file_bytes: str, data: bytes, options: list[str], export: str
) -> None:
    """--encoding, --delimiter, --type and the key options configure the functions and key the table as a stack
    deployed with that context: the export has every row, typed values as DynamoDB holds them (034 as the number 34,
    true as a boolean), items of one partition key apart by their sort key, ordered by key (9 before 10: a number)."""
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    exported = tmp_path / "table.csv"

    result = run("demo", path, *options, "--large-file-bytes", large_file_bytes, "--export", exported)

    assert result.exit_code == 0, result.output
    assert exported.read_bytes().decode() == export


def test_the_items_shown_have_the_sort_key_next_to_the_partition_key(tmp_path: Path) -> None:
    """The table printed lists both key columns first, one line per item."""
    path = tmp_path / "orders.csv"
    path.write_text("total,customer_id,order_id\n1,7,b\n3,7,a\n")

    result = run("demo", path, "--sort-key-column", "order_id")

    assert result.exit_code == 0, result.output
    table = result.output.split("Outcome event")[0]  # the outcome's tags come after, in a table of their own
    rows = [" ".join(line.strip("│┃ ").split()) for line in table.splitlines() if line.startswith(("│", "┃"))]
    assert rows == ["customer_id ┃ order_id ┃ total", "7 │ a │ 3", "7 │ b │ 1"]


def test_a_wide_file_is_written_on_dynalite_and_the_demo_says_so(tmp_path: Path) -> None:
    """10 rows of 4,000 columns (put whole, --mode replace): on dynalite, started for the demo, every row is written
    (moto's own DynamoDB takes about a minute for them)."""
    columns = [f"c{i}" for i in range(4000)]
    path = tmp_path / "wide.csv"
    path.write_text(
        ",".join(["customer_id", *columns]) + "\n" + "".join(f"{row}," + ",".join(columns) + "\n" for row in range(10))
    )
    exported = tmp_path / "table.csv"

    result = run("demo", path, "--mode", "replace", "--export", exported)

    assert result.exit_code == 0, result.output
    output = _said(result.output)
    assert DYNALITE_LINE in output
    assert "Handler summary: 10 rows written, 0 rejected." in output
    header, *rows = exported.read_text().splitlines()
    assert len(header.split(",")) == 4001
    assert len(rows) == 10


@PATHS
def test_without_dynalite_the_demo_runs_on_moto_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, large_file_bytes: str
) -> None:
    """No node_modules/dynalite (an installed wheel has none): the table is on moto, in the process, and the demo
    still ingests the file on either path, saying which DynamoDB it used and why."""
    monkeypatch.setattr(dynalite, "DYNALITE_PACKAGE", tmp_path / "no-node-modules" / "dynalite")

    result = run("demo", SAMPLES / "sample-good.csv", "--large-file-bytes", large_file_bytes)

    assert result.exit_code == 0, result.output
    output = _said(result.output)
    assert "DynamoDB: moto (in this process; dynalite, faster on wide files, is not installed: npm ci)." in output
    assert "dynalite (local" not in output
    assert "5 rows written, 0 rejected." in output


@pytest.mark.parametrize("backend", ["moto", "dynalite"])
def test_the_export_writes_a_number_by_its_value_on_either_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, backend: str
) -> None:
    """DynamoDB keeps a number's value, not its digits: `034` typed N exports as `34` (moto hands back the digits
    as sent, dynalite the value), so that two demos compare with diff whichever DynamoDB they ran on."""
    if backend == "moto":
        monkeypatch.setattr(dynalite, "DYNALITE_PACKAGE", tmp_path / "no-node-modules" / "dynalite")
    source, export = tmp_path / "n.csv", tmp_path / "table.csv"
    source.write_text("customer_id,age\n1,034\n2,1.50\n")

    result = run("demo", source, "--type", "age=N", "--export", export)

    assert result.exit_code == 0, result.output
    assert f"DynamoDB: {backend}" in _said(result.output)
    assert export.read_text(encoding="utf-8").splitlines() == ["customer_id,age", "1,34", "2,1.5"]


def test_a_dynalite_that_does_not_start_leaves_the_demo_on_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """dynalite installed but failing to start (node too old, say) is no failure: the demo runs on moto and says
    what dynalite said."""

    def failing() -> Dynalite:
        raise RuntimeError("dynalite did not start (a test's node): SyntaxError")

    monkeypatch.setattr(dynalite.Dynalite, "start", failing)

    result = run("demo", SAMPLES / "sample-good.csv")

    assert result.exit_code == 0, result.output
    output = _said(result.output)
    assert "DynamoDB: moto (in this process; dynalite, faster on wide files, did not start: dynalite did not " in output
    assert "5 rows written, 0 rejected." in output


def test_a_dynamodb_endpoint_the_user_set_is_the_one_used(
    monkeypatch: pytest.MonkeyPatch, dynalite: Dynalite, aws_env: dict[str, str]
) -> None:
    """AWS_ENDPOINT_URL_DYNAMODB (the large-file benchmark's own dynalite) is where the table goes: the demo starts
    none of its own, says where it is, and the items are there after it ends; a second demo there starts from an
    empty table of its own instead of failing on the first one's."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynalite.url)

    first = run("demo", SAMPLES / "edge-rejected-rows.csv")
    result = run("demo", SAMPLES / "sample-good.csv")

    assert first.exit_code == 2, first.output
    assert result.exit_code == 0, result.output
    assert f"DynamoDB: {dynalite.url} (from AWS_ENDPOINT_URL_DYNAMODB)." in _said(result.output)
    client = dynalite.client()
    try:
        assert client.scan(TableName="csv-ingest-demo-table")["Count"] == 5
    finally:
        client.delete_table(TableName="csv-ingest-demo-table")
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == dynalite.url
