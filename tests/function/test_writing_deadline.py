"""The deadline holds while writes are in flight: `close` and a writer waiting to resend both stop in time."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from csv_ingest_engine import IngestError, ingest_file
from tests.support.writing import table_writer as writer

GRACE_S = 0.05
# Longer than any test here may take: a write that has not returned by then proves `close` waited for it.
HANG_S = 5.0


def csv_file(tmp_path: Path, rows: int) -> Path:
    """Customers 1..rows, customer i on line i + 1."""
    path = tmp_path / "rows.csv"
    path.write_text("customer_id,name\n" + "".join(f"{i},name {i}\n" for i in range(1, rows + 1)))
    return path


class HangsOnOneKey:
    """Writes instantly, except the row of `hang_key`, whose call does not return within the test."""

    def __init__(self, hang_key: str) -> None:
        self.hang_key = hang_key
        self.hanging = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.written: list[str] = []

    def update_item(self, **params: Any) -> None:
        key = params["Key"]["customer_id"]["S"]
        if key == self.hang_key:
            self.hanging.set()
            self.release.wait(HANG_S)
        with self.lock:
            self.written.append(key)


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("rows", [100, 190])
def test_close_returns_at_the_deadline_while_a_write_hangs(tmp_path: Path, concurrency: int, rows: int) -> None:
    """A write outlasting the time left does not hold the file: it stops, naming the hung line, counts exact.

    100 rows: reading ends and `close` waits for the hung worker. 190 rows on one worker: its queue fills behind
    the hung write, so `submit` meets the deadline, and `close` cannot even hand over its end-of-input marker.
    """
    # given: customer 9 (line 10) hangs; the deadline passes 0.3 s in
    client = HangsOnOneKey("9")
    started = time.monotonic()
    deadline = started + 0.3
    # when
    with pytest.raises(IngestError) as failure:
        ingest_file(
            csv_file(tmp_path, rows),
            source="rows.csv",
            key_column="customer_id",
            writer=writer(client, concurrency=concurrency, close_grace_s=GRACE_S),
            should_stop=lambda: time.monotonic() >= deadline,
        )
    elapsed = time.monotonic() - started
    # then: well before the hung write would have returned
    assert elapsed < 2.0, elapsed
    found = re.search(r"stopped before line (\d+) \((\d+) rows written, 0 rejected", str(failure.value))
    assert found, str(failure.value)
    # every row but the hung one and those queued behind it on its worker was written, and counted
    hung_worker = hash("9") % concurrency
    expected = [str(i) for i in range(1, rows + 1) if not (hash(str(i)) % concurrency == hung_worker and i >= 9)]
    assert (int(found[1]), int(found[2])) == (10, len(expected))
    assert sorted(client.written, key=int) == expected
    # the abandoned worker sends nothing more once its write returns
    client.release.set()
    time.sleep(0.1)
    assert sorted(client.written, key=int) == sorted([*expected, "9"], key=int)


def test_a_writer_waiting_to_resend_stops_at_the_deadline(tmp_path: Path) -> None:
    """A table that throttles everything does not keep the file past the deadline, whatever the patience."""

    class Throttling:
        calls = 0

        def update_item(self, **params: Any) -> None:
            Throttling.calls += 1
            error: Any = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
            response: Any = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
            raise ClientError(response, "UpdateItem")

    started = time.monotonic()
    with pytest.raises(IngestError, match=r"about to time out, so ingestion stopped before line 2 \(0 rows written"):
        ingest_file(
            csv_file(tmp_path, 50),
            source="rows.csv",
            key_column="customer_id",
            writer=writer(Throttling(), concurrency=2, close_grace_s=GRACE_S),  # the default patience: minutes
            should_stop=lambda: time.monotonic() >= started + 0.3,
        )
    assert time.monotonic() - started < 1.5
    assert Throttling.calls > 2  # the rows were sent again until the deadline, not failed at the first refusal
