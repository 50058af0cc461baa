"""Throughput benchmark: the brief's one-call-per-row loop, the project's handler, a floor, `replace` mode, and the
first pass that checks a file before anything is written.

    .venv/bin/python benchmarks/run.py                      # 10,000 rows x 10 columns, 5 ms per request
    .venv/bin/python benchmarks/run.py --latency-ms 20
    .venv/bin/python benchmarks/run.py --memory-run         # the handler alone on 1,000,000 rows: peak RSS
    .venv/bin/python benchmarks/run.py --workers 2 --rows 20000   # `csv-ingest load --workers 1` vs 2, and the
                                                                  # partition pass alone on 1,000,000 rows
    .venv/bin/python benchmarks/run.py --incremental        # a re-upload with 1% and 100% of its rows changed, in
                                                            # merge and changed mode (benchmarks/incremental.py)

Everything runs on 127.0.0.1 with no AWS account: S3 is a moto server, DynamoDB a stub endpoint that sleeps the
given latency per request, keeps the items, and counts the rows, the requests and the capacity units they would
consume (benchmarks/stub_dynamodb.py). Each contender runs in a process of its own; CPU time and peak RSS are that
process's own. The script fails if any row is lost.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import random
import resource
import socket
import string
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "bench-uploads"
TABLE = "bench-table"
# This checkout's code, whatever the environment's editable install points at; the contenders' processes get the
# same through PYTHONPATH (`aws_env`).
sys.path[:0] = [str(ROOT), str(ROOT / "lambda"), str(ROOT / "benchmarks")]


# -- the contenders, each run with `--worker NAME` in a process of its own ------------------------------------


def worker_loop(args: argparse.Namespace) -> dict[str, Any]:
    """The brief's design: read the CSV, one blocking `update_item` per row, in order."""
    import boto3

    client = boto3.client("dynamodb")
    rows = 0
    started, cpu = _clock()
    with Path(args.csv).open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            key = row.pop("customer_id")
            names = {f"#a{i}": name for i, name in enumerate(row)}
            values = {f":v{i}": {"S": value} for i, value in enumerate(row.values())}
            client.update_item(
                TableName=TABLE,
                Key={"customer_id": {"S": key}},
                UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(row))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            rows += 1
            if rows == args.rows:
                break
    return _finish(rows, started, cpu)


def worker_handler(args: argparse.Namespace) -> dict[str, Any]:
    """The project's Lambda handler, given the S3 event AWS would send for the uploaded file."""
    os.environ.update(
        TABLE_NAME=TABLE,
        WRITE_MODE=args.mode,
        WRITE_CONCURRENCY=str(args.concurrency),
        ORDERING=args.ordering,
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_SERVICE_NAME="csv-ingest-benchmark",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    import boto3

    from csv_ingest.local.events import DemoContext, object_created_event

    version = {"VersionId": args.version_id} if args.version_id else {}
    head = boto3.client("s3").head_object(Bucket=BUCKET, Key=args.key, **version)
    event = object_created_event(
        BUCKET, args.key, head.get("VersionId"), head["ContentLength"], head["ETag"].strip('"')
    )

    started, cpu = _clock()
    from csv_ingest_engine.tasks.trigger import handler

    summary = handler(event, DemoContext())
    counts = {name: summary["files"][0].get(f"rows_{name}", 0) for name in ("written", "unchanged", "superseded")}
    # Rows handled: an unchanged row (write mode `changed`) was handled as surely as a written one.
    return {**_finish(counts["written"] + counts["unchanged"], started, cpu), **counts}


def worker_floor(args: argparse.Namespace) -> dict[str, Any]:
    """What the SDK alone costs: pre-built `update_item` calls from a thread pool, no CSV work at all."""
    import boto3

    from csv_ingest_engine.objects import dynamodb_config

    client = boto3.client("dynamodb", config=dynamodb_config(args.concurrency))
    columns = [f"col{i}" for i in range(1, args.columns)]
    requests = [
        {
            "TableName": TABLE,
            "Key": {"customer_id": {"S": f"c{n}"}},
            "UpdateExpression": "SET " + ",".join(f"#{i}=:{i}" for i in range(len(columns))),
            "ExpressionAttributeNames": {f"#{i}": name for i, name in enumerate(columns)},
            "ExpressionAttributeValues": {f":{i}": {"S": f"value {n} {i}"} for i in range(len(columns))},
        }
        for n in range(args.rows)
    ]
    started, cpu = _clock()
    with ThreadPoolExecutor(args.concurrency) as pool:
        for _ in pool.map(lambda request: client.update_item(**request), requests):
            pass
    return _finish(len(requests), started, cpu)


def worker_check(args: argparse.Namespace) -> dict[str, Any]:
    """The engine's first pass alone: reads the whole file and checks its header before anything is written."""
    from csv_ingest_engine.constants import DEFAULT_KEY_COLUMN
    from csv_ingest_engine.ingest import check_file

    started, cpu = _clock()
    _, rows = check_file(Path(args.csv), source=args.csv, key_column=DEFAULT_KEY_COLUMN)
    return _finish(rows, started, cpu)


def worker_cli(args: argparse.Namespace) -> dict[str, Any]:
    """`csv-ingest load --workers N --json` as a user runs it; CPU time is its whole process tree's."""
    command = [sys.executable, "-c", "import sys; from csv_ingest.cli import main; sys.exit(main())"]
    command += ["load", args.csv, "--table", TABLE, "--workers", str(args.workers), "--json"]
    command += ["--concurrency", str(args.concurrency), "--mode", args.mode]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"csv-ingest load exited {completed.returncode}: {completed.stdout}{completed.stderr}")
    outcome = json.loads(completed.stdout)
    return {
        "rows": outcome["rows_written"],
        "seconds": outcome["seconds"],  # the load's own time: worker start-up, first pass and routing included
        "cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "peak_rss_mb": after.ru_maxrss / 1024,  # the largest process of the tree
    }


