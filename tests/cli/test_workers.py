"""`load --workers N`: the file partitioned by key over N processes, with the table, report, exit codes and Ctrl-C
of a load by one."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from stub_dynamodb import StubServer

from csv_ingest.cli import dispatch
from csv_ingest.cli.dispatch import Chunker
from csv_ingest.cli.dispatch import Dispatch as _Run
from csv_ingest.cli.worker_pool import WorkerPool as _Pool
from csv_ingest.cli.worker_process import WorkerEnd as _End
from csv_ingest.cli.workers import SMALL_FILE_BYTES, default_workers
from csv_ingest_engine import IngestStopped
from csv_ingest_engine.constants import DEFAULT_KEY_COLUMN, DEFAULT_ORDER_ATTRIBUTE, MAX_CLI_WORKERS, WriteMode
from csv_ingest_engine.ordering import as_of, stamp
from csv_ingest_engine.partitioning import partition_of
from csv_ingest_engine.reading import Record
from csv_ingest_engine.rules import parse_header
from tests.cli.runner import TABLE, run
from tests.support import Endpoint, create_table
from tests.support.dynamodb import table_items
from tests.support.loads import CSV_INGEST, wait_for_rows

# How long anything may take to start or end before a test calls it a failure (not a measurement).
PATIENCE_S = 120.0
HEADER = "customer_id,name,city,visits"
KEYS = 23
# A load's moment, for a stamp a test can expect.
AS_OF = "2026-12-01T18:30:00Z"
AS_OF_STAMP = stamp(as_of(AS_OF))
# Rows the rules reject, at these lines: a blank key, a value past the header's columns, the header again.
REJECTED_LINES = {50: ",no key,nowhere,0", 300: "k1,too,many,fields,here", 550: HEADER}


def _repeating_keys(path: Path, rows: int = 600) -> Path:
    """`rows` rows over KEYS keys that recur from the first line to the last; a key's later rows overwrite its
    name and visits, and leave its city empty two times in three (kept from an earlier row); REJECTED_LINES too."""
    lines = [HEADER]
    for i in range(rows):
        line = len(lines) + 1
        lines.append(REJECTED_LINES.get(line) or f"k{i % KEYS},name {i},{'' if i % 3 else f'city {i}'},{i}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _expected_table(path: Path) -> dict[str, dict[str, str]]:
    """The table a load of `path` must leave: each key's rows applied in file order, empty cells skipped."""
    names = HEADER.split(",")
    items: dict[str, dict[str, str]] = {}
    for line, text in enumerate(path.read_text().splitlines(), start=1):
        if line == 1 or line in REJECTED_LINES:
            continue
        cells = dict(zip(names, text.split(","), strict=True))
        items.setdefault(cells[DEFAULT_KEY_COLUMN], {}).update({name: value for name, value in cells.items() if value})
    return items


def _summary(output: str) -> dict[str, Any]:
    """--json's object, without what differs from run to run (the time)."""
    summary: dict[str, Any] = json.loads(output)
    del summary["seconds"]
    return summary


@pytest.mark.parametrize("chunk_records", [dispatch.CHUNK_RECORDS, 7], ids=["one-chunk-a-worker", "chunks-of-7"])
def test_two_workers_leave_the_table_report_and_counts_of_one(
    endpoint: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_records: int
) -> None:
    """Keys recurring across the whole file, rejected rows at known lines: `--workers 2` leaves the same table as
    `--workers 1` (each key's last row wins), the same report byte for byte, the same exit code and --json. With
    chunks of 7 records, each worker takes its partition as dozens of chunks: a key's rows, spread over many of
    them, still reach the table in file order."""
    # given: both partitions hold keys, and a second table for the one-worker load; the parent (the router, in this
    # process) cuts chunks of `chunk_records` (the workers' own copy of the constant plays no part)
    monkeypatch.setattr(dispatch, "CHUNK_RECORDS", chunk_records)
    source = _repeating_keys(tmp_path / "customers.csv")
    assert {partition_of(f"k{i}", 2) for i in range(KEYS)} == {0, 1}
    rejects = tmp_path / "rejects.csv"
    one_table = f"{endpoint.table}-one"
    create_table(endpoint.dynamodb, one_table, DEFAULT_KEY_COLUMN)
    try:
        # when
        one = run("load", source, "--table", one_table, "--workers", "1", "--rejects", rejects, "--json")
        one_report = rejects.read_bytes()
        two = run("load", source, "--table", endpoint.table, "--workers", "2", "--rejects", rejects, "--json")
        # then
        assert (one.exit_code, two.exit_code) == (2, 2), one.output + two.output
        assert endpoint.items() == table_items(endpoint.dynamodb, one_table, DEFAULT_KEY_COLUMN)
        assert endpoint.items() == _expected_table(source)
        assert rejects.read_bytes() == one_report
        assert _summary(two.output) == _summary(one.output)
        assert [row["line"] for row in _summary(two.output)["rejected_rows"]] == sorted(REJECTED_LINES)
    finally:
        endpoint.dynamodb.delete_table(TableName=one_table)


