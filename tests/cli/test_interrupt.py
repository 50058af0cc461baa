"""Ctrl-C during `load`: it stops sending within seconds, says from which line rows may be missing, exits 130;
during `validate`, it says what was checked.

The load runs as its own process against a slow stub DynamoDB endpoint on loopback, and gets a real SIGINT.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from stub_dynamodb import StubServer

from csv_ingest_engine import ingest_file
from tests.cli.runner import TABLE, run
from tests.support.loads import CSV_INGEST, wait_for_rows

ROWS = 5_000
# The bar is "within a second or two"; the margin is for a loaded 2-core machine.
STOPPED_WITHIN_S = 5.0
# How long anything may take to start before a test calls it a failure (not a measurement).
PATIENCE_S = 120.0


@contextlib.contextmanager
def _stub(latency_s: float) -> Iterator[StubServer]:
    server = StubServer(latency_s=latency_s, keep_items=True).start_in_thread()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def slow_stub() -> Iterator[StubServer]:
    """A stub DynamoDB answering each write after 0.2 s: a few thousand rows take about a minute."""
    with _stub(0.2) as server:
        yield server


def _customers(path: Path, rows: int = ROWS, *, keyless_first: int = 0) -> Path:
    """`keyless_first` rejected rows (no key) at lines 2, 3, ..., then `rows` rows keyed 00000, 00001, ..."""
    path.write_text("customer_id,name\n" + ",no key\n" * keyless_first + "".join(f"{i:05},n{i}\n" for i in range(rows)))
    return path


class _Load:
    """`csv-ingest load SOURCE --table customers --endpoint-url STUB ...`, running as its own process."""

    def __init__(self, source: Path, stub: StubServer, env: dict[str, str], *options: str) -> None:
        self.stub = stub
        self.process = subprocess.Popen(
            [*CSV_INGEST, "load", str(source), "--table", TABLE, "--endpoint-url", stub.url, *options],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_for_rows(self, rows: int) -> None:
        """Until the stub has received `rows` rows: the load is writing."""
        wait_for_rows(self.process, self.stub, rows, patience_s=PATIENCE_S)

    def ctrl_c(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def end(self) -> tuple[int, str, str, float]:
        """Exit code, stdout, stderr (on one line), and seconds from now to the exit."""
        started = time.monotonic()
        try:
            stdout, stderr = self.process.communicate(timeout=PATIENCE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
            pytest.fail(f"the load did not end {PATIENCE_S:.0f} s after Ctrl-C: {stdout}{stderr}")
        return self.process.returncode, stdout, " ".join(stderr.split()), time.monotonic() - started


def _stub_rows_settle(stub: StubServer) -> int:
    """The stub's row count, checked again a second later: nothing may still be sending."""
    rows = stub.counters.as_dict()["rows"]
    time.sleep(1.0)
    assert stub.counters.as_dict()["rows"] == rows, "rows kept arriving after the load exited"
    return rows


def test_ctrl_c_stops_a_load_within_seconds_and_names_the_first_line_that_may_be_missing(
    slow_stub: StubServer, aws_env: dict[str, str], tmp_path: Path
) -> None:
    """Ctrl-C: exit 130 within seconds, nothing sent after, the message names the line and says re-running is safe."""
    # given: a load that has started writing
    load = _Load(_customers(tmp_path / "customers.csv"), slow_stub, aws_env)
    load.wait_for_rows(50)
    # when
    load.ctrl_c()
    code, _, stderr, seconds = load.end()
    # then
    assert code == 130, stderr
    assert seconds < STOPPED_WITHIN_S, stderr
    stopped = re.search(
        r"interrupted: Ctrl-C stopped \S*customers\.csv before line (\d+): ([\d,]+) rows? written, 0 rejected; "
        r"queued rows were not sent\. Rows from line \1 on may be missing; running the same command again is safe "
        r"\(every write is an upsert\)\.",
        stderr,
    )
    assert stopped, stderr
    first_missing, written = int(stopped[1]), int(stopped[2].replace(",", ""))
    received = _stub_rows_settle(slow_stub)
    assert received < ROWS  # it stopped sending, it did not finish
    assert written <= received
    # every row before the line named is in the table (line 2 holds key 00000)
    assert {f"{line - 2:05}" for line in range(2, first_missing)} <= set(slow_stub.counters.items)


