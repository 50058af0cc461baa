"""Memory stays bounded on hostile input, on both paths: a row of 268 million cells and a line of 1 GiB (plain and
gzipped) fail the file with the reason, in a process whose peak memory is measured (it was 2.1-4.3 GB before)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.hostile_files import GIB, MIB, repeated_gzip, run_measured, sparse_line

# Far above the engine's own needs (the interpreter, boto3 and the reader: ~60-100 MiB), far below a line of 1 GiB.
PEAK_MIB = 300
FIELD_LIMIT = "malformed CSV in the row that starts on line 1: field larger than field limit (1048576)"
TOO_WIDE = "the header row has more cells than the 65,536 a row may have (context csv_max_cells"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Each file, with what its failure must say."""
    folder = tmp_path_factory.mktemp("hostile")
    return {
        # 256 MiB of commas after the key column's name: one header row of 268,435,457 cells.
        "wide.csv.gz": (repeated_gzip(folder / "wide.csv.gz", b"," * MIB, 256, head=b"customer_id"), TOO_WIDE),
        "line.csv.gz": (repeated_gzip(folder / "line.csv.gz", b"a" * MIB, 1024), FIELD_LIMIT),
        "line.csv": (sparse_line(folder / "line.csv", size=GIB, written=b"a" * (8 * MIB)), FIELD_LIMIT),
    }


@pytest.mark.parametrize("mode", ["ingest", "partition"])
@pytest.mark.parametrize("name", ["wide.csv.gz", "line.csv.gz", "line.csv"])
def test_a_hostile_file_fails_with_its_reason_in_bounded_memory(
    hostile: dict[str, tuple[Path, str]], name: str, mode: str, tmp_path: Path
) -> None:
    """The one-invocation path (`ingest_file` with a writer) and the Partition task fail the file naming why, and
    their process never holds the row or the line."""
    path, reason = hostile[name]
    # when
    run = run_measured([mode, str(path)], cwd=tmp_path)
    # then
    assert run.exit_code == 0, run.stderr[-2000:]
    error = json.loads(run.stdout)["error"]
    assert f"{name}: {reason}" in error, error
    assert run.peak_mib < PEAK_MIB, f"peak {run.peak_mib:,.0f} MiB"
