"""`csv-ingest demo --large-file-bytes N --export PATH` (and `./run-local.sh` with them): the state machine path on
the emulator, what it prints, its exit codes, and a table export two runs can be compared by."""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from csv_ingest.cli import demo, demo_tables
from csv_ingest.local import lambdas
from csv_ingest_engine.constants import (
    BOOKKEEPING_PREFIX,
    DEFAULT_ORDER_ATTRIBUTE,
    DEFAULT_PARTITION_BYTES,
    HANDLER_INGEST_PARTITION,
)
from csv_ingest_engine.partitioning import partition_count, partition_of
from tests.cli.runner import ROOT, SAMPLES, run

# Duplicate keys (the last row of a key wins, an empty cell keeps what is there), a blank key on line 4 and too
# many fields on line 6.
CUSTOMERS = "customer_id,name,city\n1,Ann,Oslo\n2,Bob,\n,nobody,Rome\n1,Anne,\n3,Cid,Lima,extra\n2,,Bern\n"


def _file(tmp_path: Path, text: str = CUSTOMERS, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def partitions_with_rows(text: str) -> int:
    """How many of the demo's partitions of `text` get rows (a partition without rows is not listed)."""
    count = partition_count(len(text.encode()), demo.demo_partition_bytes(len(text.encode())))
    keys = [line.split(",")[0] or None for line in text.splitlines()[1:]]
    return len({partition_of(key, count) for key in keys})


def test_demo_sends_a_file_over_the_threshold_through_the_state_machine(tmp_path: Path) -> None:
    """With --large-file-bytes 0 the demo says it took the state machine and the partition size it cut by, shows
    the partitions and their counts and the execution's outcome, then the table and the merged report; rows were
    rejected, so it exits 2."""
    path = _file(tmp_path)
    result = run("demo", path, "--large-file-bytes", "0")
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    size = path.stat().st_size
    assert f"Path: the state machine (the file is {size} bytes, over the large-file threshold of 0)" in output
    assert f"Partition size: {-(-size // 4)} bytes (the file cut in 4, so that the Map runs several workers" in output
    assert partitions_with_rows(CUSTOMERS) > 1
    assert f"Partitions (6 rows in {partitions_with_rows(CUSTOMERS)})" in output
    assert "SUCCEEDED." in output
    assert "State machine summary: 4 rows written, 2 rejected." in output
    assert "Rejected rows, reported in s3://csv-ingest-demo-rejects/customers." in output
    assert "(2 items)" in output


@pytest.mark.parametrize(
    ("size", "partition_bytes", "partitions"),
    [
        (1, 1, 1),
        (86, 22, 4),
        (4 * DEFAULT_PARTITION_BYTES - 1, DEFAULT_PARTITION_BYTES, 4),
        (4 * DEFAULT_PARTITION_BYTES, DEFAULT_PARTITION_BYTES, 4),
        (10**12, DEFAULT_PARTITION_BYTES, 10_000),
    ],
)
def test_the_demo_cuts_a_file_smaller_than_four_default_partitions_in_four(
    size: int, partition_bytes: int, partitions: int
) -> None:
    """Below four of the stack's partitions a quarter of the file (at least a byte), so the Map shows several;
    from there the stack's own partition size."""
    assert demo.demo_partition_bytes(size) == partition_bytes
    assert partition_count(size, partition_bytes) == partitions


def test_demo_of_a_small_file_says_it_took_one_invocation(tmp_path: Path) -> None:
    """At the default threshold a small file is ingested by the trigger itself, and the demo says so."""
    path = _file(tmp_path)
    result = run("demo", path)
    assert result.exit_code == 2, result.output
    size = path.stat().st_size
    expected = f"Path: one invocation (the file is {size} bytes, not over the large-file threshold of 8,388,608)."
    assert expected in " ".join(result.output.split())


def test_both_paths_export_the_same_table(tmp_path: Path) -> None:
    """The one-invocation path and the state machine leave the same table: their exports are identical."""
    path = _file(tmp_path)
    single, large = tmp_path / "single.csv", tmp_path / "large.csv"
    assert run("demo", path, "--export", single).exit_code == 2
    assert run("demo", path, "--large-file-bytes", "0", "--export", large).exit_code == 2
    assert large.read_bytes() == single.read_bytes()


def test_the_export_has_the_key_first_then_every_attribute_sorted(tmp_path: Path) -> None:
    """One line per item, by key; the key column, then every attribute name seen, sorted; an empty cell where an
    item lacks one (here 2 has no name: its only name cell was empty). The pipeline's bookkeeping (the items' order
    stamp) is left out, in the export as in the table shown."""
    export = tmp_path / "table.csv"
    result = run("demo", _file(tmp_path), "--export", export)
    assert f"Exported the table (2 items) to {export}." in " ".join(result.output.split())
    assert export.read_bytes() == b"customer_id,city,name\r\n1,Oslo,Anne\r\n2,Bern,Bob\r\n"
    assert BOOKKEEPING_PREFIX not in result.output


@pytest.mark.parametrize("large_file_bytes", ["8388608", "0"], ids=["one-invocation", "state-machine"])
def test_bookkeeping_shows_and_exports_the_upload_order_stamp(tmp_path: Path, large_file_bytes: str) -> None:
    """With --bookkeeping the table shown and the export have `_csv_ingest_order` too: one upload, one stamp on
    every item (the upload's time, then S3's sequencer), on either path."""
    export = tmp_path / "table.csv"
    result = run("demo", _file(tmp_path), "--large-file-bytes", large_file_bytes, "--export", export, "--bookkeeping")
    assert result.exit_code == 2, result.output
    assert BOOKKEEPING_PREFIX in result.output  # the column's heading (cut to the terminal's width)
    header, *rows = csv.reader(export.open(encoding="utf-8", newline=""))
    assert header == ["customer_id", DEFAULT_ORDER_ATTRIBUTE, "city", "name"]
    assert [(row[0], row[2], row[3]) for row in rows] == [("1", "Oslo", "Anne"), ("2", "Bern", "Bob")]
    stamps = {row[1] for row in rows}
    assert len(stamps) == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [0-9A-F]{24}", stamps.pop())


@pytest.mark.parametrize("large_file_bytes", ["8388608", "0"], ids=["one-invocation", "state-machine"])
@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_no_ordering_runs_the_functions_as_a_stack_deployed_without_it(
    tmp_path: Path, large_file_bytes: str, mode: str
) -> None:
    """--no-ordering (context ordering=off): the items carry no stamp, even with --bookkeeping, on either path and
    in either mode (replace then batches its puts)."""
    export = tmp_path / "table.csv"
    result = run(
        "demo",
        _file(tmp_path),
        "--large-file-bytes",
        large_file_bytes,
        "--mode",
        mode,
        "--no-ordering",
        "--export",
        export,
        "--bookkeeping",
    )
    assert result.exit_code == 2, result.output
    header, *rows = csv.reader(export.open(encoding="utf-8", newline=""))
    assert header == ["customer_id", "city", "name"]
    assert [row[0] for row in rows] == ["1", "2"]


def test_the_good_sample_through_the_state_machine_exits_0(tmp_path: Path) -> None:
    """No rejected rows: exit 0, five items."""
    result = run("demo", SAMPLES / "sample-good.csv", "--large-file-bytes", "0")
    assert result.exit_code == 0, result.output
    assert "State machine summary: 5 rows written, 0 rejected." in result.output


def test_a_bad_header_through_the_state_machine_fails_with_the_partition_message(tmp_path: Path) -> None:
    """The brief's bad sample fails at Partition: exit 1, the execution FAILED, and the message a user can act on."""
    result = run("demo", SAMPLES / "sample-bad.csv", "--large-file-bytes", "0")
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "FAILED." in output
    assert (
        "The file failed: s3://csv-ingest-demo-uploads/sample-bad.csv: the header has no 'customer_id' column" in output
    )


def test_a_crashing_partition_worker_fails_the_demo_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partition's worker crashes: the table shows why it did not report, the execution FAILED, and the demo
    prints Finish's message naming the object, and exits 1."""
    engine = lambdas.entry_points

    def crashing() -> dict[str, Any]:
        def ingest_partition(event: dict[str, Any], context: Any) -> Any:
            raise MemoryError("out of memory (a test's crash)")

        return {**engine(), HANDLER_INGEST_PARTITION: ingest_partition}

    monkeypatch.setattr(lambdas, "entry_points", crashing)
    result = run("demo", _file(tmp_path), "--large-file-bytes", "0")
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "did not report" in output and "MemoryError" in output  # in the partitions table, wrapped to its width
    assert "FAILED." in output
    count = partitions_with_rows(CUSTOMERS)
    failed = (
        f"The file failed: s3://csv-ingest-demo-uploads/customers.csv: {count} of {count} partitions did not finish"
    )
    assert failed in output


def test_the_export_may_not_overwrite_the_file_being_ingested(tmp_path: Path) -> None:
    """--export naming the input is a usage error (exit 64), and the input is left as it was."""
    path = _file(tmp_path)
    result = run("demo", path, "--export", path)
    assert result.exit_code == 64, result.output
    assert "the export would overwrite it" in result.output
    assert path.read_text() == CUSTOMERS


def test_a_negative_threshold_is_a_usage_error(tmp_path: Path) -> None:
    result = run("demo", _file(tmp_path), "--large-file-bytes", "-1")
    assert result.exit_code == 64, result.output


def test_run_local_passes_its_options_to_the_demo(tmp_path: Path) -> None:
    """`./run-local.sh FILE --large-file-bytes 0 --export PATH` runs the state machine path and writes the export."""
    _file(tmp_path)
    completed = subprocess.run(
        [str(ROOT / "run-local.sh"), "customers.csv", "--large-file-bytes", "0", "--export", "out.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "Path: the state machine" in completed.stdout
    assert (tmp_path / "out.csv").read_text().startswith("customer_id,city,name")


def test_the_partitions_table_counts_one_row_in_the_singular() -> None:
    """ "Partitions (1 row in 1)", not "(1 rows in 1)"."""
    table = demo_tables.partitions_table({"rows": 1, "partitions": 1}, lambdas.InProcessLambda({}))
    assert table.title == "Partitions (1 row in 1)"