def test_ctrl_c_with_json_prints_status_interrupted(
    slow_stub: StubServer, aws_env: dict[str, str], tmp_path: Path
) -> None:
    """`load --json`, stopped by Ctrl-C: one JSON object, status "interrupted", exit code 130, first_missing_line."""
    load = _Load(_customers(tmp_path / "customers.csv"), slow_stub, aws_env, "--json")
    load.wait_for_rows(50)
    load.ctrl_c()
    code, stdout, stderr, _ = load.end()
    assert code == 130, stdout + stderr
    summary = json.loads(stdout)
    assert (summary["status"], summary["exit_code"], summary["rows_rejected"]) == ("interrupted", 130, 0)
    assert 2 <= summary["first_missing_line"] <= ROWS + 1
    assert 0 < summary["rows_written"] < ROWS
    assert f"before line {summary['first_missing_line']}:" in summary["error"]
    assert "running the same command again is safe" in summary["error"]


def test_ctrl_c_keeps_the_rows_rejected_so_far_in_the_report(
    slow_stub: StubServer, aws_env: dict[str, str], tmp_path: Path
) -> None:
    """With --rejects, the rows rejected before Ctrl-C are in the report, and the message says where."""
    rejects = tmp_path / "rejects.csv"
    load = _Load(_customers(tmp_path / "customers.csv", keyless_first=3), slow_stub, aws_env, "--rejects", str(rejects))
    load.wait_for_rows(50)
    load.ctrl_c()
    code, _, stderr, _ = load.end()
    assert code == 130, stderr
    assert ", 3 rejected; queued rows were not sent." in stderr
    assert f"The 3 rows rejected so far are in {rejects}: every rejected row before line " in stderr
    with rejects.open(encoding="utf-8", newline="") as report:
        assert [row[-2:] for row in csv.reader(report)][1:] == [
            [str(line), "the 'customer_id' cell is empty"] for line in (2, 3, 4)
        ]


def test_a_second_ctrl_c_aborts_at_once_and_leaves_the_earlier_report(aws_env: dict[str, str], tmp_path: Path) -> None:
    """A second Ctrl-C does not wait for the writes in flight: exit 130, "Aborted.", the earlier report untouched."""
    # given: writes that take 3 s, so that after the first Ctrl-C the load waits for them (up to its 2 s grace)
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("the earlier report\n")
    with _stub(3.0) as stub:
        load = _Load(_customers(tmp_path / "customers.csv", keyless_first=3), stub, aws_env, "--rejects", str(rejects))
        load.wait_for_rows(1)
        # when
        load.ctrl_c()
        time.sleep(0.5)
        load.ctrl_c()
        code, _, stderr, seconds = load.end()
    # then
    assert code == 130, stderr
    assert "Aborted." in stderr
    assert "interrupted:" not in stderr  # the first Ctrl-C's orderly stop did not get to finish
    assert seconds < STOPPED_WITHIN_S, stderr
    assert rejects.read_text() == "the earlier report\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["customers.csv", "rejects.csv"]


@pytest.fixture
def interactive_sigint() -> Iterator[None]:
    """SIGINT at Python's default in this process, as in an interactive shell, even when the test runner was started
    with it ignored (a background job without job control), which `load` respects and leaves alone."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _calling_ingest_file_with(before: Callable[[], None]) -> Callable[..., Any]:
    """`ingest_file`, with `before()` run as the command line calls it."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        before()
        return ingest_file(*args, **kwargs)

    return wrapped


