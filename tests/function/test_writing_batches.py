"""`replace` batches under DynamoDB's 16 MB request limit, measured as botocore sends them (non-ASCII escaped)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from stub_dynamodb import MAX_REQUEST_BYTES, StubServer

from csv_ingest_engine import IngestStopped, ingest_file
from csv_ingest_engine import write_session as writing_module
from csv_ingest_engine.objects import dynamodb_config
from csv_ingest_engine.requests import BATCH_MAX_BYTES
from csv_ingest_engine.rules import Rejection, Row
from csv_ingest_engine.worker_state import WriteTotals
from csv_ingest_engine.writing import Backoff, TableWriter
from tests.support.writing import CREDENTIALS, row, table_writer

# 190,000 x "é": 380 KB of UTF-8 (an item under 400 KB), but 1.14 MB of escaped JSON; 25 of them make 28.5 MB.
ACCENTED = "é" * 190_000


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer(latency_s=0.0, keep_items=True).start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


def replace_all(stub: StubServer, rows: list[Row]) -> tuple[WriteTotals, list[Rejection]]:
    client = boto3.client("dynamodb", endpoint_url=stub.url, config=dynamodb_config(1), **CREDENTIALS)
    writer = TableWriter(client, table_name="t", concurrency=1, mode="replace")
    rejections: list[Rejection] = []
    session = writer.session(rejections.append)
    for each in rows:
        session.submit(each)
    return session.close(), rejections


def test_25_large_non_ascii_rows_go_out_in_batches_under_16_mb(stub: StubServer) -> None:
    """Rows whose escaped JSON would make a 28.5 MB batch are cut into requests the 16 MB limit accepts."""
    totals, rejections = replace_all(stub, [row(line, f"k{line}", text=ACCENTED) for line in range(2, 27)])
    counters = stub.counters
    assert (totals.written, totals.failed, rejections) == (25, 0, [])
    assert (counters.rows, counters.too_large) == (25, 0)
    assert counters.requests > 1
    assert counters.largest_request <= MAX_REQUEST_BYTES
    assert all(item["text"] == ACCENTED for item in counters.items.values())


def test_a_413_splits_the_batch_and_never_fails_the_file(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a batch be refused as too large after all, it is sent again in halves: every row arrives."""
    # given: a size estimate that lets 25 large rows into one batch
    monkeypatch.setattr(writing_module, "BATCH_MAX_BYTES", 1 << 40, raising=False)
    # when
    totals, rejections = replace_all(stub, [row(line, f"k{line}", text=ACCENTED) for line in range(2, 27)])
    # then
    counters = stub.counters
    assert counters.too_large >= 1  # the stub, like DynamoDB, refused the whole batch
    assert (totals.written, totals.failed, rejections) == (25, 0, [])
    assert counters.rows == 25
    assert sorted(counters.items) == sorted(f"k{line}" for line in range(2, 27))


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii",
        "é" * 1000,  # 2 bytes of UTF-8, 6 of JSON
        "😀" * 1000,  # one character, two `\\uXXXX` escapes: 12 bytes of JSON
        '"\\\n\x01' * 1000,  # escaped quote, backslash, newline and control character
        "é" * 120_000,  # large enough to be measured exactly
        "😀" * 60_000,
    ],
)
def test_a_puts_size_is_never_underestimated(text: str) -> None:
    """The size that cuts batches is at least what the put weighs in botocore's request body."""
    writer = table_writer(None, mode="replace")
    each = row(2, f"k-{text[:3]}", text=text, other=text[:10], **{text[:5]: "x"})
    as_sent = len(json.dumps({"PutRequest": {"Item": writer.item(each)}})) + len(", ")
    assert writer.put_size(each) >= as_sent


def test_the_batch_cap_leaves_room_under_16_mb_for_the_request_around_the_items() -> None:
    """The cap on a batch's puts stays under DynamoDB's limit, read as 16,000,000 bytes or as 16 MiB."""
    assert BATCH_MAX_BYTES + 64 * 1024 <= 16_000_000 <= MAX_REQUEST_BYTES


def test_small_rows_still_fill_batches_of_25() -> None:
    """Measuring sizes does not cut batches of ordinary rows: 25 rows of 30 columns of text fit one request."""
    writer = table_writer(None, mode="replace")
    each = row(2, "k", **{f"column {i}": "a value of some length, é" * 4 for i in range(30)})
    assert 25 * writer.put_size(each) <= BATCH_MAX_BYTES


class _RefusingBatches:
    """Refuses batches (a 413 over five puts, or a row-level refusal), throttles key "0", takes every other put."""

    def __init__(self, batch_error: str, status: int) -> None:
        self.batch_error, self.status = batch_error, status
        self.written: list[str] = []
        self.first_throttle: float | None = None

    def _refuse(self, code: str, status: int = 400) -> ClientError:
        response: Any = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return ClientError(response, "BatchWriteItem")

    def _take(self, keys: list[str]) -> None:
        if "0" in keys:
            self.first_throttle = self.first_throttle or time.monotonic()
            raise self._refuse("ProvisionedThroughputExceededException")
        self.written += keys

    def batch_write_item(self, **params: Any) -> dict[str, Any]:
        keys = [request["PutRequest"]["Item"]["customer_id"]["S"] for request in params["RequestItems"]["t"]]
        if (self.status == 413 and len(keys) > 5) or self.status != 413:
            raise self._refuse(self.batch_error, self.status)
        self._take(keys)
        return {"UnprocessedItems": {}}

    def put_item(self, **params: Any) -> dict[str, Any]:
        self._take([params["Item"]["customer_id"]["S"]])
        return {}


@pytest.mark.parametrize(
    ("batch_error", "status"), [("413", 413), ("ValidationException", 400)], ids=["split", "one-by-one"]
)
def test_a_stop_while_a_refused_batch_is_resent_leaves_no_row_unaccounted(
    tmp_path: Path, batch_error: str, status: int
) -> None:
    """Split (413) or one by one (a refused batch): a part stuck at the deadline stops the rest, and is named."""
    # given: ten rows in one batch; the part holding row "0" (line 2) is throttled until the deadline
    path = tmp_path / "ten.csv"
    path.write_text("customer_id,name\n" + "".join(f"{i},n\n" for i in range(10)))
    client: Any = _RefusingBatches(batch_error, status)  # a double, not a DynamoDBClient
    writer = TableWriter(
        client, table_name="t", concurrency=1, mode="replace",
        backoff=Backoff(base_s=0.05, cap_s=0.05), close_grace_s=0.5,
    )  # fmt: skip

    def should_stop() -> bool:
        return client.first_throttle is not None and time.monotonic() > client.first_throttle + 0.2

    # when
    with pytest.raises(IngestStopped) as stopped:
        ingest_file(path, source="ten.csv", key_column="customer_id", writer=writer, should_stop=should_stop)
    # then: nothing after the stuck part was sent, and the counts say so
    assert stopped.value.first_missing_line == 2
    assert client.written == []
    assert stopped.value.rows_written == 0
