"""A `csv-ingest load` as a process of its own against the stub DynamoDB: how to start it, and waiting until it
writes."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from stub_dynamodb import StubServer

# `csv-ingest`, as an interactive shell starts it: SIGINT at its default, even when the test runner itself was
# started with SIGINT ignored (a background job), which a child inherits and `load` respects.
CSV_INGEST = [
    sys.executable,
    "-c",
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from csv_ingest.cli import main; sys.exit(main())",
]


def wait_for_rows(process: subprocess.Popen[str], stub: StubServer, rows: int, *, patience_s: float) -> None:
    """Until the stub has received `rows` rows (the load is writing); fail the test, with the load's output, if
    the load ends or `patience_s` passes first."""
    give_up = time.monotonic() + patience_s
    while stub.counters.as_dict()["rows"] < rows:
        if process.poll() is not None or time.monotonic() > give_up:
            process.kill()
            stdout, stderr = process.communicate()
            pytest.fail(f"the load never wrote {rows} rows (exit {process.returncode}): {stdout}{stderr}")
        time.sleep(0.05)
