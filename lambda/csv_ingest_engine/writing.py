"""Writes `Row`s to DynamoDB from a bounded pool of threads, keeping the file's order for each key.

Each key is routed to one worker by hash, and a worker sends its requests one after the other, so rows that share
a key land in file order while different keys go out concurrently. Requests travel to a worker in small chunks (a
queue hand-off costs about as much CPU as the CSV work of a row), and every worker's queue is bounded: when the
table is slower than the file, `submit` blocks, and memory stays flat whatever the file's size.

Two modes:
- `merge` (default): one `UpdateItem` per row; attributes not in the row are kept (an upsert).
- `replace`: `BatchWriteItem` puts, 25 per call; each row replaces the whole item. For initial loads.

The requests are built here, from the writer's own table name, key column and mode: the rules hand over data.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from csv_ingest_engine.constants import DEFAULT_CONCURRENCY, DEFAULT_WRITE_MODE, WRITE_MODES, WriteMode
from csv_ingest_engine.errors import DeadlineReached, WriteFailed
from csv_ingest_engine.rules import Rejection, Row

# Requests per hand-off to a worker, and hand-offs waiting per worker before `submit` blocks: enough to keep every
# worker busy, few enough that memory does not depend on the file.
CHUNK_SIZE = 32
QUEUE_DEPTH = 4
# How often a blocked `submit` looks at the session's state (failure, deadline).
SUBMIT_POLL_S = 0.25
BATCH_SIZE = 25  # BatchWriteItem's limit
# UnprocessedItems (throttled puts inside a successful BatchWriteItem) are not retried by botocore.
BATCH_RETRIES = 10
BATCH_BACKOFF_BASE_S = 0.05
BATCH_BACKOFF_CAP_S = 5.0
# Rows failing one after another, none written in between: the table is not answering, stop trying.
MAX_CONSECUTIVE_FAILURES = 50
# DynamoDB caps an expression at 4 KB. An update sets its row's attributes through positional placeholders
# (`SET #0=:0,#1=:1,...`), so the expression's length depends only on how many attributes the row has.
MAX_EXPRESSION_BYTES = 4 * 1024


def _set_expressions() -> list[str]:
    """`SET #0=:0,...` for 1, 2, ... attributes, as long as the expression fits DynamoDB's limit (index 0 unused)."""
    expressions = [""]
    actions: list[str] = []
    while True:
        actions.append(f"#{len(actions)}=:{len(actions)}")
        expression = "SET " + ",".join(actions)
        if len(expression) > MAX_EXPRESSION_BYTES:
            return expressions
        expressions.append(expression)


_SET_EXPRESSIONS = _set_expressions()
# The most attributes one `merge` update can set; the rules reject wider rows before they reach the writer.
MERGE_MAX_ATTRIBUTES = len(_SET_EXPRESSIONS) - 1
_NAME_PLACEHOLDERS = tuple(f"#{i}" for i in range(MERGE_MAX_ATTRIBUTES))
_VALUE_PLACEHOLDERS = tuple(f":{i}" for i in range(MERGE_MAX_ATTRIBUTES))


def max_attributes(mode: WriteMode) -> int | None:
    """The most attributes one row may have in `mode` (None: only the item-size limit applies)."""
    return MERGE_MAX_ATTRIBUTES if mode == "merge" else None


# A refusal about this row: reject it and go on.
_ROW_ERRORS = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})
# ValidationExceptions that are about the table, not the row: every row would get them, so the file fails.
_SCHEMA_MISMATCH = ("does not match the schema", "required keys was not given a value", "Missing the key")
# Transient: botocore's retry mode has already retried these with backoff; what reaches us exhausted its retries.
_TRANSIENT_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
# Transport errors that botocore retried; anything else from botocore (no credentials, no region...) is fatal.
_TRANSIENT_TRANSPORT = (BotoConnectionError, HTTPClientError)


@dataclass
class WriteTotals:
    """Counts for one file's writes; exact under concurrency (each worker counts its own, summed at the end).

    `first_unsent_line` is the first line a cancelled session did not send (None when everything was sent).
    """

    written: int = 0
    rejected: int = 0
    failed: int = 0
    first_unsent_line: int | None = None


