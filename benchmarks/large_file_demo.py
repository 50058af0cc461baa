"""The large-file path on the emulator, end to end: one big CSV through `csv-ingest demo`'s state machine (Partition,
a Distributed Map of partition workers, Finish) and through one invocation, checked against the table the file
itself says it must leave.

    .venv/bin/python benchmarks/large_file_demo.py [--rows 1000000] [--mode replace|merge] [--workdir DIR] [--keep]

It writes a CSV whose keys repeat across the whole file (the last row of a key wins) with a few rows rejected at
known lines, then runs `csv-ingest demo FILE --export` on it twice, each in a process of its own with DynamoDB on a
fresh dynalite (`AWS_ENDPOINT_URL_DYNAMODB`; S3, Lambda and Step Functions stay on moto, in that process):
`--large-file-bytes 0` (the state machine) and `--large-file-bytes` the file's size (one invocation). It prints each
run's seconds (the whole process: start-up, upload, ingest, the demo's tables and the export), rows/s, peak RSS and
counts, and exits 1 unless both exports are byte for byte the same, equal the table worked out from the file, and
every count and exit code is the expected one.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import filecmp
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambda"), str(ROOT / "benchmarks")]

from csv_ingest_engine.constants import DEFAULT_WRITE_MODE, EXIT_OK, EXIT_REJECTED, WRITE_MODES  # noqa: E402
from tests.support.dynamodb import Dynalite  # noqa: E402

HEADER = ("customer_id", "name", "city", "n")
CITIES = ("Oslo", "Lima", "Bern", "Rome", "Kyiv", "Pune", "Baku")
# Every REJECT_EVERY-th row has an empty key (every tenth row of a file under a million rows, so that small runs
# reject rows too).
REJECT_EVERY = 100_000
SUMMARY = re.compile(r"(?:State machine|Handler) summary: ([\d,]+) rows? written, ([\d,]+) rejected\.")
OUTPUT_TAIL_LINES = 40

Table = dict[str, dict[str, str]]  # key -> {attribute: value}, the key not among the attributes


@dataclass(frozen=True, slots=True)
class Route:
    """One of the two ways through the demo: its label, and the line the demo prints when it takes it."""

    label: str
    says: str
    large: bool

    def large_file_bytes(self, size: int) -> int:
        """The demo's --large-file-bytes for a file of `size` bytes: 0 sends every file to the state machine; a
        file not over the threshold is ingested by one invocation."""
        return 0 if self.large else size

    def export(self, workdir: Path) -> Path:
        return workdir / f"export-{self.label.replace(' ', '-')}.csv"

    def output(self, workdir: Path) -> Path:
        return workdir / f"output-{self.label.replace(' ', '-')}.txt"


ROUTES = (
    Route("state machine", "Path: the state machine", large=True),
    Route("one invocation", "Path: one invocation", large=False),
)


@dataclass(frozen=True, slots=True)
class Expected:
    """What the file must leave, worked out from the file alone."""

    table: Table
    written: int
    rejected: int


@dataclass(frozen=True, slots=True)
class Run:
    """One `csv-ingest demo` process: how it ended, how long it took, its peak RSS, and what it printed."""

    route: Route
    exit_code: int
    seconds: float
    peak_rss_mb: float
    output: str
    export: Path

    def counts(self) -> tuple[int, int] | None:
        """The rows written and rejected the demo's summary line gives, or None if it printed none."""
        found = SUMMARY.search(" ".join(self.output.split()))
        if found is None:
            return None
        return int(found[1].replace(",", "")), int(found[2].replace(",", ""))


# -- the file ---------------------------------------------------------------------------------------------------------


def csv_file(workdir: Path, rows: int) -> Path:
    return workdir / f"large-{rows}.csv"