@pytest.mark.usefixtures("interactive_sigint")
def test_ctrl_c_while_the_file_is_checked_writes_nothing(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during the first pass (it only reads): exit 130, nothing written, and the message says so."""
    with _stub(0.0) as stub:
        # given: SIGINT arrives as the run starts, before the first pass has read 256 rows
        monkeypatch.setattr(
            "csv_ingest.cli.file_run.ingest_file",
            _calling_ingest_file_with(lambda: os.kill(os.getpid(), signal.SIGINT)),
        )
        # when
        result = run(
            "load", _customers(tmp_path / "customers.csv", 1_000), "--table", TABLE, "--endpoint-url", stub.url
        )
        # then
        assert result.exit_code == 130, result.output
        assert "before the first write: nothing was written. Running the same command again is safe." in " ".join(
            result.output.split()
        )
        assert stub.counters.as_dict()["rows"] == 0


@pytest.mark.usefixtures("interactive_sigint")
def test_load_handles_ctrl_c_only_while_it_runs(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`load` installs its SIGINT handler for the run and puts the previous one back after."""
    before = signal.getsignal(signal.SIGINT)
    during: list[object] = []
    monkeypatch.setattr(
        "csv_ingest.cli.file_run.ingest_file",
        _calling_ingest_file_with(lambda: during.append(signal.getsignal(signal.SIGINT))),
    )
    with _stub(0.0) as stub:
        result = run("load", _customers(tmp_path / "customers.csv", 3), "--table", TABLE, "--endpoint-url", stub.url)
    assert result.exit_code == 0, result.output
    assert during != [before]
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.usefixtures("interactive_sigint")
@pytest.mark.parametrize("as_json", [True, False])
def test_ctrl_c_stops_validate_saying_what_was_checked(
    as_json: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`validate`, stopped by Ctrl-C: exit 130 and what was checked before; with --json, one JSON object on stdout."""
    # given: SIGINT as the check starts; it stops at its next look, before the 256th record (line 257)
    monkeypatch.setattr(
        "csv_ingest.cli.file_run.ingest_file", _calling_ingest_file_with(lambda: os.kill(os.getpid(), signal.SIGINT))
    )
    source = _customers(tmp_path / "customers.csv", 1_000, keyless_first=3)
    # when
    result = run("validate", source, *(["--json"] if as_json else []))
    # then
    assert result.exit_code == 130, result.output
    message = (
        f"Ctrl-C stopped checking {source} before line 257: of the rows before it, 252 rows valid, 3 rejected; rows "
        "from line 257 on were not checked. Nothing was written; run the same command again to check the whole file."
    )
    if not as_json:
        assert f"interrupted: {message}" in " ".join(result.output.split())
        return
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["exit_code"], summary["first_missing_line"]) == ("interrupted", 130, 257)
    assert (summary["rows_valid"], summary["rows_rejected"]) == (252, 3)
    assert [rejection["line"] for rejection in summary["rejected_rows"]] == [2, 3, 4]
    assert summary["error"] == message


def test_validate_stopped_by_ctrl_c_says_its_report_holds_the_rows_before_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate reads in one process and stops at the line: its --rejects report holds the rows rejected before
    it, and the message says just that (not load's "read before the load stopped")."""
    monkeypatch.setattr(
        "csv_ingest.cli.file_run.ingest_file", _calling_ingest_file_with(lambda: os.kill(os.getpid(), signal.SIGINT))
    )
    source, report = _customers(tmp_path / "customers.csv", 1_000, keyless_first=3), tmp_path / "rejected.csv"
    result = run("validate", source, "--rejects", report)
    assert result.exit_code == 130, result.output
    assert f"The 3 rows rejected before line 257 are in {report}." in " ".join(result.output.split())
    assert "load" not in result.output


def test_an_unhandled_interrupt_aborts_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyboardInterrupt no run handles (a second Ctrl-C) aborts at once: "Aborted.", exit 130 as a shell reports
    it."""

    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("csv_ingest.cli.file_run.ingest_file", _calling_ingest_file_with(interrupt))
    result = run("validate", _customers(tmp_path / "customers.csv", 3))
    assert result.exit_code == 130, result.output
    assert "Aborted." in result.output
