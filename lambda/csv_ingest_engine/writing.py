"""The writer of one table: its settings, the shared client, and `session()`, the pool that writes one file's rows
(`write_session`).

Throttling slows the load down instead of failing it: a throttled write is sent again, after a jittered backoff,
for as long as the table takes writes from any worker; a row fails only after `patience_s` without a single write.

Three modes:
- `merge` (default): one `UpdateItem` per row; attributes not in the row are kept (an upsert).
- `replace`: each row replaces the whole item: `BatchWriteItem` puts, 25 per call (fewer when the rows are large),
  or, stamped with the upload's order, one conditional `PutItem` per row.
- `changed`: merge's `UpdateItem`, for only the rows that would change their item, read back in `BatchGetItem`s of
  up to 100 keys (`changed_session`).

A row whose delete marker is true (`rules.DeletingRow`) is one `DeleteItem` in either mode.

With an `Ordering` (the default everywhere but `--no-ordering`), every write carries the upload's order stamp and
applies only if the item holds no newer upload's (see `ordering`); a row refused for that is superseded. A delete
carries the same condition.

The requests are built in `requests`, from the writer's own table name and mode: the rules hand over data.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from csv_ingest_engine.changed_session import ChangedWriteSession
from csv_ingest_engine.constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_WRITE_MODE,
    WRITE_MODES,
    WRITE_PATIENCE_S,
    WriteMode,
)
from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.requests import item_of, put_size_of, request_for
from csv_ingest_engine.rules import Rejection, Row
from csv_ingest_engine.write_session import WriteSession

if TYPE_CHECKING:  # the stubs are a development dependency; the Lambda runtime has none
    from mypy_boto3_dynamodb import DynamoDBClient

# Once the deadline has passed, how long `close` still waits for the requests in flight (a write answers in
# milliseconds, so this only runs out when the table or the network is stuck); what is unsettled then is unsent.
CLOSE_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """The wait before sending a throttled write again: full jitter over `base_s * 2**attempt`, at most `cap_s`."""

    # Each worker backs off on its own, so a throttled table also gets fewer requests in flight. The cap stays
    # short because a row waiting to be resent holds up the rows behind it on its worker (order per key): against
    # the stub refusing 60% of writes, a 5 s cap took twice as long as 2 s to load the same 300 rows.
    base_s: float = 0.05
    cap_s: float = 2.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap_s, self.base_s * 2 ** min(attempt, 30)))


DEFAULT_BACKOFF = Backoff()


class TableWriter:
    """Configuration and the shared client; `session()` opens the pool for one file.

    `ordering` stamps every write with the upload's order (None: unconditional writes); `patience_s` is how long
    the table may take no write at all before throttled rows fail; `backoff` paces the resending; `close_grace_s`
    is how long `close` waits for requests in flight once the deadline has passed; `consistent_reads` has `changed`
    read items back with strongly consistent reads.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        table_name: str,
        concurrency: int = DEFAULT_CONCURRENCY,
        mode: WriteMode = DEFAULT_WRITE_MODE,
        ordering: Ordering | None = None,
        patience_s: float = WRITE_PATIENCE_S,
        backoff: Backoff = DEFAULT_BACKOFF,
        close_grace_s: float = CLOSE_GRACE_S,
        consistent_reads: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if mode not in WRITE_MODES:
            raise ValueError(f"write mode must be one of {', '.join(WRITE_MODES)}, got {mode!r}")
        self.client = client
        self.table_name = table_name
        self.concurrency = concurrency
        self.mode: WriteMode = mode
        self.ordering = ordering
        self.patience_s = patience_s
        self.backoff = backoff
        self.close_grace_s = close_grace_s
        self.consistent_reads = consistent_reads

    def request(self, row: Row) -> tuple[str, dict[str, Any]]:
        """The client method and parameters that write `row` on its own in this writer's mode."""
        return request_for(row, table_name=self.table_name, mode=self.mode, ordering=self.ordering)

    def item(self, row: Row) -> dict[str, Any]:
        """The whole item `row` stands for (its key and attributes), as a put writes it."""
        return item_of(row)

    def put_size(self, row: Row) -> int:
        """At least the bytes `row`'s put adds to a `BatchWriteItem` body as botocore sends it (non-ASCII escaped)."""
        return put_size_of(row)

    def session(
        self, on_reject: Callable[[Rejection], None], *, should_stop: Callable[[], bool] | None = None
    ) -> WriteSession:
        """A pool for one file.

        `on_reject` is called from the pool's threads (it must be thread-safe) for rows the table refuses and rows
        that failed. `should_stop` is the caller's deadline: asked while `submit` or `close` waits for a busy worker
        and before a throttled write is sent again; once it turns true nothing more is sent, `submit` raises
        `DeadlineReached`, and `close` returns within `close_grace_s`.
        """
        if self.mode == "changed":
            return ChangedWriteSession(self, on_reject, should_stop)
        return WriteSession(self, on_reject, should_stop)