def write_csv(path: Path, rows: int) -> None:
    """`rows` rows over rows * 2 // 5 keys, each key's rows spread across the whole file, every value distinct (so
    the row that wins shows). Rejected: every REJECT_EVERY-th row (its key left empty), and the last row of one key
    (a field too many), which must not win over that key's row before it."""
    keys = rows * 2 // 5
    every = min(REJECT_EVERY, rows // 10)
    too_wide = rows - keys // 2
    if (too_wide + 1) % every == 0:
        too_wide -= 1
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(",".join(HEADER) + "\n")
        for i in range(rows):
            key = "" if (i + 1) % every == 0 else str(i % keys)
            extra = ",extra" if i == too_wide else ""
            file.write(f"{key},name-{i},{CITIES[i % len(CITIES)]},{i}{extra}\n")


def expected_from(path: Path) -> Expected:
    """The table `path` must leave and its counts: a row with the header's width and a key replaces its key's item
    (no attribute cell is empty, so merge and replace agree); any other row is rejected."""
    table: Table = {}
    written = rejected = 0
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.reader(file)
        header = next(reader)
        for cells in reader:
            if len(cells) != len(header) or not cells[0]:
                rejected += 1
                continue
            table[cells[0]] = dict(zip(header[1:], cells[1:], strict=True))
            written += 1
    return Expected(table, written, rejected)


def read_export(path: Path) -> Table:
    """An export of `csv-ingest demo --export` as a table."""
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.reader(file)
        header = next(reader)
        return {cells[0]: dict(zip(header[1:], cells[1:], strict=True)) for cells in reader}


# -- the runs ---------------------------------------------------------------------------------------------------------


def demo_environment(dynamodb_url: str) -> dict[str, str]:
    """This environment with DynamoDB at `dynamodb_url`, and the region and (dummy) credentials the demo needs."""
    env = {**os.environ, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url}
    # A profile or a catch-all endpoint from the machine would send the demo's requests somewhere else.
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        env.setdefault(name, value)
    return env


@contextlib.contextmanager
def dynalite() -> Iterator[Dynalite]:
    """A fresh dynalite, stopped however the block ends (and node exits on its own if this process dies: its
    stdin closes)."""
    server = Dynalite.start()
    try:
        yield server
    finally:
        server.stop()


def run_demo(csv_path: Path, route: Route, mode: str, workdir: Path) -> Run:
    """`csv-ingest demo` on `csv_path` along `route`, against a dynalite of its own; its output kept in the
    workdir."""
    export = route.export(workdir)
    command = [
        str(Path(sys.executable).parent / "csv-ingest"),
        "demo",
        str(csv_path),
        "--mode",
        mode,
        "--large-file-bytes",
        str(route.large_file_bytes(csv_path.stat().st_size)),
        "--export",
        str(export),
        # replace is for a first load into an empty table that nothing else writes to: its batches come with
        # ordering off (stamped, each row is a conditional put of its own, at merge's speed).
        *(["--no-ordering"] if mode == "replace" else []),
    ]
    with dynalite() as server, route.output(workdir).open("w+", encoding="utf-8") as output:
        env = demo_environment(server.url)
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        exit_code, peak_rss_mb = wait_measured(process)
        seconds = time.monotonic() - started
        output.seek(0)
        return Run(route, exit_code, seconds, peak_rss_mb, output.read(), export)


def wait_measured(process: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for `process`; its exit code and its own peak RSS in MB (MiB, as benchmarks/run.py counts them), as the
    kernel counted it for that one process (RUSAGE_CHILDREN is a maximum over every child so far). Kill it if the
    wait is interrupted."""
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        process.kill()
        process.wait()
        raise
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return process.returncode, usage.ru_maxrss * scale / 2**20


# -- the checks and the report ----------------------------------------------------------------------------------------


def run_problems(run: Run, expected: Expected) -> list[str]:
    """What is wrong with one run: the route it took, its exit code, its counts, its export."""
    name = run.route.label
    problems = []
    code = EXIT_REJECTED if expected.rejected else EXIT_OK
    if run.exit_code != code:
        problems.append(f"{name}: exit code {run.exit_code}, expected {code}")
    if run.route.says not in " ".join(run.output.split()):
        problems.append(f"{name}: the demo did not say '{run.route.says}'")
    counts = run.counts()
    if counts is None:
        problems.append(f"{name}: no summary line in its output")
    elif counts != (expected.written, expected.rejected):
        problems.append(
            f"{name}: {counts[0]:,} written and {counts[1]:,} rejected, expected "
            f"{expected.written:,} and {expected.rejected:,}"
        )
    if not run.export.is_file():
        problems.append(f"{name}: no export at {run.export}")
    return problems


def table_problems(expected: Table, actual: Table, name: str) -> list[str]:
    """How `actual` differs from the expected table, in a line per kind of difference (none if it does not)."""
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    wrong = sorted(key for key in expected.keys() & actual.keys() if expected[key] != actual[key])
    problems = []
    if missing:
        problems.append(f"{name}: {len(missing):,} keys missing, e.g. {missing[:3]}")
    if extra:
        problems.append(f"{name}: {len(extra):,} keys no accepted row has, e.g. {extra[:3]}")
    if wrong:
        problems.append(
            f"{name}: {len(wrong):,} items differ, e.g. {wrong[0]}: expected {expected[wrong[0]]}, "
            f"found {actual[wrong[0]]}"
        )
    return problems


def export_problems(runs: list[Run], expected: Expected) -> list[str]:
    """Whether the exports are the same bytes, and the state machine's is the expected table."""
    large, single = (run.export for run in runs)
    if not (large.is_file() and single.is_file()):
        return ["no two exports to compare"]
    problems = [] if filecmp.cmp(large, single, shallow=False) else ["the two exports differ"]
    return problems + table_problems(expected.table, read_export(large), f"{runs[0].route.label}'s export")


def print_results(runs: list[Run], expected: Expected, rows: int, identical: bool) -> None:
    print(f"\n{'path':<16} {'seconds':>8} {'rows/s':>8} {'peak RSS MB':>12} {'written':>10} {'rejected':>9}")
    for run in runs:
        counts = run.counts()
        written, rejected = (f"{count:,}" for count in counts) if counts else ("-", "-")
        print(
            f"{run.route.label:<16} {run.seconds:>8.1f} {rows / run.seconds:>8,.0f} {run.peak_rss_mb:>12,.0f} "
            f"{written:>10} {rejected:>9}"
        )
    print(f"{'expected':<16} {'':>8} {'':>8} {'':>12} {expected.written:>10,} {expected.rejected:>9,}")
    print(f"items expected: {len(expected.table):,}")
    print(f"identical tables: {'yes' if identical else 'no'}")


def print_output_tail(run: Run) -> None:
    print(f"\n--- the last {OUTPUT_TAIL_LINES} lines of the {run.route.label} run's output ---", file=sys.stderr)
    print("\n".join(run.output.splitlines()[-OUTPUT_TAIL_LINES:]), file=sys.stderr)


# -- main -------------------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated file (at least 100)")
    parser.add_argument("--mode", choices=WRITE_MODES, default=DEFAULT_WRITE_MODE, help="the demo's --mode")
    parser.add_argument("--workdir", type=Path, help="where the file and the exports go (default: a temporary dir)")
    parser.add_argument("--keep", action="store_true", help="leave the file, the exports and the runs' output")
    args = parser.parse_args()
    if args.rows < 100:
        parser.error("--rows must be at least 100")
    return args


def check(workdir: Path, rows: int, mode: str) -> int:
    """Generate the file, run it along both routes, compare; return the exit code."""
    csv_path = csv_file(workdir, rows)
    write_csv(csv_path, rows)
    size = csv_path.stat().st_size
    print(f"Generated {csv_path}: {rows:,} rows, {size:,} bytes ({size / 1e6:,.1f} MB); --mode {mode}.")
    expected = expected_from(csv_path)
    runs = []
    for route in ROUTES:
        print(f"Running the {route.label} route ...", flush=True)
        runs.append(run_demo(csv_path, route, mode, workdir))
    failed = {run.route.label: run_problems(run, expected) for run in runs}
    compared = export_problems(runs, expected)
    print_results(runs, expected, rows, identical=not compared)
    for run in runs:
        if failed[run.route.label]:
            print_output_tail(run)
    problems = [*(problem for listed in failed.values() for problem in listed), *compared]
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def clean_up(workdir: Path, rows: int, *, temporary: bool) -> None:
    """Remove the temporary workdir, or from a given one only the files this script wrote."""
    if temporary:
        shutil.rmtree(workdir, ignore_errors=True)
        return
    written = [
        csv_file(workdir, rows),
        *(path for route in ROUTES for path in (route.export(workdir), route.output(workdir))),
    ]
    for path in written:
        path.unlink(missing_ok=True)


def main() -> int:
    args = parse_args()
    # SIGTERM as an exception, so that the demo and dynalite are stopped and the workdir cleaned up as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="large-file-demo-")) if temporary else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return check(workdir, args.rows, args.mode)
    finally:
        if args.keep:
            print(f"Kept {workdir}: the file, the exports and each run's output.")
        else:
            clean_up(workdir, args.rows, temporary=temporary)


if __name__ == "__main__":
    sys.exit(main())
