"""benchmarks/large_file_demo.py, small: a file through `csv-ingest demo`'s state machine and through one
invocation, each on dynalite, checked against the table the file itself says it must leave."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from csv_ingest.local.dynalite import DYNALITE_PACKAGE
from tests.cli.runner import ROOT

SCRIPT = ROOT / "benchmarks" / "large_file_demo.py"


def _missing_dynalite() -> str | None:
    """Why dynalite cannot start here, in Dynalite.start's words; None if it can."""
    if shutil.which("node") is None:
        return "node is not on PATH: the script runs DynamoDB on dynalite, which needs Node.js 20 or later"
    if not (DYNALITE_PACKAGE / "package.json").is_file():
        return f"{DYNALITE_PACKAGE} is missing: run `npm ci` (./run-unit-tests.sh does)"
    return None


MISSING_DYNALITE = _missing_dynalite()


@pytest.mark.skipif(MISSING_DYNALITE is not None, reason=MISSING_DYNALITE or "")
def test_the_large_file_demo_script_finds_both_paths_leave_the_expected_table(aws_env: dict[str, str]) -> None:
    """3,000 rows, 11 of them rejected (10 empty keys, 1 row too wide): both runs report 2,989 written and 11
    rejected, their exports are the same bytes and the table the file says, so the script exits 0 and says so."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "3000"],
        env=aws_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical tables: yes" in result.stdout
    lines = result.stdout.splitlines()
    for label in ("state machine", "one invocation"):
        assert next(line for line in lines if line.startswith(label)).split()[-2:] == ["2,989", "11"]
