"""The concurrent writer: DynamoDB's refusals, throttling, order per key, back-pressure and `replace` mode.

botocore's Stubber answers in place of DynamoDB where one exact answer matters; plain fakes stand in where a table
must answer the same way for as long as the writer keeps asking; the stub endpoint of benchmarks/ answers over real
HTTP, through the client settings the engine uses.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from stub_dynamodb import StubServer

from csv_ingest_engine import IngestError, ingest_file
from csv_ingest_engine import write_session as writing_module
from csv_ingest_engine.errors import WriteFailed
from csv_ingest_engine.objects import dynamodb_config
from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.requests import MERGE_MAX_ATTRIBUTES, MERGE_MAX_ATTRIBUTES_UNORDERED
from csv_ingest_engine.rules import Rejection, Row
from csv_ingest_engine.worker_state import QUEUE_DEPTH, WriteTotals
from csv_ingest_engine.write_session import CHUNK_SIZE
from csv_ingest_engine.writing import TableWriter
from tests.support.writing import CREDENTIALS, NEWER, row, table_writer

UPDATE = row(7, "1", name="Ann")
# Throttling resent within milliseconds, and given up after a tenth of a second without progress: tests stay fast.
PATIENCE_S = 0.1


def throttled(operation: str) -> ClientError:
    response: Any = {
        "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return ClientError(response, operation)


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("dynamodb", **CREDENTIALS)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def stub_endpoint(request: pytest.FixtureRequest) -> Iterator[StubServer]:
    """The stub DynamoDB endpoint on 127.0.0.1; `throttle_share` from the test's parametrization, if any."""
    share = getattr(request, "param", 0.0)
    server = StubServer(latency_s=0.0, throttle_share=share, keep_items=True).start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


def write_all(writer: TableWriter, rows: list[Row]) -> tuple[WriteTotals, list[Rejection]]:
    rejections: list[Rejection] = []
    session = writer.session(rejections.append)
    for each in rows:
        session.submit(each)
    return session.close(), rejections


def test_validation_error_rejects_the_row(stubbed: tuple[Any, Stubber]) -> None:
    """DynamoDB refusing the item (e.g. merged item over 400 KB) rejects that row with DynamoDB's words."""
    client, stubber = stubbed
    stubber.add_client_error(
        "update_item", "ValidationException", "Item size to update has exceeded the maximum allowed size"
    )
    totals, rejections = write_all(table_writer(client, concurrency=1), [UPDATE])
    assert (totals.written, totals.rejected, totals.failed) == (0, 1, 0)
    assert rejections[0].line == 7
    assert "Item size to update has exceeded" in rejections[0].reason


def test_access_denied_fails_the_file(stubbed: tuple[Any, Stubber]) -> None:
    """A refusal that is not about the row (permissions) stops the file: every later row would fail too."""
    client, stubber = stubbed
    stubber.add_client_error("update_item", "AccessDeniedException", "not authorized", http_status_code=400)
    with pytest.raises(WriteFailed, match=r"line 7: .*AccessDeniedException"):
        write_all(table_writer(client, concurrency=1), [UPDATE])


def test_existing_item_for_a_key_only_row_is_not_an_error(stubbed: tuple[Any, Stubber]) -> None:
    """The guarded put of a bare key fails its condition when the item exists; that is success."""
    client, stubber = stubbed
    stubber.add_client_error("put_item", "ConditionalCheckFailedException", "exists")
    totals, rejections = write_all(table_writer(client, concurrency=1), [row(3, "1")])
    assert (totals.written, rejections) == (1, [])


def test_an_update_sets_every_attribute_through_placeholders() -> None:
    """Column names never appear in the expression itself: reserved words and odd characters are safe."""
    operation, params = table_writer(None).request(row(2, "1", name="Ann", **{"a.b #c": "x"}))
    assert operation == "update_item"
    assert params == {
        "TableName": "t",
        "Key": {"customer_id": {"S": "1"}},
        "UpdateExpression": "SET #0=:0,#1=:1",
        "ExpressionAttributeNames": {"#0": "name", "#1": "a.b #c"},
        "ExpressionAttributeValues": {":0": {"S": "Ann"}, ":1": {"S": "x"}},
    }


