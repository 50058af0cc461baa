"""The incremental-load benchmark (issue 21): a file loaded into an empty table, then uploaded again with a share of
its rows changed and loaded in `merge` and in `changed` mode. For each mode and share: the second load's rows/s,
the read and write requests the stub received, the capacity units DynamoDB would charge for them and their on-demand
cost, against the issue's targets.

    .venv/bin/python benchmarks/run.py --incremental                  # 100,000 rows; merge and changed; 1% and 100%
    .venv/bin/python benchmarks/run.py --incremental merge --rows 20000 --repeat 1

The first load runs once (the handler, `merge`, into the empty stub table); the stub then keeps a snapshot of the
table and restores it before each second load, so every second load starts from the same table. The second loads
alternate (each share, each mode, then again, --repeat times) and the median run of each is shown. Every second
load is checked: the handler's counts, the writes the stub received, and the table itself, which must hold exactly
the changed file's rows (the order stamps left out).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import string
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import run
from stub_table import digest_of

from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE, WRITE_MODES

KEY = "incremental.csv"
# The targets. At 1% changed: `changed` at least 5x merge's rows/s, at most 15% of its cost. At 100% changed:
# `changed` at most 20% slower, read as: at least 80% of merge's rows/s.
TARGET_SPEEDUP_AT_1 = 5.0
TARGET_COST_SHARE_AT_1 = 0.15
TARGET_SPEED_AT_100 = 0.8

Case = tuple[str, float]  # write mode, percent of the rows changed


@dataclass(frozen=True)
class Upload:
    """One version of the benchmark's object: its S3 version, how many rows differ from the first, its items'
    digest (`stub_table.digest_of`)."""

    version_id: str
    changed: int
    digest: str


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    passed: bool


def unknown_modes(modes: list[str]) -> list[str]:
    """The modes this checkout's engine does not have (`changed` comes with issue 21's first item)."""
    return [mode for mode in modes if mode not in WRITE_MODES]


def change_rows(source: Path, target: Path, percent: float, *, seed: int = 21) -> int:
    """`target`: `source` with `percent` of its rows (chosen at random) changed, each in one non-key cell (chosen at
    random) to a new 12-character value; how many rows changed."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits
    with source.open(newline="", encoding="utf-8") as file:
        header, *rows = list(csv.reader(file))
    chosen = rng.sample(range(len(rows)), round(len(rows) * percent / 100))
    for index in chosen:
        cells = rows[index]
        column = rng.randrange(1, len(cells))
        value = cells[column]
        while value == cells[column]:
            value = "".join(rng.choices(alphabet, k=12))
        cells[column] = value
    with target.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([header, *rows])
    return len(chosen)


def items_of(path: Path) -> Iterator[dict[str, Any]]:
    """The items loading `path` leaves in an empty table (its keys are distinct, its cells text, none empty)."""
    with path.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            yield {name: {"S": value} for name, value in row.items()}


def run_incremental(args: argparse.Namespace) -> int:
    modes = [mode.strip() for mode in args.incremental.split(",") if mode.strip()]
    percents = [float(percent) for percent in args.changed_percent.split(",")]
    unknown = unknown_modes(modes)
    if unknown:
        print(
            f"--incremental: this engine has no write mode {', '.join(unknown)} (it has {', '.join(WRITE_MODES)}). "
            "Run it where that mode exists (issue 21's `changed` mode, merged), or only the others: "
            f"--incremental {','.join(mode for mode in modes if mode not in unknown) or 'merge'}",
            file=sys.stderr,
        )
        return 2
    stub = run.Stub(args.latency_ms)
    s3_process, s3_url = run.start_s3()
    env = run.aws_env(s3_url, stub.url)
    runs: dict[Case, list[dict[str, Any]]] = {}
    problems: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            uploads = _upload_versions(Path(tmp), args, s3_url, percents)
            first = _load(stub, env, args, uploads[0.0], "merge", restore=False)
            problems += _check("first load (merge, empty table)", first, uploads[0.0], args.rows, args.rows)
            stub.command("snapshot")
            for _ in range(args.repeat):
                for percent in percents:
                    for mode in modes:
                        upload = uploads[percent]
                        result = _load(stub, env, args, upload, mode, restore=True)
                        written = upload.changed if mode == "changed" else args.rows
                        problems += _check(f"{mode}, {percent:g}% changed", result, upload, args.rows, written)
                        runs.setdefault((mode, percent), []).append(result)
    finally:
        stub.stop()
        s3_process.terminate()
        s3_process.wait()
    results = {case: median_run(case_runs) for case, case_runs in runs.items()}
    verdicts = targets(results)
    print_incremental(args, first, results, verdicts)
    for problem in problems:
        print(f"CHECK FAILED: {problem}", file=sys.stderr)
    return 1 if problems or not all(verdict.passed for verdict in verdicts) else 0


def _upload_versions(tmp: Path, args: argparse.Namespace, s3_url: str, percents: list[float]) -> dict[float, Upload]:
    """The first file and, for each share, the file with that share of its rows changed, uploaded as versions of one
    object (`0.0`: the first)."""
    s3 = run.bench_bucket(s3_url)
    first = tmp / "first.csv"
    run.generate_csv(first, args.rows, args.columns)
    uploads = {}
    for percent in [0.0, *percents]:
        path = tmp / f"changed-{percent:g}.csv" if percent else first
        changed = change_rows(first, path, percent) if percent else 0
        version = s3.put_object(Bucket=run.BUCKET, Key=KEY, Body=path.read_bytes())["VersionId"]
        uploads[percent] = Upload(version, changed, digest_of(items_of(path)))
    return uploads


