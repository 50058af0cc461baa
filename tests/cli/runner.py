"""How the command line's tests run `csv-ingest`: in-process with click's runner, from the repository's samples."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from csv_ingest.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample-csvs"
# For the tests that fail before any AWS call: the table is never looked at.
TABLE = "customers"


def run(*args: str | Path) -> Result:
    """`csv-ingest ARGS...`: its exit code, and stdout and stderr together in `output`."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