def test_a_key_only_row_is_a_put_that_cannot_overwrite() -> None:
    """A bare key becomes a put guarded by attribute_not_exists, so an existing item is never replaced."""
    operation, params = table_writer(None).request(row(2, "1"))
    assert operation == "put_item"
    assert params["ConditionExpression"] == "attribute_not_exists(#k)"
    assert params["ExpressionAttributeNames"] == {"#k": "customer_id"}


@pytest.mark.parametrize(("ordering", "limit"), [(None, MERGE_MAX_ATTRIBUTES_UNORDERED), (NEWER, MERGE_MAX_ATTRIBUTES)])
def test_the_widest_merge_row_fits_dynamodbs_expression_limit(ordering: Ordering | None, limit: int) -> None:
    """The row limit the rules apply in merge mode is exactly what one 4 KB update expression holds, with the order
    stamp's action and without."""
    widest = row(2, "1", **{f"c{i}": "v" for i in range(limit)})
    expression = table_writer(None, ordering=ordering).request(widest)[1]["UpdateExpression"]
    assert len(expression) <= 4096
    assert len(expression + f",#{limit}=:{limit}") > 4096


def test_a_throttled_write_is_sent_again_not_failed(stubbed: tuple[Any, Stubber]) -> None:
    """A throttling answer is not the end of the row: the writer sends it again (it used to count as failed)."""
    client, stubber = stubbed
    stubber.add_client_error("update_item", "ProvisionedThroughputExceededException", "slow down")
    stubber.add_response("update_item", {})
    totals, rejections = write_all(table_writer(client, concurrency=1), [UPDATE])
    assert (totals.written, totals.rejected, totals.failed, rejections) == (1, 0, 0, [])


def test_throttling_without_progress_for_the_patience_is_a_failed_row_never_a_lost_one() -> None:
    """When the table takes no write for the patience window, the row is counted and reported as failed."""

    class Throttling:
        def update_item(self, **params: Any) -> None:
            raise throttled("UpdateItem")

    totals, rejections = write_all(table_writer(Throttling(), patience_s=PATIENCE_S), [UPDATE])
    assert (totals.written, totals.rejected, totals.failed) == (0, 0, 1)
    assert rejections[0].failed
    assert rejections[0].line == 7
    assert "retries exhausted (ProvisionedThroughputExceededException)" in rejections[0].reason


def test_failed_rows_fail_the_file_and_land_in_the_report(tmp_path: Path) -> None:
    """A file with failed rows raises (so Lambda retries it) after every other row was written."""

    class ThrottlesTwo:
        def update_item(self, **params: Any) -> None:
            if params["Key"]["customer_id"]["S"] == "2":
                raise throttled("UpdateItem")

    path = tmp_path / "two.csv"
    path.write_text("customer_id,name\n1,Ann\n2,Bob\n")
    rejections: list[Rejection] = []
    with pytest.raises(IngestError, match=r"1 row could not be written before retries ran out.*; 1 row was written\. "):
        ingest_file(
            path,
            source="two.csv",
            key_column="customer_id",
            writer=table_writer(ThrottlesTwo(), concurrency=1, patience_s=PATIENCE_S),
            on_reject=rejections.append,
        )
    assert [(r.line, r.failed) for r in rejections] == [(3, True)]


