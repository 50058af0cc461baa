"""Sustained throttling slows the load down and never loses a row; rows fail only when the table stops taking any."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from stub_dynamodb import StubServer

from csv_ingest_engine import ingest_file
from csv_ingest_engine.constants import WriteMode
from csv_ingest_engine.objects import dynamodb_config
from csv_ingest_engine.rules import Rejection
from tests.support.writing import CREDENTIALS, row
from tests.support.writing import table_writer as writer


@pytest.fixture
def throttling_stub() -> Iterator[StubServer]:
    """The stub DynamoDB, refusing 60% of writes with ProvisionedThroughputExceededException (for a batch: half of
    its puts come back unprocessed)."""
    server = StubServer(latency_s=0.0, throttle_share=0.6, keep_items=True).start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


def csv_file(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("customer_id,seq\n" + "".join(f"{key},{seq}\n" for key, seq in rows))
    return path


@pytest.mark.parametrize(("mode", "count"), [("merge", 300), ("replace", 3000)])
def test_sustained_throttling_slows_the_load_but_every_row_arrives(
    throttling_stub: StubServer, tmp_path: Path, mode: WriteMode, count: int
) -> None:
    """With 60% of writes refused throughout, every row is written, counts exact, each key's last row last.

    botocore's retries used to give up once their quota was spent, and the rows left were failed (3,000 rows: 1,414
    written); the client now makes one attempt and the writer sends refused rows again.
    """
    # given: keys that repeat, so that order per key is checked too
    rows = [(f"k{i % 97}", str(i)) for i in range(count)]
    client = boto3.client("dynamodb", endpoint_url=throttling_stub.url, config=dynamodb_config(16), **CREDENTIALS)
    # when
    result = ingest_file(
        csv_file(tmp_path, rows),
        source="rows.csv",
        key_column="customer_id",
        writer=writer(client, concurrency=16, mode=mode),
    )
    # then
    counters = throttling_stub.counters
    assert counters.throttled > count // 25  # the stub really throttled, all along
    assert (result.rows_written, result.rows_rejected, result.rows_failed) == (count, 0, 0)
    if mode == "merge":
        assert counters.rows == count
    assert {key: item["seq"] for key, item in counters.items.items()} == dict(rows)


def test_a_throttled_row_waits_as_long_as_other_rows_are_written() -> None:
    """Patience counts from the table's last write, by any worker: a hot key fails only once the others are done."""
    patience_s = 0.2
    lock = threading.Lock()
    last_write = 0.0
    started = time.monotonic()

    class HotKey:
        def update_item(self, **params: Any) -> None:
            nonlocal last_write
            if params["Key"]["customer_id"]["S"] == "hot":
                error: Any = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
                response: Any = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
                raise ClientError(response, "UpdateItem")
            time.sleep(0.02)  # the other rows keep the table busy for about 0.6 s
            with lock:
                last_write = time.monotonic()

    failed_at: list[tuple[float, float]] = []  # when the row failed, and when the table had last taken a write

    def on_reject(rejection: Rejection) -> None:
        with lock:
            failed_at.append((time.monotonic(), last_write))

    session = writer(HotKey(), concurrency=4, patience_s=patience_s).session(on_reject)
    session.submit(row(2, "hot", seq="0"))
    for line in range(3, 123):
        session.submit(row(line, f"k{line}", seq=str(line)))
    totals = session.close()

    assert (totals.written, totals.failed) == (120, 1)
    ((failed, last_write_then),) = failed_at
    # not failed a patience after its first refusal, while the table was still taking other rows ...
    assert failed - started > 0.4
    # ... but a patience after the last write of any worker
    assert failed - last_write_then >= patience_s - 0.01