def test_a_table_that_does_not_exist_fails_the_file_with_exit_1(endpoint: Endpoint, tmp_path: Path) -> None:
    """Every worker's writes are refused: exit 1, and the message names the table, as a load by one process does."""
    result = run("load", _repeating_keys(tmp_path / "customers.csv"), "--table", "nope", "--workers", "2")
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "failed: " in message
    assert "to DynamoDB table 'nope' failed" in message
    assert "0 rows were written, and ingesting the file again is safe" in message


@contextlib.contextmanager
def _stub(latency_s: float, *, refused_keys: frozenset[str] = frozenset()) -> Iterator[StubServer]:
    server = StubServer(latency_s=latency_s, keep_items=True, refused_keys=refused_keys).start_in_thread()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _customers(path: Path, rows: int) -> Path:
    """`rows` rows keyed 00000, 00001, ...: line n holds key n - 2."""
    path.write_text("customer_id,name\n" + "".join(f"{i:05},n{i}\n" for i in range(rows)))
    return path


def test_a_worker_the_table_refuses_stops_the_others_and_the_message_counts_them_all(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    """One worker's rows are refused (AccessDenied) part-way: exit 1, the message names the line, and its count is
    every row written, by both workers (the table's own count)."""
    # given: the key on line 1,502 is refused, as a table whose policy denies it would
    refused = f"{1500:05}"
    with _stub(0.001, refused_keys=frozenset({refused})) as stub:
        # when
        result = run(
            "load", _customers(tmp_path / "customers.csv", 2000), "--table", TABLE, "--endpoint-url", stub.url,
            "--workers", "2", "--json",
        )  # fmt: skip
        # then
        summary = json.loads(result.output)
        assert (result.exit_code, summary["status"]) == (1, "failed"), result.output
        written = re.search(
            r"writing line 1502 to DynamoDB table 'customers' failed \(.*AccessDenied.*\); ([\d,]+) rows were written, "
            r"and ingesting the file again is safe",
            summary["error"],
        )
        assert written, summary["error"]
        assert int(written[1].replace(",", "")) == stub.counters.as_dict()["rows"]
        assert {partition_of(key, 2) for key in stub.counters.items} == {0, 1}  # both workers wrote


def test_an_unknown_profile_fails_the_file_before_anything_is_written(tmp_path: Path) -> None:
    """A worker that cannot build its client (here: no such profile) fails the file, naming the problem."""
    with _stub(0.0) as stub:
        result = run(
            "load", _customers(tmp_path / "customers.csv", 100), "--table", TABLE, "--endpoint-url", stub.url,
            "--profile", "no-such-profile", "--workers", "2",
        )  # fmt: skip
        assert result.exit_code == 1, result.output
        assert "The config profile (no-such-profile) could not be found" in result.output
        assert stub.counters.as_dict()["rows"] == 0


def test_a_worker_that_ends_before_the_parent_goes_on_is_not_taken_for_a_failed_one(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every key in partition 0 of 4: workers 1-3 get the header and their end marker only, and end at once. The
    parent, held back after each item it puts in a queue until those three have taken theirs, takes such a worker's
    last message before it goes on: that worker ended complete, not failed. The load exits 0 with every row in the
    table (it used to stop all workers and report a Ctrl-C that never happened: exit 130)."""
    # given: 3,000 rows, their keys all in partition 0: 6 chunks for worker 0, which writes one row at a time, so
    # that it still has chunks queued when the others end
    keys = [key for key in (f"{i:05}" for i in range(20_000)) if partition_of(key, 4) == 0][:3_000]
    source = tmp_path / "customers.csv"
    source.write_text("customer_id,name\n" + "".join(f"{key},n{key}\n" for key in keys))
    take_messages = _Run._take_messages

    def held_back(run: _Run) -> None:
        give_up = time.monotonic() + PATIENCE_S
        while any(run._pool.inboxes[n].qsize() for n in (1, 2, 3)) and time.monotonic() < give_up:
            time.sleep(0.01)  # (qsize: what was put and not yet taken, on Linux)
        time.sleep(0.05)  # time enough for a worker that just took its end marker to send its last message
        take_messages(run)

    monkeypatch.setattr(_Run, "_take_messages", held_back)
    with _stub(0.0) as stub:
        # when
        result = run(
            "load", source, "--table", TABLE, "--endpoint-url", stub.url, "--workers", "4", "--concurrency", "1",
            "--as-of", AS_OF, "--json",
        )  # fmt: skip
        # then
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output)
        assert (summary["status"], summary["rows_written"]) == ("ok", 3_000), summary
        assert stub.counters.items == {key: {"name": f"n{key}", DEFAULT_ORDER_ATTRIBUTE: AS_OF_STAMP} for key in keys}


class _Load:
    """`csv-ingest load ... --workers 2` in a session of its own, so that Ctrl-C can reach its whole process group as
    a terminal's does (the workers too)."""

    def __init__(self, source: Path, stub: StubServer, env: dict[str, str], *options: str) -> None:
        self.stub = stub
        self.process = subprocess.Popen(
            [
                *CSV_INGEST,
                "load",
                str(source),
                "--table",
                TABLE,
                "--endpoint-url",
                stub.url,
                "--workers",
                "2",
                *options,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def wait_for_rows(self, rows: int) -> None:
        """Until the stub has received `rows` rows: the load is writing."""
        wait_for_rows(self.process, self.stub, rows, patience_s=PATIENCE_S)

    def workers(self) -> list[int]:
        """The process ids of the load's worker processes (not multiprocessing's resource tracker)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    def ctrl_c(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)

    def end(self) -> tuple[int, str, str]:
        """Exit code, stdout, stderr (on one line)."""
        try:
            stdout, stderr = self.process.communicate(timeout=PATIENCE_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            stdout, stderr = self.process.communicate()
            pytest.fail(f"the load did not end {PATIENCE_S:.0f} s after Ctrl-C: {stdout}{stderr}")
        return self.process.returncode, stdout, " ".join(stderr.split())


def _gone(pid: int) -> bool:
    """Whether the process has exited (a zombie waiting for its new parent counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_ctrl_c_stops_every_worker_and_names_the_first_line_that_may_be_missing(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    """Ctrl-C to the whole process group: the workers do not crash on it, the load exits 130 with the first line
    that may be missing, and every row before that line, in either partition, is in the table."""
    # given: a load by two workers that has started writing (0.2 s a write: about a minute for the file)
    rows = 5_000
    with _stub(0.2) as stub:
        load = _Load(_customers(tmp_path / "customers.csv", rows), stub, aws_env)
        load.wait_for_rows(50)
        assert len(load.workers()) == 2
        # when
        load.ctrl_c()
        code, _, stderr = load.end()
        # then
        assert code == 130, stderr
        stopped = re.search(
            r"interrupted: Ctrl-C stopped \S*customers\.csv before line (\d+): ([\d,]+) rows? written, 0 rejected; "
            r"queued rows were not sent\. Rows from line \1 on may be missing; running the same command again is "
            r"safe \(every write is an upsert\)\.",
            stderr,
        )
        assert stopped, stderr
        assert "Traceback" not in stderr
        first_missing, written = int(stopped[1]), int(stopped[2].replace(",", ""))
        received = set(stub.counters.items)
        assert 0 < written <= len(received) < rows
        assert {f"{line - 2:05}" for line in range(2, first_missing)} <= received


def test_a_second_ctrl_c_ends_the_workers_at_once(aws_env: dict[str, str], tmp_path: Path) -> None:
    """A second Ctrl-C does not wait for the writes in flight: "Aborted.", exit 130, no worker left running, and the
    earlier report untouched."""
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("the earlier report\n")
    # given: writes that take 3 s, so that after the first Ctrl-C the workers wait for them
    with _stub(3.0) as stub:
        load = _Load(_customers(tmp_path / "customers.csv", 2_000), stub, aws_env, "--rejects", str(rejects))
        load.wait_for_rows(1)
        workers = load.workers()
        # when
        load.ctrl_c()
        time.sleep(0.5)
        load.ctrl_c()
        code, _, stderr = load.end()
    # then
    assert code == 130, stderr
    assert "Aborted." in stderr
    assert "interrupted:" not in stderr
    assert len(workers) == 2
    assert all(_gone(pid) for pid in workers)
    assert rejects.read_text() == "the earlier report\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["customers.csv", "rejects.csv"]


def test_one_progress_bar_counts_the_rows_of_every_worker(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal, `load --workers 2` draws one bar, with the rows the workers have taken up and rows/s; its
    last frame counts every row of the file."""
    import io

    from rich.console import Console

    from csv_ingest.cli import output

    screen = io.StringIO()
    monkeypatch.setattr(output, "out", Console(file=screen, force_terminal=True, width=120))
    with _stub(0.005) as stub:
        result = run(
            "load", _customers(tmp_path / "customers.csv", 5_000), "--table", TABLE, "--endpoint-url", stub.url,
            "--workers", "2",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    drawn = screen.getvalue()
    assert "━" in drawn
    shown = [int(rows.replace(",", "")) for rows in re.findall(r"([\d,]+) rows, [\d,]+ rows/s", drawn)]
    assert max(shown) > 0
    assert shown[-1] == 5_000  # each worker's end brings the bar to every row it was sent


def test_help_says_how_many_workers_by_default() -> None:
    """`load --help` explains --workers and its default."""
    result = run("load", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert f"Default: this machine's CPUs (at most {MAX_CLI_WORKERS}), but 1 for a file under 256 KiB" in text
    assert "(1 MiB with --mode replace --no-ordering)" in text
    assert "1: everything in this process." in text


@pytest.mark.parametrize("workers", ["0", str(MAX_CLI_WORKERS + 1)])
def test_workers_out_of_range_is_a_usage_error(workers: str) -> None:
    """`--workers` outside 1..MAX_CLI_WORKERS exits 64 before reading anything."""
    result = run("load", "no-such.csv", "--table", TABLE, "--workers", workers)
    assert result.exit_code == 64, result.output
    assert "Invalid value for '--workers'" in result.output


@pytest.mark.parametrize(
    ("size", "mode", "ordered", "cpus", "expected"),
    [
        (SMALL_FILE_BYTES["merge"] - 1, "merge", True, 4, 1),
        (SMALL_FILE_BYTES["merge"], "merge", True, 4, 4),
        (SMALL_FILE_BYTES["merge"], "merge", False, 4, 4),
        (SMALL_FILE_BYTES["merge"], "replace", False, 4, 1),
        (SMALL_FILE_BYTES["replace"], "replace", False, 4, 4),
        # ordered puts go one by one, as merge's updates do: they repay workers where merge does
        (SMALL_FILE_BYTES["merge"] - 1, "replace", True, 4, 1),
        (SMALL_FILE_BYTES["merge"], "replace", True, 4, 4),
        (10**9, "merge", True, 1, 1),
        (10**9, "merge", True, 32, MAX_CLI_WORKERS),
    ],
)
def test_default_workers_are_the_cpus_but_one_for_a_small_file(
    size: int, mode: WriteMode, ordered: bool, cpus: int, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default: one process for a file too small to repay starting others (larger for batched, unordered
    `replace` puts); else the CPUs, at most 8."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)))
    assert default_workers(size, mode, ordered=ordered) == expected


def test_a_small_file_loads_in_this_process_by_default(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --workers, a file under the threshold never starts a worker process."""

    def no_workers(*args: object, **kwargs: object) -> None:
        raise AssertionError("worker processes started for a small file")

    monkeypatch.setattr("csv_ingest.cli.file_run.ingest_in_workers", no_workers)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    with _stub(0.0) as stub:
        result = run("load", _customers(tmp_path / "customers.csv", 100), "--table", TABLE, "--endpoint-url", stub.url)
        assert result.exit_code == 0, result.output
        assert stub.counters.as_dict()["rows"] == 100


# -- the parent's bookkeeping: which line a stopped load may have missed from -----------------------------------


def _chunker(monkeypatch: pytest.MonkeyPatch) -> tuple[Chunker, Iterator[Record]]:
    """A chunker over 2 partitions with chunks of 2 records, and the records of lines 2-7: keys d d a d a a, where d
    is in partition 0 and a in partition 1."""
    assert (partition_of("d", 2), partition_of("a", 2)) == (0, 1)
    monkeypatch.setattr(dispatch, "CHUNK_RECORDS", 2)
    header = parse_header(["customer_id", "name"], key_column=DEFAULT_KEY_COLUMN, source="customers.csv")
    records = iter([Record(line, [key, f"n{line}"]) for line, key in enumerate("ddadaa", start=2)])
    return Chunker(header, 2), records


def test_first_unsent_line_when_routing_stops_mid_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before anything is read, line 1; then the earliest line still in a partly filled chunk, or the next one
    to read, whichever comes first."""
    chunker, records = _chunker(monkeypatch)
    assert chunker.first_unsent_line() == 1
    full = chunker.full(records)
    # when: partition 0's first chunk (lines 2 and 3) fills; nothing waits, line 4 is not read yet
    assert next(full) == (0, [(2, ["d", "n2"]), (3, ["d", "n3"])])
    assert chunker.first_unsent_line() == 4
    # when: partition 1's (lines 4 and 6) fills; line 5 waits in partition 0's, line 7 is not read yet
    assert next(full) == (1, [(4, ["a", "n4"]), (6, ["a", "n6"])])
    assert chunker.first_unsent_line() == 5


def test_first_unsent_line_when_routing_stops_in_the_partly_filled_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once every record is read, only the partly filled chunks not handed out count; none left: None."""
    chunker, records = _chunker(monkeypatch)
    assert [index for index, _ in chunker.full(records)] == [0, 1]  # lines 2 3, then 4 6; 5 and 7 left over
    assert chunker.first_unsent_line() == 5
    rest = chunker.rest()
    assert next(rest) == (0, [(5, ["d", "n5"])])
    assert chunker.first_unsent_line() == 7
    assert next(rest) == (1, [(7, ["a", "n7"])])
    assert chunker.first_unsent_line() is None
    assert list(rest) == []
    assert chunker.first_unsent_line() is None


def _run_of(workers: int) -> _Run:
    """A `_Run` over a pool of `workers` that never starts: for its bookkeeping only."""
    pool = SimpleNamespace(processes=[None] * workers, ended={}, source="customers.csv")
    return _Run(cast(_Pool, pool), on_reject=lambda rejection: None, report=None, on_progress=None, should_stop=None)


def test_first_missing_line_counts_a_chunk_sent_but_never_taken() -> None:
    """A worker that took fewer chunks than it was sent: the first line of the first one it did not take."""
    run = _run_of(2)
    run._sent[0].extend([2, 600, 1_300])
    run._sent[1].extend([3, 700])
    assert run._first_missing_line([_End(0, chunks_taken=3), _End(1, chunks_taken=2)]) is None
    assert run._first_missing_line([_End(0, chunks_taken=1), _End(1, chunks_taken=2)]) == 600
    assert run._first_missing_line([_End(0, chunks_taken=1), _End(1, chunks_taken=0)]) == 3


def test_first_missing_line_counts_a_worker_s_own_and_the_unsent_line() -> None:
    """The earliest of: a worker's own first missing line (rows it took but did not settle), a chunk it did not
    take, the first line never routed."""
    run = _run_of(2)
    run._sent[0].extend([2, 600])
    run._sent[1].extend([3, 700])
    ends = [_End(0, chunks_taken=2, first_missing_line=650), _End(1, chunks_taken=1)]
    assert run._first_missing_line(ends) == 650
    ends = [_End(0, chunks_taken=2, first_missing_line=450), _End(1, chunks_taken=1)]
    assert run._first_missing_line(ends) == 450
    run._unsent_line = 400
    assert run._first_missing_line(ends) == 400
    run._unsent_line = 1_400
    assert run._first_missing_line([_End(0, chunks_taken=2), _End(1, chunks_taken=2)]) == 1_400


def test_a_stopped_load_by_workers_counts_every_worker_s_superseded_rows() -> None:
    """Ctrl-C during a load by two workers: the stop carries the rows both superseded, as one worker's would."""
    pool = SimpleNamespace(
        processes=[None, None],
        ended={
            0: _End(0, written=5, superseded=2, complete=True),
            1: _End(1, written=1, superseded=3, first_missing_line=40),
        },
        source="customers.csv",
        settings=SimpleNamespace(table=TABLE, patience_s=1.0),
    )
    run = _Run(cast(_Pool, pool), on_reject=lambda rejection: None, report=None, on_progress=None, should_stop=None)
    with pytest.raises(IngestStopped) as stopped:
        run._outcome()
    assert (stopped.value.rows_written, stopped.value.rows_superseded, stopped.value.first_missing_line) == (6, 5, 40)