@pytest.mark.parametrize("stub_endpoint", [0.1], indirect=True)
def test_throttled_requests_are_retried_until_every_row_arrives(stub_endpoint: StubServer, tmp_path: Path) -> None:
    """With 10% of requests throttled, the writer's resending delivers every row, in file order per key."""
    client = boto3.client("dynamodb", endpoint_url=stub_endpoint.url, config=dynamodb_config(8), **CREDENTIALS)
    rows = [(f"k{i % 7}", str(i)) for i in range(300)]
    path = tmp_path / "rows.csv"
    path.write_text("customer_id,seq\n" + "".join(f"{key},{seq}\n" for key, seq in rows))

    result = ingest_file(path, source="rows.csv", key_column="customer_id", writer=table_writer(client, concurrency=8))

    counters = stub_endpoint.counters
    assert counters.throttled > 10  # the stub really throttled
    assert (result.rows_written, result.rows_rejected, result.rows_failed) == (300, 0, 0)
    assert counters.rows == 300
    assert {key: item["seq"] for key, item in counters.items.items()} == dict(rows)


def test_rows_sharing_a_key_keep_file_order_across_threads() -> None:
    """Whatever the threads do, each key's requests reach the client in submission order."""
    seen: dict[str, list[int]] = {}
    lock = threading.Lock()

    class Recorder:
        def update_item(self, **params: Any) -> None:
            time.sleep(0.0001)
            with lock:
                seen.setdefault(params["Key"]["customer_id"]["S"], []).append(
                    int(params["ExpressionAttributeValues"][":0"]["S"])
                )

    writes = [row(i, f"k{i % 5}", seq=str(i)) for i in range(1000)]
    totals, _ = write_all(table_writer(Recorder(), concurrency=8), writes)
    assert totals.written == 1000
    assert all(lines == sorted(lines) for lines in seen.values())
    assert sum(len(lines) for lines in seen.values()) == 1000


def test_submit_blocks_when_the_table_is_slower_than_the_file() -> None:
    """Back-pressure: with every worker stuck, the reader stops after the bounded queues fill."""
    release = threading.Event()

    class Stuck:
        def update_item(self, **params: Any) -> None:
            release.wait()

    session = table_writer(Stuck(), concurrency=2).session(lambda r: None)
    submitted = 0

    def feed() -> None:
        nonlocal submitted
        for i in range(10_000):
            session.submit(row(i, f"k{i}", name="n"))
            submitted += 1

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    time.sleep(0.3)
    # per worker: a chunk in flight, a full queue of chunks and one being filled; nothing more was read
    assert submitted <= 2 * (QUEUE_DEPTH + 2) * CHUNK_SIZE
    release.set()
    feeder.join(timeout=10)
    assert session.close().written == 10_000


def test_replace_mode_fills_batches_of_25(stub_endpoint: StubServer) -> None:
    """Distinct keys go out 25 to a BatchWriteItem call (the stub, like DynamoDB, refuses more)."""
    client = boto3.client("dynamodb", endpoint_url=stub_endpoint.url, config=dynamodb_config(1), **CREDENTIALS)
    totals, rejections = write_all(
        table_writer(client, concurrency=1, mode="replace"), [row(i, f"k{i}") for i in range(100)]
    )
    assert (totals.written, rejections, stub_endpoint.counters.rows) == (100, [], 100)
    assert (stub_endpoint.counters.largest_batch, stub_endpoint.counters.requests) == (25, 4)


def test_replace_mode_batches_never_repeat_a_key(stub_endpoint: StubServer) -> None:
    """A batch never holds two puts for one key (DynamoDB refuses that); later rows for a key win whole."""
    client = boto3.client("dynamodb", endpoint_url=stub_endpoint.url, config=dynamodb_config(2), **CREDENTIALS)
    writes = [row(i, f"k{i % 3}", seq=str(i), **({"first": "x"} if i < 3 else {})) for i in range(300)]
    totals, rejections = write_all(table_writer(client, concurrency=2, mode="replace"), writes)
    counters = stub_endpoint.counters
    assert (totals.written, rejections, counters.rows, counters.duplicate_batches) == (300, [], 300, 0)
    assert counters.requests >= 300 // 25
    # replace: the first rows' `first` attribute did not survive the later puts of the same key
    assert sorted(item["seq"] for item in counters.items.values()) == ["297", "298", "299"]
    assert all("first" not in item for item in counters.items.values())