def worker_split(args: argparse.Namespace) -> dict[str, Any]:
    """The issue's yardstick for `--workers N`: N independent `csv-ingest load --workers 1` processes at once, each on
    the rows of one key partition (files cut beforehand, --csv is their common prefix); `seconds` is the slowest's."""
    parts = sorted(Path(args.csv).parent.glob(Path(args.csv).name + ".part*"))
    command = [sys.executable, "-c", "import sys; from csv_ingest.cli import main; sys.exit(main())", "load"]
    options = [
        "--table",
        TABLE,
        "--workers",
        "1",
        "--json",
        "--concurrency",
        str(args.concurrency),
        "--mode",
        args.mode,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes = [
        subprocess.Popen([*command, str(part), *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for part in parts
    ]
    outcomes = []
    for process in processes:
        stdout, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"csv-ingest load exited {process.returncode}: {stdout}{stderr}")
        outcomes.append(json.loads(stdout))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "rows": sum(outcome["rows_written"] for outcome in outcomes),
        "seconds": max(outcome["seconds"] for outcome in outcomes),
        "cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "peak_rss_mb": after.ru_maxrss / 1024,
    }


def split_by_key(path: Path, partitions: int) -> None:
    """`path.part0`, `path.part1`, ...: the header and the rows of each key partition, as `--workers` routes them."""
    from csv_ingest_engine.constants import DEFAULT_KEY_COLUMN
    from csv_ingest_engine.partitioning import partition_of
    from csv_ingest_engine.rules import key_of, parse_header

    with path.open(newline="", encoding="utf-8") as file:
        rows = csv.reader(file)
        header_cells = next(rows)
        header = parse_header(header_cells, key_column=DEFAULT_KEY_COLUMN, source=str(path))
        with contextlib.ExitStack() as stack:
            parts = [
                stack.enter_context(path.with_name(f"{path.name}.part{i}").open("w", newline=""))
                for i in range(partitions)
            ]
            writers = [csv.writer(part) for part in parts]
            for writer in writers:
                writer.writerow(header_cells)
            for cells in rows:
                writers[partition_of(key_of(cells, header), partitions)].writerow(cells)


def worker_partition(args: argparse.Namespace) -> dict[str, Any]:
    """What `load --workers N`'s parent does per record after the first pass: read, route by key, gather chunks,
    pickle them as its queues do (the workers' side left out)."""
    from multiprocessing.reduction import ForkingPickler

    from csv_ingest.cli.dispatch import Chunker
    from csv_ingest_engine.constants import DEFAULT_KEY_COLUMN
    from csv_ingest_engine.reading import read_records
    from csv_ingest_engine.rules import parse_header

    started, cpu = _clock()
    records = read_records(Path(args.csv), source=args.csv)
    header = parse_header(next(records).cells, key_column=DEFAULT_KEY_COLUMN, source=args.csv)
    chunker = Chunker(header, args.workers)
    rows = 0
    for chunks in (chunker.full(records), chunker.rest()):
        for _, chunk in chunks:
            ForkingPickler.dumps(chunk)
            rows += len(chunk)
    return {**_finish(rows, started, cpu), "bytes": Path(args.csv).stat().st_size}


WORKERS = {
    "loop": worker_loop,
    "handler": worker_handler,
    "floor": worker_floor,
    "check": worker_check,
    "cli": worker_cli,
    "split": worker_split,
    "partition": worker_partition,
}


def _clock() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def _finish(rows: int, started: float, cpu_started: float) -> dict[str, Any]:
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_started
    return {"rows": rows, "seconds": seconds, "cpu_s": cpu, "peak_rss_mb": usage.ru_maxrss / 1024}


# -- the runner ------------------------------------------------------------------------------------------------


class Stub:
    """The stub DynamoDB endpoint in a child process, driven over its stdin."""

    def __init__(self, latency_ms: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "stub_dynamodb.py"), "--latency-ms", str(latency_ms)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = json.loads(self._line())["url"]

    def _line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline()

    def command(self, command: str) -> dict[str, Any]:
        """Send a control command (`stub_dynamodb._control`); its answer: the counters, or what it asked for."""
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self._line())
        return answer

    def cpu_s(self) -> float:
        """The stub's CPU time so far (Linux's /proc; 0 elsewhere): it shares the cores with the client."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_s3() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")


def generate_csv(path: Path, rows: int, columns: int) -> None:
    """`rows` distinct customers, `columns` columns (the key and columns-1 text attributes of ~12 characters)."""
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["customer_id", *(f"col{i}" for i in range(1, columns))])
        for n in range(rows):
            writer.writerow([f"c{n}", *("".join(rng.choices(alphabet, k=12)) for _ in range(1, columns))])


def run_worker(name: str, env: dict[str, str], **options: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", name]
    for option, value in options.items():
        command += [f"--{option.replace('_', '-')}", str(value)]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="rows of the file (default 10,000; --incremental: 100,000)")
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=None, help="writer threads (default: the engine's)")
    parser.add_argument("--loop-rows", type=int, default=2_000, help="rows for the brief's loop (rows/s compared)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the handler and the floor, interleaved; the median is shown"
    )
    parser.add_argument("--memory-run", action="store_true", help="only the handler, on 1,000,000 rows")
    parser.add_argument(
        "--workers",
        type=int,
        help="only `csv-ingest load --workers 1` and `--workers N` (interleaved, --repeat times each), and the "
        "partition pass alone on --partition-rows rows",
    )
    parser.add_argument("--partition-rows", type=int, default=1_000_000, help="rows for the partition pass (0: none)")
    parser.add_argument(
        "--incremental",
        nargs="?",
        const="merge,changed",
        metavar="MODES",
        help="only the incremental loads (benchmarks/incremental.py): a file loaded, then uploaded again with "
        "--changed-percent of its rows changed and loaded in each of MODES (default merge,changed)",
    )
    parser.add_argument(
        "--changed-percent", default="1,100", help="--incremental: the shares of rows changed (default 1,100)"
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--version-id", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="merge", help="write mode of the --workers runs (the handler runs do both)")
    parser.add_argument("--ordering", default="on", help=argparse.SUPPRESS)
    args = parser.parse_args()

    from csv_ingest_engine.constants import DEFAULT_CONCURRENCY

    args.concurrency = args.concurrency or DEFAULT_CONCURRENCY
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return 0
    if args.memory_run:
        args.rows = 1_000_000
    if args.incremental:
        from incremental import run_incremental

        args.rows = args.rows or 100_000
        return run_incremental(args)
    args.rows = args.rows or 10_000
    return run_all(args)


def aws_env(s3_url: str, dynamodb_url: str) -> dict[str, str]:
    """The contenders' environment: this process's, with the loopback endpoints, throwaway credentials, and this
    checkout first on the path."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3_url,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        # The handler's outcome event goes to the same moto server (tags are S3's), never to AWS.
        "AWS_ENDPOINT_URL_EVENTS": s3_url,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "lambda"), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("AWS_PROFILE", None)
    return env