@dataclass
class _Worker:
    queue: queue.Queue[list[Row] | None]
    pending: list[Row] = field(default_factory=list)  # the next chunk, filled by `submit`
    totals: WriteTotals = field(default_factory=WriteTotals)
    thread: threading.Thread | None = None


class TableWriter:
    """Configuration and the shared client; `session()` opens the pool for one file."""

    def __init__(
        self,
        client: Any,
        *,
        table_name: str,
        key_column: str,
        concurrency: int = DEFAULT_CONCURRENCY,
        mode: WriteMode = DEFAULT_WRITE_MODE,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if mode not in WRITE_MODES:
            raise ValueError(f"write mode must be one of {', '.join(WRITE_MODES)}, got {mode!r}")
        self.client = client
        self.table_name = table_name
        self.key_column = key_column
        self.concurrency = concurrency
        self.mode: WriteMode = mode

    def request(self, row: Row) -> tuple[str, dict[str, Any]]:
        """The client method and parameters that write `row` on its own in this writer's mode."""
        key = {self.key_column: {"S": row.key}}
        attributes = row.attributes
        if self.mode == "replace":
            return "put_item", {"TableName": self.table_name, "Item": self.item(row)}
        if not attributes:
            # DynamoDB accepts an UpdateItem without an update expression, but moto crashes on it; a put guarded by
            # attribute_not_exists creates the bare item and leaves an existing one untouched, on both.
            return "put_item", {
                "TableName": self.table_name,
                "Item": key,
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": self.key_column},
            }
        count = len(attributes)
        return "update_item", {
            "TableName": self.table_name,
            "Key": key,
            "UpdateExpression": _SET_EXPRESSIONS[count],
            "ExpressionAttributeNames": dict(zip(_NAME_PLACEHOLDERS[:count], attributes, strict=True)),
            "ExpressionAttributeValues": {
                placeholder: {"S": value}
                for placeholder, value in zip(_VALUE_PLACEHOLDERS[:count], attributes.values(), strict=True)
            },
        }

    def item(self, row: Row) -> dict[str, Any]:
        """The whole item `row` stands for (its key and attributes), as a put writes it."""
        return {self.key_column: {"S": row.key}, **{name: {"S": value} for name, value in row.attributes.items()}}

    def session(
        self, on_reject: Callable[[Rejection], None], *, should_stop: Callable[[], bool] | None = None
    ) -> WriteSession:
        """A pool for one file.

        `on_reject` is called from the pool's threads (it must be thread-safe) for rows the table refuses and rows
        that failed. `should_stop` is asked while `submit` waits for a busy worker; when it turns true, `submit`
        raises `DeadlineReached`.
        """
        return WriteSession(self, on_reject, should_stop)


class WriteSession:
    """One file's writes: `submit` in file order, then `close` (after `cancel`, if stopping early)."""

    def __init__(
        self,
        writer: TableWriter,
        on_reject: Callable[[Rejection], None],
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self._writer = writer
        self._client = writer.client
        self._on_reject = on_reject
        self._should_stop = should_stop
        self._fatal: WriteFailed | None = None
        self._cancelled = False
        self._consecutive_failures = 0
        self._workers = [_Worker(queue.Queue(maxsize=QUEUE_DEPTH)) for _ in range(writer.concurrency)]
        run = self._run_replace if writer.mode == "replace" else self._run_merge
        for number, worker in enumerate(self._workers):
            worker.thread = threading.Thread(
                target=self._guarded, args=(run, worker), name=f"csv-ingest-writer-{number}", daemon=True
            )
            worker.thread.start()
        self.totals = WriteTotals()

    def submit(self, row: Row) -> None:
        """Queue one row (waits while its worker is busy).

        Raises `WriteFailed` once the table refused for good, `DeadlineReached` when `should_stop` turned true
        while waiting.
        """
        if self._fatal is not None:
            raise self._fatal
        worker = self._workers[hash(row.key) % len(self._workers)]
        pending = worker.pending
        pending.append(row)
        if len(pending) < CHUNK_SIZE:
            return
        worker.pending = []
        while True:
            try:
                worker.queue.put(pending, timeout=SUBMIT_POLL_S)
                return
            except queue.Full:
                if self._fatal is not None:
                    raise self._fatal from None
                if self._should_stop is not None and self._should_stop():
                    worker.pending = pending  # not handed over: `cancel` counts it as unsent
                    raise DeadlineReached(pending[0].line) from None

    def cancel(self) -> None:
        """Stop sending: requests not yet sent are dropped (and counted as unsent) instead of written."""
        self._cancelled = True

    def close(self) -> WriteTotals:
        """Wait for the queued writes (or, after `cancel`, the ones in flight); return the totals.

        Raises `WriteFailed` if the table refused for good.
        """
        for worker in self._workers:
            if worker.pending:
                if self._cancelled:
                    self._skip(worker.totals, worker.pending[0])
                else:
                    worker.queue.put(worker.pending)
                worker.pending = []
            worker.queue.put(None)
        for worker in self._workers:
            if worker.thread is not None:
                worker.thread.join()
                worker.thread = None
        unsent = [w.totals.first_unsent_line for w in self._workers if w.totals.first_unsent_line is not None]
        self.totals = WriteTotals(
            written=sum(w.totals.written for w in self._workers),
            rejected=sum(w.totals.rejected for w in self._workers),
            failed=sum(w.totals.failed for w in self._workers),
            first_unsent_line=min(unsent, default=None),
        )
        if self._fatal is not None:
            raise self._fatal
        return self.totals

    # -- workers --------------------------------------------------------------------------------------------

    def _guarded(self, run: Callable[[_Worker], None], worker: _Worker) -> None:
        """Whatever happens in a worker fails the file; the worker never dies silently and leaves `submit` waiting."""
        try:
            run(worker)
        except BaseException as exc:
            self._set_fatal(WriteFailed(0, f"writer thread failed: {exc!r}"))
            while worker.queue.get() is not None:  # keep taking chunks, so that `close` can finish
                pass

    def _items(self, worker: _Worker) -> Iterator[Row]:
        """The worker's requests in order, until `close`; nothing more once the file failed or was cancelled."""
        while (chunk := worker.queue.get()) is not None:
            for item in chunk:
                if self._fatal is not None:
                    break
                if self._cancelled:
                    self._skip(worker.totals, item)
                    break
                yield item

    def _run_merge(self, worker: _Worker) -> None:
        for row in self._items(worker):
            try:
                self._send_one(worker.totals, row)
            except Exception as exc:  # a bug (or a failing rejects report) fails the file, never hangs it
                self._set_fatal(WriteFailed(row.line, f"unexpected error: {exc!r}"))

    def _send_one(self, totals: WriteTotals, row: Row) -> None:
        operation, params = self._writer.request(row)
        try:
            getattr(self._client, operation)(**params)
        except ClientError as exc:
            code, message = _error(exc)
            if code == "ConditionalCheckFailedException":
                self._written(totals, 1)  # a key-only row whose item exists: nothing to change
            elif _is_row_refusal(code, message):
                self._reject(totals, row, f"DynamoDB refused the row: {message}")
            elif code in _TRANSIENT_ERRORS:
                self._fail(totals, row, f"not written, retries exhausted ({code})")
            else:
                self._set_fatal(WriteFailed(row.line, str(exc)))
        except _TRANSIENT_TRANSPORT as exc:
            self._fail(totals, row, f"not written, retries exhausted ({exc})")
        except BotoCoreError as exc:  # no credentials, no region, bad endpoint URL: the same for every row
            self._set_fatal(WriteFailed(row.line, str(exc)))
        else:
            self._written(totals, 1)

    def _run_replace(self, worker: _Worker) -> None:
        batch: dict[str, Row] = {}
        for row in self._items(worker):
            # A batch may not hold two requests for one key: send what we have before the second one.
            if len(batch) == BATCH_SIZE or row.key in batch:
                self._send_batch(worker.totals, batch)
                batch = {}
            batch[row.key] = row
        if batch and self._fatal is None:
            if self._cancelled:
                self._skip(worker.totals, min(batch.values(), key=lambda row: row.line))
            else:
                self._send_batch(worker.totals, batch)

    def _send_batch(self, totals: WriteTotals, batch: dict[str, Row]) -> None:
        try:
            self._send_batch_with_retries(totals, batch)
        except Exception as exc:  # a bug (or a failing rejects report) fails the file, never hangs it
            self._set_fatal(WriteFailed(min(row.line for row in batch.values()), f"unexpected error: {exc!r}"))

    def _send_batch_with_retries(self, totals: WriteTotals, batch: dict[str, Row]) -> None:
        table = self._writer.table_name
        requests = {key: {"PutRequest": {"Item": self._writer.item(row)}} for key, row in batch.items()}
        pending = list(requests.values())
        first_line = min(row.line for row in batch.values())
        for attempt in range(BATCH_RETRIES + 1):
            try:
                response = self._client.batch_write_item(RequestItems={table: pending})
            except ClientError as exc:
                code, message = _error(exc)
                if _is_row_refusal(code, message):
                    # One bad item fails the whole batch: send them one by one to find it.
                    for row in batch.values():
                        self._send_one(totals, row)
                    return
                if code not in _TRANSIENT_ERRORS:
                    self._set_fatal(WriteFailed(first_line, str(exc)))
                    return
                response = {"UnprocessedItems": {table: pending}}
            except _TRANSIENT_TRANSPORT:
                response = {"UnprocessedItems": {table: pending}}
            except BotoCoreError as exc:
                self._set_fatal(WriteFailed(first_line, str(exc)))
                return
            unprocessed = response.get("UnprocessedItems", {}).get(table, [])
            self._written(totals, len(pending) - len(unprocessed))
            if not unprocessed:
                return
            pending = unprocessed
            if attempt < BATCH_RETRIES:
                time.sleep(random.uniform(0, min(BATCH_BACKOFF_CAP_S, BATCH_BACKOFF_BASE_S * 2**attempt)))
        left = {_item_key(request) for request in pending}
        for row in batch.values():
            if _item_key(requests[row.key]) in left:
                self._fail(totals, row, f"not written, {BATCH_RETRIES} retries of unprocessed items exhausted")

    # -- bookkeeping ------------------------------------------------------------------------------------------

    def _written(self, totals: WriteTotals, count: int) -> None:
        totals.written += count
        if count:
            self._consecutive_failures = 0

    def _reject(self, totals: WriteTotals, row: Row, reason: str) -> None:
        totals.rejected += 1
        self._on_reject(Rejection(row.line, row.key, reason, row.cells))

    def _fail(self, totals: WriteTotals, row: Row, reason: str) -> None:
        totals.failed += 1
        self._on_reject(Rejection(row.line, row.key, reason, row.cells, failed=True))
        # Approximate across threads, which is all a circuit breaker needs.
        self._consecutive_failures += 1
        if self._consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            self._set_fatal(
                WriteFailed(row.line, f"{MAX_CONSECUTIVE_FAILURES} rows in a row could not be written ({reason})")
            )

    def _skip(self, totals: WriteTotals, row: Row) -> None:
        if totals.first_unsent_line is None or row.line < totals.first_unsent_line:
            totals.first_unsent_line = row.line

    def _set_fatal(self, error: WriteFailed) -> None:
        # The first refusal is the one to report; what the other threads hit afterwards follows from it.
        if self._fatal is None:
            self._fatal = error


def _error(exc: ClientError) -> tuple[str, str]:
    """DynamoDB's error code and message."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    return code, error.get("Message", code)


def _is_row_refusal(code: str, message: str) -> bool:
    """A refusal about this row (reject it, go on), as opposed to one about the table (fail the file)."""
    return code in _ROW_ERRORS and not any(text in message for text in _SCHEMA_MISMATCH)


def _item_key(request: dict[str, Any]) -> str:
    return repr(sorted(request["PutRequest"]["Item"].items()))