def _load(
    stub: run.Stub, env: dict[str, str], args: argparse.Namespace, upload: Upload, mode: str, *, restore: bool
) -> dict[str, Any]:
    """The handler on `upload` in `mode` (the table first restored to its snapshot, or emptied); its result, with
    what the stub counted (`counted`), the stub's CPU time, and the table's digest after it."""
    stub.command("restore" if restore else "reset")
    stub_cpu = stub.cpu_s()
    options = {"key": KEY, "version_id": upload.version_id, "mode": mode, "ordering": "on"}
    result = run.run_worker("handler", env, concurrency=args.concurrency, **options)
    counted = stub.command("counters")
    stub_cpu_s = stub.cpu_s() - stub_cpu
    table = stub.command(f"digest {DEFAULT_ORDER_ATTRIBUTE}")
    return {**result, "counted": counted, "stub_cpu_s": stub_cpu_s, "table": table}


def _check(label: str, result: dict[str, Any], upload: Upload, rows: int, written: int) -> list[str]:
    """What is wrong with a load that should have written `written` of the file's `rows` and left the rest as they
    were: the handler's counts, the writes the stub received, the table."""
    counted = result["counted"]
    expected = {
        "rows written": (result["written"], written),
        "rows unchanged": (result["unchanged"], rows - written),
        "rows superseded": (result["superseded"], 0),
        "writes the stub received": (counted["rows"], written),
        "conditional writes refused": (counted["conditional_failures"], 0),
        "items in the table": (result["table"]["items"], rows),
    }
    problems = [f"{label}: {name} {got:,} (expected {want:,})" for name, (got, want) in expected.items() if got != want]
    if result["table"]["digest"] != upload.digest:
        problems.append(f"{label}: the table's items differ from the file's rows")
    return problems


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median rows/s, with how many runs there were."""
    ordered = sorted(runs, key=rate)
    return {**ordered[len(ordered) // 2], "runs": len(runs)}


def rate(result: dict[str, Any]) -> float:
    rows: int = result["rows"]
    seconds: float = result["seconds"]
    return rows / seconds


def targets(results: dict[Case, dict[str, Any]]) -> list[Verdict]:
    """The issue's targets, for the shares (1% and 100%) that ran in both modes."""
    verdicts = []
    merge, changed = results.get(("merge", 1.0)), results.get(("changed", 1.0))
    if merge and changed:
        speedup = rate(changed) / rate(merge)
        verdicts.append(
            Verdict(
                f"at 1% changed, `changed` >= {TARGET_SPEEDUP_AT_1:g}x the rows/s of `merge`",
                f"{speedup:.2f}x ({rate(changed):,.0f} vs {rate(merge):,.0f} rows/s)",
                speedup >= TARGET_SPEEDUP_AT_1,
            )
        )
        merge_dollars, changed_dollars = merge["counted"]["dollars"], changed["counted"]["dollars"]
        share = changed_dollars / merge_dollars
        verdicts.append(
            Verdict(
                f"at 1% changed, `changed` <= {TARGET_COST_SHARE_AT_1:.0%} of the cost of `merge`",
                f"{share:.1%} (${changed_dollars:.6f} vs ${merge_dollars:.6f})",
                share <= TARGET_COST_SHARE_AT_1,
            )
        )
    merge, changed = results.get(("merge", 100.0)), results.get(("changed", 100.0))
    if merge and changed:
        speed = rate(changed) / rate(merge)
        verdicts.append(
            Verdict(
                f"at 100% changed, `changed` at most {1 - TARGET_SPEED_AT_100:.0%} slower than `merge`",
                f"{speed:.2f}x its rows/s ({rate(changed):,.0f} vs {rate(merge):,.0f})",
                speed >= TARGET_SPEED_AT_100,
            )
        )
    return verdicts


def print_incremental(
    args: argparse.Namespace, first: dict[str, Any], results: dict[Case, dict[str, Any]], verdicts: list[Verdict]
) -> None:
    print(
        f"# {platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()}), "
        f"{time.strftime('%Y-%m-%d')}: incremental loads of {args.rows:,} rows x {args.columns} columns, "
        f"{args.latency_ms:g} ms per request, concurrency {args.concurrency} (second loads; median of the runs shown)"
    )
    print(
        f"first load (merge, empty table): {rate(first):,.0f} rows/s, "
        f"{first['counted']['write_units']:,} write units, ${first['counted']['dollars']:.6f}"
    )
    print(
        f"{'mode':<9}{'changed':>8}{'runs':>5}{'rows/s':>9}{'CPU us/row':>11}{'reads':>8}{'writes':>9}"
        f"{'read units':>12}{'write units':>12}{'dollars':>11}{'$ per 1M rows':>14}{'stub CPU':>9}"
    )
    for (mode, percent), r in results.items():
        counted = r["counted"]
        print(
            f"{mode:<9}{percent:>7g}%{r['runs']:>5}{rate(r):>9,.0f}{r['cpu_s'] / r['rows'] * 1e6:>11,.0f}"
            f"{counted['read_requests']:>8,}{counted['write_requests']:>9,}{counted['read_units']:>12,.1f}"
            f"{counted['write_units']:>12,}{counted['dollars']:>11.6f}{counted['dollars'] / r['rows'] * 1e6:>14.4f}"
            f"{r['stub_cpu_s'] / r['seconds']:>9.0%}"
        )
    print("(reads, writes: requests; units and dollars: DynamoDB on-demand, us-east-1; stub CPU: share of one core)")
    for verdict in verdicts:
        print(f"{'PASS' if verdict.passed else 'FAIL'}  {verdict.target}: {verdict.measured}")