def bench_bucket(s3_url: str) -> Any:
    """A client of the moto server's S3, with the versioned bucket the uploads go to created."""
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


def run_all(args: argparse.Namespace) -> int:
    stub = Stub(args.latency_ms)
    s3_process, s3_url = start_s3()
    env = aws_env(s3_url, stub.url)
    results: dict[str, dict[str, Any]] = {}
    lost: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.csv"
            generate_csv(path, args.rows, args.columns)
            plan = workers_plan(args, path) if args.workers else handler_plan(args, path, s3_url)
            runs: dict[str, list[dict[str, Any]]] = {}
            for label, worker, options, expected in plan:
                stub.command("reset")
                stub_cpu = stub.cpu_s()
                result = run_worker(worker, env, **options)
                counted = stub.command("counters")
                result.update(
                    requests=counted["requests"], rows_at_stub=counted["rows"], stub_cpu_s=stub.cpu_s() - stub_cpu
                )
                runs.setdefault(label, []).append(result)
                writes = worker not in ("check", "partition")  # they only read
                if result["rows"] != expected or (writes and counted["rows"] != expected):
                    lost.append(f"{label}: expected {expected}, wrote {result['rows']}, stub counted {counted['rows']}")
            for label, label_runs in runs.items():
                rates = [r["rows"] / r["seconds"] for r in label_runs]  # in the order run
                label_runs.sort(key=lambda r: r["rows"] / r["seconds"])
                results[label] = {**label_runs[len(label_runs) // 2], "runs": len(label_runs), "rates": rates}
    finally:
        stub.stop()
        s3_process.terminate()
        s3_process.wait()
    print_report(args, results)
    for line in lost:
        print(f"ROWS LOST: {line}", file=sys.stderr)
    return 1 if lost else 0


Plan = list[tuple[str, str, dict[str, Any], int]]  # label, contender, its options, the rows it must handle


def handler_plan(args: argparse.Namespace, path: Path, s3_url: str) -> Plan:
    """The brief's loop, the handler in both modes, the floor and the first pass (the file uploaded to S3)."""
    bench_bucket(s3_url).upload_file(str(path), BUCKET, "bench.csv")
    plan: Plan = []
    if not args.memory_run:
        loop_rows = min(args.loop_rows, args.rows)
        plan.append(("loop", "loop", {"csv": path, "rows": loop_rows}, loop_rows))
    common = {"key": "bench.csv", "concurrency": args.concurrency, "rows": args.rows, "columns": args.columns}
    # The handler and the floor alternate, so that drift on a shared machine hits both alike; so do the handler's
    # writes stamped with the upload's order (conditional, the default) and without (`ORDERING=off`).
    for _ in range(1 if args.memory_run else args.repeat):
        plan.append(("handler (merge)", "handler", {**common, "mode": "merge", "ordering": "on"}, args.rows))
        if not args.memory_run:
            plan.append(("merge, unordered", "handler", {**common, "mode": "merge", "ordering": "off"}, args.rows))
            plan.append(("floor", "floor", common, args.rows))
            plan.append(("first pass (check)", "check", {"csv": path}, args.rows))
            plan.append(("handler (replace)", "handler", {**common, "mode": "replace", "ordering": "on"}, args.rows))
            replace_unordered = {**common, "mode": "replace", "ordering": "off"}
            plan.append(("replace, unordered", "handler", replace_unordered, args.rows))
    return plan


def workers_plan(args: argparse.Namespace, path: Path) -> Plan:
    """`load --workers 1` and `--workers N`, alternating; then the partition pass and the first pass on a file of
    --partition-rows rows (generated next to the first)."""
    split_by_key(path, args.workers)
    plan: Plan = []
    common = {"csv": path, "concurrency": args.concurrency, "mode": args.mode}
    for _ in range(args.repeat):
        plan.append(("load, 1 worker", "cli", {**common, "workers": 1}, args.rows))
        plan.append((f"load, {args.workers} workers", "cli", {**common, "workers": args.workers}, args.rows))
        plan.append((f"{args.workers} loads, split", "split", common, args.rows))
    if not args.partition_rows:
        return plan
    big = path.with_name("partition.csv")
    generate_csv(big, args.partition_rows, args.columns)
    for _ in range(args.repeat):
        plan.append(("partition pass", "partition", {"csv": big, "workers": args.workers}, args.partition_rows))
        plan.append(("first pass (check)", "check", {"csv": big}, args.partition_rows))
    return plan


def print_report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    print(
        f"# {platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()}), "
        f"{time.strftime('%Y-%m-%d')}: {args.rows:,} rows x {args.columns} columns, "
        f"{args.latency_ms:g} ms per request, concurrency {args.concurrency}"
        f"{f', --mode {args.mode}' if args.workers else ''} (median of the runs shown)"
    )
    header = (
        f"{'run':<20}{'runs':>5}{'rows':>10}{'rows/s':>10}{'CPU us/row':>12}{'peak RSS MB':>13}{'requests':>10}"
        f"{'stub rows':>11}{'stub CPU us/request':>21}"
    )
    print(header)
    for label, r in results.items():
        rows_per_s = r["rows"] / r["seconds"]
        cpu_us = r["cpu_s"] / max(r["rows"], 1) * 1e6
        stub_us = f"{r['stub_cpu_s'] / r['requests'] * 1e6:,.0f}" if r["requests"] else "-"
        print(
            f"{label:<20}{r['runs']:>5}{r['rows']:>10,}{rows_per_s:>10,.0f}{cpu_us:>12,.0f}{r['peak_rss_mb']:>13,.0f}"
            f"{r['requests']:>10,}{r['rows_at_stub']:>11,}{stub_us:>21}"
        )

    def rate(label: str) -> float | None:
        r = results.get(label)
        return r["rows"] / r["seconds"] if r else None

    handler, loop, floor, replace = (rate(k) for k in ("handler (merge)", "loop", "floor", "handler (replace)"))
    if handler and loop:
        print(f"handler/loop:     {handler / loop:.1f}x")
    if handler and floor:
        print(f"handler/floor:    {handler / floor:.2f}x")
    if handler and replace:
        print(f"replace/handler:  {replace / handler:.1f}x")
    for stamped, plain in (("handler (merge)", "merge, unordered"), ("handler (replace)", "replace, unordered")):
        stamped_rate, plain_rate = rate(stamped), rate(plain)
        if stamped_rate and plain_rate:
            with_order, without = (results[k]["cpu_s"] / max(results[k]["rows"], 1) for k in (stamped, plain))
            print(
                f"ordering ({stamped.split('(')[-1].rstrip(')')}): CPU per row {with_order / without - 1:+.1%}, "
                f"rows/s {stamped_rate / plain_rate - 1:+.1%} (stamped conditional writes vs ORDERING=off)"
            )
    check = rate("first pass (check)")
    if handler and check:
        print(f"first pass:       {check / handler:.0f}x the handler's rows/s, {handler / check:.1%} of its time")
    if args.workers:
        print_workers_report(args, results)


def print_workers_report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    """`load --workers N` against one worker, and the partition pass against one worker, with the issue's targets."""
    one, many = results.get("load, 1 worker"), results.get(f"load, {args.workers} workers")
    split = results.get(f"{args.workers} loads, split")
    if not (one and many and split):
        return
    one_rate = one["rows"] / one["seconds"]

    def speedups(r: dict[str, Any]) -> str:
        each = ", ".join(f"{rate / first:.2f}" for rate, first in zip(r["rates"], one["rates"], strict=True))
        return f"{r['rows'] / r['seconds'] / one_rate:.2f}x the rows/s (each repeat: {each})"

    print(f"{args.workers} workers / 1:    {speedups(many)} (target >= 1.7x at 5 ms)")
    print(
        f"{args.workers} split / 1:      {speedups(split)}: the yardstick, {args.workers} independent processes on the "
        "key partitions, cut beforehand"
    )
    partition, check = results.get("partition pass"), results.get("first pass (check)")
    if not (partition and check):
        return
    partition_rate = partition["rows"] / partition["seconds"]
    print(
        f"partition pass:   {partition_rate:,.0f} rows/s, {partition['bytes'] / partition['seconds'] / 1e6:,.0f} MB/s "
        f"on {partition['rows']:,} rows ({partition['bytes'] / 1e6:,.0f} MB), {partition_rate / one_rate:.0f}x one "
        f"worker's rows/s (target >= 50x), peak RSS {partition['peak_rss_mb']:,.0f} MB (target <= 200 MB)"
    )
    print(f"first pass:       {check['rows'] / check['seconds']:,.0f} rows/s on the same file")


if __name__ == "__main__":
    sys.exit(main())
