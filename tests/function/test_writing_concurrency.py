"""The writer under concurrency: one failure reported whoever hits it, exact counts, no hang when a worker dies."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from csv_ingest_engine.errors import WriteFailed
from csv_ingest_engine.rules import Rejection
from csv_ingest_engine.write_session import CHUNK_SIZE, MAX_CONSECUTIVE_FAILURES
from tests.support.writing import row
from tests.support.writing import table_writer as writer


def refusal(code: str, message: str, operation: str = "UpdateItem") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return ClientError(response, operation)


def one_key_per_worker(concurrency: int) -> list[str]:
    """A key for each worker, in worker order (the writer routes a key to worker `hash(key) % concurrency`)."""
    found: dict[int, str] = {}
    number = 0
    while len(found) < concurrency:
        found.setdefault(hash(f"k{number}") % concurrency, f"k{number}")
        number += 1
    return [found[worker] for worker in range(concurrency)]


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond instead of every 5 ms, so that races have every chance to show."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("frequent_thread_switches")
@pytest.mark.parametrize("round_", range(5))
def test_workers_refused_all_at_once_report_one_failure_and_send_nothing_more(round_: int) -> None:
    """16 workers refused at the same instant: `submit` and `close` report one and the same failure."""
    concurrency = 16
    keys = one_key_per_worker(concurrency)
    barrier = threading.Barrier(concurrency)
    calls: list[int] = []
    lock = threading.Lock()

    class Denied:
        def update_item(self, **params: Any) -> None:
            line = int(params["ExpressionAttributeValues"][":0"]["S"])
            with lock:
                calls.append(line)
            barrier.wait(timeout=5)
            raise refusal("AccessDeniedException", f"not authorized (line {line})")

    # given: a full chunk for every worker, so that all of them start at once
    rows = [
        row(2 + n * concurrency + w, keys[w], seq=str(2 + n * concurrency + w))
        for n in range(CHUNK_SIZE)
        for w in range(concurrency)
    ]
    session = writer(Denied(), concurrency=concurrency).session(lambda rejection: None)
    submitted: WriteFailed | None = None
    # when
    try:
        for each in [*rows, *rows]:
            session.submit(each)
    except WriteFailed as exc:
        submitted = exc
    with pytest.raises(WriteFailed) as closed:
        session.close()
    # then: one failure, naming a line that was refused, and each worker sent its first request only
    assert submitted is None or submitted is closed.value
    assert sorted(calls) == [row.line for row in rows[:concurrency]]
    assert f"not authorized (line {closed.value.line})" in closed.value.detail
    assert (session.totals.written, session.totals.rejected, session.totals.failed) == (0, 0, 0)


def test_counts_are_exact_with_many_workers_refusing_throttling_and_writing() -> None:
    """Written, rejected and failed add up to the rows submitted, each rejection reported once, at 8 workers."""
    randomness = random.Random(7)
    lock = threading.Lock()
    written: list[int] = []

    class Mixed:
        def update_item(self, **params: Any) -> None:
            line = int(params["ExpressionAttributeValues"][":0"]["S"])
            with lock:
                throttle = randomness.random() < 0.3
            if throttle:
                raise refusal("ProvisionedThroughputExceededException", "slow down")
            if line % 7 == 0:
                raise refusal("ValidationException", "Item size has exceeded the maximum allowed size")
            with lock:
                written.append(line)

        def put_item(self, **params: Any) -> None:
            raise refusal("ConditionalCheckFailedException", "the item exists", "PutItem")

    rows = [
        row(line, f"k{line % 50}", seq=str(line)) if line % 5 else row(line, f"k{line % 50}") for line in range(2, 2002)
    ]
    rejections: list[Rejection] = []
    session = writer(Mixed(), concurrency=8).session(rejections.append)
    for each in rows:
        session.submit(each)
    totals = session.close()

    refused = sorted(r.line for r in rejections)
    expected_refused = [r.line for r in rows if r.attributes and r.line % 7 == 0]
    assert refused == expected_refused
    assert (totals.written, totals.rejected, totals.failed) == (
        len(rows) - len(expected_refused),
        len(expected_refused),
        0,
    )
    assert sorted(written) == [r.line for r in rows if r.attributes and r.line % 7]
    assert totals.first_unsent_line is None


def test_a_worker_that_dies_after_its_last_batch_does_not_hang_close() -> None:
    """A worker failing after it took its end-of-input marker ends `close` with the failure, instead of a hang."""

    class Crash(BaseException):
        pass

    class Crashing:
        def batch_write_item(self, **params: Any) -> dict[str, Any]:
            raise Crash("boom")

    session = writer(Crashing(), concurrency=1, mode="replace").session(lambda rejection: None)
    for line in range(2, 5):
        session.submit(row(line, f"k{line}"))  # fewer than a batch: it goes out only once the input has ended
    outcome: list[BaseException | None] = []

    def close() -> None:
        try:
            session.close()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    closing = threading.Thread(target=close, daemon=True)
    closing.start()
    closing.join(timeout=5)
    assert not closing.is_alive(), "close() hung"
    assert isinstance(outcome[0], WriteFailed)
    assert "writer thread failed: Crash('boom')" in str(outcome[0])


def test_the_breaker_counts_failed_requests_not_rows() -> None:
    """Three failed batches of 25 rows are three failed requests: 75 failed rows, but the file goes on."""

    class NeverTakes:
        calls = 0

        def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
            NeverTakes.calls += 1
            return {"UnprocessedItems": RequestItems}

    rejections: list[Rejection] = []
    session = writer(NeverTakes(), concurrency=1, mode="replace", patience_s=0.05).session(rejections.append)
    for line in range(2, 77):
        session.submit(row(line, f"k{line}"))
    totals = session.close()  # no WriteFailed: 3 failed requests are far from the breaker's 50
    assert MAX_CONSECUTIVE_FAILURES > 3
    assert (totals.written, totals.failed) == (0, 75)
    assert sorted(r.line for r in rejections if r.failed) == list(range(2, 77))