@pytest.mark.parametrize("stub_endpoint", [0.4], indirect=True)
def test_replace_mode_resends_unprocessed_items(stub_endpoint: StubServer) -> None:
    """Puts handed back as UnprocessedItems are sent again with backoff until all arrive."""
    client = boto3.client("dynamodb", endpoint_url=stub_endpoint.url, config=dynamodb_config(4), **CREDENTIALS)
    writes = [row(i, f"k{i}", seq=str(i)) for i in range(500)]
    totals, _ = write_all(table_writer(client, concurrency=4, mode="replace"), writes)
    assert stub_endpoint.counters.throttled > 0
    assert (totals.written, totals.failed, stub_endpoint.counters.rows) == (500, 0, 500)


def test_replace_mode_reports_rows_still_unprocessed_after_the_patience() -> None:
    """Unprocessed items the table never takes are failed rows once the patience window passes without a write
    (it used to be after ten resends, however the rest of the table was doing), each with its line."""

    class KeepsTwo:
        def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
            second = [r for r in RequestItems["t"] if r["PutRequest"]["Item"]["customer_id"]["S"] == "2"]
            return {"UnprocessedItems": {"t": second} if second else {}}

    writer = table_writer(KeepsTwo(), concurrency=1, mode="replace", patience_s=PATIENCE_S)
    totals, rejections = write_all(writer, [row(2, "1"), row(3, "2")])
    assert (totals.written, totals.failed) == (1, 1)
    assert [(r.line, r.key, r.failed) for r in rejections] == [(3, "2", True)]


def test_an_unexpected_error_in_a_worker_fails_the_file_instead_of_hanging() -> None:
    """A bug in a worker thread surfaces as a failure with the row's line; the reader never waits forever."""

    class Broken:
        def update_item(self, **params: Any) -> None:
            raise KeyError("boom")

    with pytest.raises(WriteFailed, match=r"line \d+: unexpected error: KeyError\('boom'\)"):
        write_all(table_writer(Broken(), concurrency=2), [row(i, f"k{i}", name="n") for i in range(1000)])


def test_a_failing_rejects_report_fails_the_file_instead_of_hanging(stubbed: tuple[Any, Stubber]) -> None:
    """If recording a rejection raises (e.g. /tmp full), the file fails; the reader is never left waiting."""
    client, stubber = stubbed
    stubber.add_client_error("update_item", "ValidationException", "Item size has exceeded the maximum")

    def disk_full(rejection: Rejection) -> None:
        raise OSError(28, "No space left on device")

    session = table_writer(client, concurrency=1).session(disk_full)
    with pytest.raises(WriteFailed, match=r"line 0: unexpected error: OSError\(28"):
        for i in range(500):
            session.submit(row(i, f"k{i}", name="Ann"))
        session.close()


def test_the_first_refusal_is_reported_and_nothing_more_is_sent() -> None:
    """After a fatal refusal no further request goes out, and the message names the first failing line."""

    class Missing:
        calls = 0

        def update_item(self, **params: Any) -> None:
            Missing.calls += 1
            error: Any = {"Error": {"Code": "ResourceNotFoundException", "Message": "Requested resource not found"}}
            raise ClientError(error, "UpdateItem")

    writes = [row(line, f"k{line}", name="n") for line in range(2, 102)]
    with pytest.raises(WriteFailed, match=r"^line 2: .*ResourceNotFoundException"):
        write_all(table_writer(Missing(), concurrency=1), writes)
    assert Missing.calls == 1


def test_a_key_that_does_not_match_the_table_fails_the_file(stubbed: tuple[Any, Stubber]) -> None:
    """A wrong key column is the table's problem, not each row's: one failure, not a rejection per row."""
    client, stubber = stubbed
    stubber.add_client_error("update_item", "ValidationException", "The provided key element does not match the schema")
    with pytest.raises(WriteFailed, match="does not match the schema"):
        write_all(table_writer(client, concurrency=1), [UPDATE])


