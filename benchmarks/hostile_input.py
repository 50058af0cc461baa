"""Issue 19's hostile inputs, measured on the emulator (S3, DynamoDB, Lambda and Step Functions in moto, in this
process): the log bytes of a tiny `.csv.gz` whose rows are all rejected, on each path, and the report of a file
uploaded under S3's longest key.

    .venv/bin/python benchmarks/hostile_input.py [--rows 173000] [--partition-bytes 65536]

It prints the file's size, then for the one-invocation path and the state machine path the bytes (and lines) the
functions wrote to stdout, which is what CloudWatch Logs receives from Lambda (JSON log lines and EMF metrics), and
then the rejects report key of a one-row file under a 1,023-byte key: its length, and whether it is in the rejects
bucket.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambda"), str(ROOT / "benchmarks")]
# Powertools reads its service name and namespace on import; moto needs credentials of some kind.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "csv-ingest",
    "POWERTOOLS_METRICS_NAMESPACE": "CsvIngest",
}.items():
    os.environ.setdefault(_name, _value)

from moto import mock_aws  # noqa: E402

from csv_ingest.local.lambdas import InProcessLambda, lambda_in_process  # noqa: E402
from csv_ingest.local.state_machine import MOTO_CONFIG  # noqa: E402
from csv_ingest_engine import IngestError, telemetry  # noqa: E402
from csv_ingest_engine.tasks.trigger import handler  # noqa: E402
from tests.support import REJECTS_BUCKET, Aws, DemoContext  # noqa: E402
from tests.support.large_files import create_flow, trigger_and_wait  # noqa: E402

# S3's longest key is 1,024 bytes: the longest `.csv` key a version id can still be put beside.
LONG_KEY_BYTES = 1023


class _Counted(io.TextIOBase):
    """A stdout that only counts what it is given."""

    def __init__(self) -> None:
        self.bytes = 0
        self.lines = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        self.lines += text.count("\n")
        return len(text)


@contextlib.contextmanager
def counted_stdout() -> Iterator[_Counted]:
    """Everything the functions print (Powertools' logger holds the stdout of import time: it is swapped too)."""
    counted = _Counted()
    with (
        mock.patch.object(telemetry.logger.registered_handler, "stream", counted),
        contextlib.redirect_stdout(counted),
    ):
        yield counted


def blank_keys_file(rows: int) -> bytes:
    """Issue 19's file: a `.csv.gz` of `rows` rows that are all rejected (each key cell is empty), a few hundred
    bytes for 173,000 rows."""
    return gzip.compress(b"customer_id,name\n" + b",x\n" * rows, compresslevel=9)


def spread_file(rows: int) -> bytes:
    """A `.csv.gz` of `rows` rows that are all rejected (a cell past the header's columns), each of its own key,
    so that the state machine spreads them over its partitions."""
    lines = (f"c{row},x,extra\n" for row in range(rows))
    return gzip.compress(("customer_id,name\n" + "".join(lines)).encode(), compresslevel=9)


def one_invocation(aws: Aws, data: bytes) -> _Counted:
    version = aws.upload("hostile/rejected.csv.gz", data)
    with counted_stdout() as counted:
        handler(aws.event("hostile/rejected.csv.gz", version), DemoContext())
    return counted


def state_machine(aws: Aws, lambdas: InProcessLambda, arn: str, data: bytes, key: str) -> tuple[_Counted, int]:
    version = aws.upload(key, data)
    with (
        mock.patch.dict(os.environ, {"STATE_MACHINE_ARN": arn, "LARGE_FILE_BYTES": "0"}),
        counted_stdout() as counted,
    ):
        _, execution = trigger_and_wait(aws, handler, lambdas, key, version, DemoContext())
    return counted, len(execution.worker_calls())


def long_key(aws: Aws) -> tuple[int, bool, str]:
    key = "k" * (LONG_KEY_BYTES - len(".csv")) + ".csv"
    version = aws.upload(key, "customer_id,name\n,nameless\n")
    outcome = "ingested"
    with counted_stdout():
        try:
            entry = handler(aws.event(key, version), DemoContext())["files"][0]
        except IngestError as error:
            entry, outcome = {}, f"failed: {str(error)[:160]}..."
    report = entry.get("rejects_report", "")
    report_key = report.removeprefix(f"s3://{REJECTS_BUCKET}/")
    return len(report_key.encode()), bool(report_key) and report_key in aws.reports(), outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=173_000, help="rejected rows in the .csv.gz (default: 173,000)")
    parser.add_argument("--spread-rows", type=int, default=20_000, help="rows of the file spread over partitions")
    parser.add_argument("--partition-bytes", type=int, default=8 * 1024, help="the state machine's partition size")
    args = parser.parse_args(argv)
    os.environ["REJECTS_BUCKET"] = REJECTS_BUCKET
    data = blank_keys_file(args.rows)
    spread = spread_file(args.spread_rows)
    print(f"file: {len(data):,} bytes gzipped, {args.rows:,} rejected rows (blank keys)")
    with mock_aws(config=MOTO_CONFIG):
        aws = Aws()
        aws.create_resources()
        os.environ["TABLE_NAME"] = aws.table
        small = one_invocation(aws, data)
        print(f"one invocation: {small.bytes:,} bytes of log ({small.lines:,} lines)")
        with lambda_in_process() as lambdas:
            arn = create_flow(aws, partition_bytes=args.partition_bytes)
            large, partitions = state_machine(aws, lambdas, arn, data, "hostile/blank-keys.csv.gz")
            print(f"state machine ({partitions} partition): {large.bytes:,} bytes of log ({large.lines:,} lines)")
            print(f"file: {len(spread):,} bytes gzipped, {args.spread_rows:,} rejected rows (each its own key)")
            large, partitions = state_machine(aws, lambdas, arn, spread, "hostile/spread.csv.gz")
            print(f"state machine ({partitions} partitions): {large.bytes:,} bytes of log ({large.lines:,} lines)")
        length, stored, outcome = long_key(aws)
        print(f"{LONG_KEY_BYTES:,}-byte upload key: {outcome}; report key {length:,} bytes, in the bucket: {stored}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