def test_missing_credentials_fail_the_file_with_botocores_words() -> None:
    """No credentials is not throttling: the file fails at once, saying so."""
    client: Any = boto3.client("dynamodb", region_name="us-east-1")
    client._request_signer._credentials = None  # what a machine without any AWS configuration gives

    with pytest.raises(WriteFailed, match="Unable to locate credentials"):
        write_all(table_writer(client, concurrency=1), [UPDATE])


def test_an_endpoint_that_never_answers_fails_the_file_after_a_run_of_failed_rows() -> None:
    """Connection errors are resent for the patience window; then a long run of failed requests means the table is
    gone: stop (it used to take 50 failed rows, with no patience window before the first)."""

    class Unreachable:
        calls = 0

        def update_item(self, **params: Any) -> None:
            Unreachable.calls += 1
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    writes = [row(i, f"k{i}", name="n") for i in range(1000)]
    writer = table_writer(Unreachable(), concurrency=1, patience_s=PATIENCE_S)
    rejections: list[Rejection] = []
    session = writer.session(rejections.append)
    with contextlib.suppress(WriteFailed):  # `submit` may see the failure first; `close` always reports it
        for each in writes:
            session.submit(each)
    with pytest.raises(WriteFailed, match=f"{writing_module.MAX_CONSECUTIVE_FAILURES} requests in a row could not"):
        session.close()
    # the first row was resent for the whole patience window, each later one sent once: fast, once the table is gone
    assert len(rejections) == writing_module.MAX_CONSECUTIVE_FAILURES
    assert all(r.failed for r in rejections)
    assert Unreachable.calls > writing_module.MAX_CONSECUTIVE_FAILURES
    assert session.totals.failed == writing_module.MAX_CONSECUTIVE_FAILURES


def test_deadline_while_the_writers_are_busy_stops_without_waiting_for_the_queue(tmp_path: Path) -> None:
    """When the table is slower than the file, the clock is still watched; queued rows are dropped, not sent."""
    calls = 0

    class Slow:
        def update_item(self, **params: Any) -> None:
            nonlocal calls
            calls += 1
            time.sleep(0.01)

    path = tmp_path / "big.csv"
    path.write_text("customer_id,name\n" + "".join(f"{i},n\n" for i in range(1, 2001)))
    with pytest.raises(IngestError) as failure:
        ingest_file(
            path,
            source="big.csv",
            key_column="customer_id",
            writer=table_writer(Slow(), concurrency=1),
            should_stop=lambda: calls >= 40,
        )
    found = re.search(r"stopped before line (\d+) \((\d+) rows written", str(failure.value))
    assert found, str(failure.value)
    assert int(found[2]) == calls
    # The reader blocks at row ~192 (a worker's queue, chunk in hand and chunk in flight are full) and reaches its
    # own check at row 256 only after 64 writes: stopping sooner proves the wait in `submit` watches the clock.
    assert calls < 2 * CHUNK_SIZE
    assert int(found[1]) <= calls + 2  # rows from the named line on were not written


def test_a_report_that_cannot_be_written_fails_the_file_naming_the_report_not_the_table(
    stubbed: tuple[Any, Stubber], tmp_path: Path
) -> None:
    """A full disk under the rejects report is the report's problem: the message says so, and blames no table."""
    client, stubber = stubbed
    stubber.add_client_error("update_item", "ValidationException", "Item size has exceeded the maximum")
    path = tmp_path / "one.csv"
    path.write_text("customer_id,name\n1,Ann\n")

    class FullDisk(RejectsReport):
        def reject(self, rejection: Rejection) -> None:
            raise OSError(28, "No space left on device")

    with pytest.raises(IngestError) as failure:
        ingest_file(
            path,
            source="one.csv",
            key_column="customer_id",
            writer=table_writer(client),
            report=FullDisk(tmp_path / "rejects.csv"),
        )
    assert (
        str(failure.value) == "one.csv: could not write the rejected-rows report ([Errno 28] No space left on device)"
    )
