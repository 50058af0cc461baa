"""Writes `Row`s to DynamoDB from a bounded pool of threads, keeping the file's order for each key.

Each key is routed to one worker by hash, and a worker sends its requests one after the other, so rows that share
a key land in file order while different keys go out concurrently. Requests travel to a worker in small chunks (a
queue hand-off costs about as much CPU as the CSV work of a row), and every worker's queue is bounded: when the
table is slower than the file, `submit` blocks, and memory stays flat whatever the file's size.

Throttling slows the load down instead of failing it: a throttled write is sent again, after a jittered backoff,
for as long as the table takes writes from any worker; a row fails only after `patience_s` without a single write.
Nothing waits past the caller's deadline (`should_stop`), `close` included.

Two modes:
- `merge` (default): one `UpdateItem` per row; attributes not in the row are kept (an upsert).
- `replace`: `BatchWriteItem` puts, 25 per call (fewer when the rows are large); each row replaces the whole item.

The requests are built here, from the writer's own table name, key column and mode: the rules hand over data.
"""

from __future__ import annotations

import base64
import enum
import json
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from csv_ingest_engine.constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_WRITE_MODE,
    WRITE_MODES,
    WRITE_PATIENCE_S,
    WriteMode,
)
from csv_ingest_engine.errors import DeadlineReached, WriteFailed
from csv_ingest_engine.rules import Rejection, Row, identity_of

# Requests per hand-off to a worker, and hand-offs waiting per worker before `submit` blocks: enough to keep every
# worker busy, few enough that memory does not depend on the file.
CHUNK_SIZE = 32
QUEUE_DEPTH = 4
# How often a blocked `submit` or `close` looks at the session's state (failure, deadline).
SUBMIT_POLL_S = 0.25
# Once the deadline has passed, how long `close` still waits for the requests in flight (a write answers in
# milliseconds, so this only runs out when the table or the network is stuck); what is unsettled then is unsent.
CLOSE_GRACE_S = 2.0
BATCH_SIZE = 25  # BatchWriteItem's limit
# DynamoDB refuses a request over 16 MB (dynalite, like the service, answers HTTP 413). botocore sends JSON with
# non-ASCII text escaped (`é` travels as 6 bytes), so 25 large rows can weigh far more than their UTF-8 size: a batch
# is also cut by its size as sent, kept under 15 MiB, below both readings of "16 MB" with room for the envelope.
BATCH_MAX_BYTES = 15 * 1024 * 1024
# Escaped JSON spends at most 12 bytes on a character (an astral one, as two `\uXXXX` escapes): below this many
# characters a row cannot crowd a batch past the cap, so it is not measured exactly.
_UNMEASURED_CHARS = BATCH_MAX_BYTES // BATCH_SIZE // 12 - 1024
# Around each put in the body: `{"PutRequest": {"Item": {...}}}, ` and each attribute's `"": {"S": ""}, `.
_PUT_OVERHEAD_BYTES = 40
_ATTRIBUTE_OVERHEAD_BYTES = 16
# Requests of one worker that failed one after another once patience ran out: the table is gone, stop trying.
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
_SCHEMA_MISMATCH = (
    "does not match the schema",
    "required keys was not given a value",
    "Missing the key",
    "Type mismatch for key",
)
# Worth sending again (botocore's standard retry mode's lists, for what DynamoDB's writes can answer): the client
# makes one attempt per call and the writer does the resending, with backoff, patience and the deadline in view.
_TRANSIENT_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "ReplicatedWriteConflictException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_TRANSIENT_TRANSPORT = (BotoConnectionError, HTTPClientError)
# Anything else from botocore (no credentials, no region, a bad endpoint URL) is the same for every row: fatal.


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


@dataclass
class WriteTotals:
    """Counts for one file's writes, exact under concurrency.

    `first_unsent_line` is the first line not known to be written, rejected or failed when the session stopped
    early (cancelled, or `close` gave up at the deadline); None when every row was settled.
    """

    written: int = 0
    rejected: int = 0
    failed: int = 0
    first_unsent_line: int | None = None


@dataclass(eq=False)
class _Worker:
    queue: queue.Queue[list[Row] | None]
    # The submitting thread's own: the next chunk, and the last chunks handed over. A worker holds at most the
    # chunk it works on, the one its current batch began in and a full queue, and after the session stops at most
    # one more reaches it: from these the submitting thread finds the first row a worker has not settled.
    pending: list[Row] = field(default_factory=list)
    handed: deque[list[Row]] = field(default_factory=lambda: deque(maxlen=QUEUE_DEPTH + 3))
    # The worker's own, written under the session's lock: its counts, and the line before which all its rows are
    # settled (written, rejected or failed).
    written: int = 0
    rejected: int = 0
    failed: int = 0
    settled_before: int = 0
    # The worker's own, no lock: requests failed since it last wrote (kept off the per-row path: `written` then),
    # and whether it has taken its end-of-input marker.
    failures_in_a_row: int = 0
    written_at_last_failure: int = 0
    input_done: bool = False
    thread: threading.Thread | None = None


class _Answer(enum.Enum):
    """What one call to DynamoDB came to."""

    DONE = enum.auto()
    ROW_REFUSED = enum.auto()  # about the row itself: reject it, go on
    TOO_LARGE = enum.auto()  # HTTP 413: the request is over DynamoDB's size limit
    TRANSIENT = enum.auto()  # throttled, busy or unreachable: send it again
    FATAL = enum.auto()  # about the table or the caller: every row would get it, the file fails


class _Next(enum.Enum):
    RESEND = enum.auto()
    GIVE_UP = enum.auto()  # no write went through for `patience_s`: the rows fail
    STOP = enum.auto()  # the session is stopping: the rows stay unsent


class TableWriter:
    """Configuration and the shared client; `session()` opens the pool for one file.

    `patience_s` is how long the table may take no write at all before throttled rows fail; `backoff` paces the
    resending; `close_grace_s` is how long `close` waits for requests in flight once the deadline has passed.
    """

    def __init__(
        self,
        client: Any,
        *,
        table_name: str,
        concurrency: int = DEFAULT_CONCURRENCY,
        mode: WriteMode = DEFAULT_WRITE_MODE,
        patience_s: float = WRITE_PATIENCE_S,
        backoff: Backoff = DEFAULT_BACKOFF,
        close_grace_s: float = CLOSE_GRACE_S,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if mode not in WRITE_MODES:
            raise ValueError(f"write mode must be one of {', '.join(WRITE_MODES)}, got {mode!r}")
        self.client = client
        self.table_name = table_name
        self.concurrency = concurrency
        self.mode: WriteMode = mode
        self.patience_s = patience_s
        self.backoff = backoff
        self.close_grace_s = close_grace_s

    def request(self, row: Row) -> tuple[str, dict[str, Any]]:
        """The client method and parameters that write `row` on its own in this writer's mode."""
        attributes = row.attributes
        if self.mode == "replace":
            return "put_item", {"TableName": self.table_name, "Item": self.item(row)}
        if not attributes:
            # DynamoDB accepts an UpdateItem without an update expression, but moto crashes on it; a put guarded by
            # attribute_not_exists creates the bare item and leaves an existing one untouched, on both.
            return "put_item", {
                "TableName": self.table_name,
                "Item": row.item_key,
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": next(iter(row.item_key))},
            }
        count = len(attributes)
        return "update_item", {
            "TableName": self.table_name,
            "Key": row.item_key,
            "UpdateExpression": _SET_EXPRESSIONS[count],
            "ExpressionAttributeNames": dict(zip(_NAME_PLACEHOLDERS[:count], attributes, strict=True)),
            "ExpressionAttributeValues": dict(zip(_VALUE_PLACEHOLDERS[:count], attributes.values(), strict=True)),
        }

    def item(self, row: Row) -> dict[str, Any]:
        """The whole item `row` stands for (its key and attributes), as a put writes it."""
        return {**row.item_key, **row.attributes}

    def put_size(self, row: Row) -> int:
        """At least the bytes `row`'s put adds to a `BatchWriteItem` body as botocore sends it (non-ASCII escaped)."""
        attributes = row.attributes
        if not row.typed:
            # One string key and string values, as without column types: the old arithmetic, at its old cost.
            ((key_name, key_value),) = row.item_key.items()
            chars = len(key_name) + len(key_value["S"]) + sum(map(len, attributes))
            chars += sum(len(value["S"]) for value in attributes.values())
            values = len(attributes) + 1
        else:
            key_chars, key_values = _measure(row.item_key)
            chars, values = _measure(attributes)
            chars += key_chars
            values += key_values
        if chars < _UNMEASURED_CHARS:
            return 12 * chars + _ATTRIBUTE_OVERHEAD_BYTES * values + _PUT_OVERHEAD_BYTES
        # botocore's own encoding: json.dumps with its defaults (ASCII only, ", " and ": " separators), binary
        # values as base64 text
        return len(json.dumps(self.item(row), default=_base64)) + _PUT_OVERHEAD_BYTES

    def session(
        self, on_reject: Callable[[Rejection], None], *, should_stop: Callable[[], bool] | None = None
    ) -> WriteSession:
        """A pool for one file.

        `on_reject` is called from the pool's threads (it must be thread-safe) for rows the table refuses and rows
        that failed. `should_stop` is the caller's deadline: asked while `submit` or `close` waits for a busy worker
        and before a throttled write is sent again; once it turns true nothing more is sent, `submit` raises
        `DeadlineReached`, and `close` returns within `close_grace_s`.
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
        # Why the session stops sending, and the workers' settled rows: each set under this lock. `_stopping` turns
        # true with the first of them and never back, so the per-row checks read it without the lock.
        self._lock = threading.Lock()
        self._fatal: WriteFailed | None = None  # the first refusal that fails the file; later ones follow from it
        self._cancelled = False  # `cancel`, or the deadline seen by a worker waiting to resend
        self._abandoned = False  # `close` gave up at the deadline: what settles afterwards is not counted
        self._stopping = False
        self._wake = threading.Event()  # cuts short a worker's backoff when the session stops
        # Rows written by all workers as a worker waiting to resend last saw it, and when it changed: the table's
        # last sign of progress, without a clock read per row.
        self._seen_progress = -1
        self._stalled_since = 0.0
        self._give_up_at: float | None = None  # `close`'s own: when it stops waiting, once the deadline has passed
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

        Raises `WriteFailed` once the table refused for good, `DeadlineReached` when the deadline passed (seen here
        while waiting, or by a worker).
        """
        if self._stopping:
            raise self._stop_error(row.line)
        worker = self._workers[hash(row.key) % len(self._workers)]
        pending = worker.pending
        pending.append(row)
        if len(pending) < CHUNK_SIZE:
            return
        worker.pending = []
        while True:
            try:
                worker.queue.put(pending, timeout=SUBMIT_POLL_S)
            except queue.Full:
                if self._stopping or (self._should_stop is not None and self._should_stop()):
                    worker.pending = pending  # not handed over: counted as unsent
                    raise self._stop_error(pending[0].line) from None
            else:
                worker.handed.append(pending)
                return

    def cancel(self) -> None:
        """Stop sending: requests not yet sent are dropped (and counted as unsent) instead of written."""
        with self._lock:
            self._cancelled = self._stopping = True
        self._wake.set()

    def close(self) -> WriteTotals:
        """Wait for the queued writes (after `cancel`, only the requests in flight); return the totals.

        Once `should_stop` is true, the requests in flight get `close_grace_s` to finish; whatever is unsettled
        then is left behind and counted as unsent. Raises `WriteFailed` if the table refused for good.
        """
        finished = self._hand_over_the_rest() and self._join()
        with self._lock:
            if not finished:
                self._abandoned = self._stopping = True
            workers = self._workers
            unsent = [line for worker in workers if (line := self._first_unsettled(worker)) is not None]
            self.totals = WriteTotals(
                written=sum(w.written for w in workers),
                rejected=sum(w.rejected for w in workers),
                failed=sum(w.failed for w in workers),
                first_unsent_line=min(unsent, default=None),
            )
            fatal = self._fatal
        if not finished:
            self._wake.set()
            for worker in workers:
                self._release(worker)
        if fatal is not None:
            raise fatal
        return self.totals

    # -- closing --------------------------------------------------------------------------------------------

    def _hand_over_the_rest(self) -> bool:
        """Each worker's last chunk (unless stopping) and end-of-input marker; False if the deadline cut it short."""
        for worker in self._workers:
            if worker.pending and not self._stopping:
                if not self._put(worker, worker.pending):
                    return False
                worker.handed.append(worker.pending)
                worker.pending = []
            if not self._put(worker, None):
                return False
        return True

    def _put(self, worker: _Worker, chunk: list[Row] | None) -> bool:
        while True:
            try:
                worker.queue.put(chunk, timeout=SUBMIT_POLL_S)
                return True
            except queue.Full:
                if self._out_of_time():
                    return False

    def _join(self) -> bool:
        for worker in self._workers:
            assert worker.thread is not None
            while worker.thread.is_alive():
                worker.thread.join(SUBMIT_POLL_S)
                if worker.thread.is_alive() and self._out_of_time():
                    return False
        return True

    def _out_of_time(self) -> bool:
        """Whether `close` should stop waiting: the deadline has passed, and the grace after it too."""
        if self._give_up_at is None:
            if self._should_stop is None or not self._should_stop():
                return False
            self.cancel()
            self._give_up_at = time.monotonic() + self._writer.close_grace_s
        return time.monotonic() >= self._give_up_at

    def _first_unsettled(self, worker: _Worker) -> int | None:
        """The line of the first row `worker` was given (or was to be given) and has not settled; under the lock."""
        settled_before = worker.settled_before
        for chunk in worker.handed:
            if chunk[-1].line >= settled_before:
                return next(row.line for row in chunk if row.line >= settled_before)
        return worker.pending[0].line if worker.pending else None

    def _release(self, worker: _Worker) -> None:
        """Let an abandoned worker end after its request in flight: empty its queue, then add the end marker."""
        try:
            while True:
                worker.queue.get_nowait()
        except queue.Empty:
            pass
        # Only this thread puts, and the queue was just emptied: there is room.
        worker.queue.put_nowait(None)

    # -- workers --------------------------------------------------------------------------------------------

    def _guarded(self, run: Callable[[_Worker], None], worker: _Worker) -> None:
        """Whatever happens in a worker fails the file; the worker never dies silently and leaves `submit` waiting."""
        try:
            run(worker)
        except BaseException as exc:
            self._fail_file(WriteFailed(0, f"writer thread failed: {exc!r}"))
        finally:
            if not worker.input_done:  # keep taking chunks, so that `submit` and `close` can finish
                self._drain(worker)

    def _drain(self, worker: _Worker) -> None:
        while worker.queue.get() is not None:
            pass
        worker.input_done = True

    def _rows(self, worker: _Worker) -> Iterator[Row]:
        """The worker's rows in order, until `close`; nothing more once the session stops."""
        get = worker.queue.get
        while (chunk := get()) is not None:
            for row in chunk:
                if self._stopping:
                    self._drain(worker)
                    return
                yield row
        worker.input_done = True

    def _run_merge(self, worker: _Worker) -> None:
        for row in self._rows(worker):
            try:
                self._send_one(worker, row)
            except Exception as exc:  # a bug (or a failing rejects report) fails the file, never hangs it
                self._fail_file(WriteFailed(row.line, f"unexpected error: {exc!r}"))

    def _send_one(self, worker: _Worker, row: Row) -> bool:
        """Write one row, resending while the table throttles; True once it is settled (written, refused, failed),
        False when the session stopped first (it stays unsent)."""
        if self._stopping:
            return False
        operation, params = self._writer.request(row)
        send = getattr(self._client, operation)
        attempt = 0
        while True:
            answer, _, detail = _call(send, params)
            if answer is _Answer.DONE:
                break
            if answer in (_Answer.ROW_REFUSED, _Answer.TOO_LARGE):
                self._refused(worker, row.line + 1, [_rejection(row, f"DynamoDB refused the row: {detail}")])
                return True
            if answer is _Answer.FATAL:
                self._fail_file(WriteFailed(row.line, detail))
                return False
            step = self._pause(attempt)
            if step is not _Next.RESEND:
                if step is _Next.GIVE_UP:
                    self._give_up(worker, [row], row.line + 1, detail)
                return step is _Next.GIVE_UP
            attempt += 1
        self._written(worker, row.line + 1, 1)
        return True

    def _run_replace(self, worker: _Worker) -> None:
        batch: dict[str, Row] = {}
        size = 0
        put_size = self._writer.put_size
        for row in self._rows(worker):
            row_size = put_size(row)
            # A batch may not hold two requests for one key: send what we have before the second one.
            if batch and (len(batch) == BATCH_SIZE or row.key in batch or size + row_size > BATCH_MAX_BYTES):
                self._send_batch(worker, list(batch.values()))
                batch, size = {}, 0
            batch[row.key] = row
            size += row_size
        if batch and not self._stopping:
            self._send_batch(worker, list(batch.values()))

    def _send_batch(self, worker: _Worker, rows: list[Row]) -> None:
        try:
            self._write_batch(worker, rows)
        except Exception as exc:  # a bug (or a failing rejects report) fails the file, never hangs it
            self._fail_file(WriteFailed(rows[0].line, f"unexpected error: {exc!r}"))

    def _write_batch(self, worker: _Worker, rows: list[Row]) -> bool:
        """Put `rows` (distinct keys, in file order) with `BatchWriteItem`, resending what comes back unprocessed.

        True once every row is settled; False when the session stopped first. Split or sent one by one, the parts
        go in file order and stop at the first that does not settle: a later part that went through would move the
        worker's settled line past rows never sent.
        """
        if self._stopping:
            return False
        table = self._writer.table_name
        waiting = {row.key: row for row in rows}
        requests = {row.key: {"PutRequest": {"Item": self._writer.item(row)}} for row in rows}
        settled_before = rows[-1].line + 1
        attempt = 0
        while True:
            request = {"RequestItems": {table: [requests[key] for key in waiting]}}
            answer, response, detail = _call(self._client.batch_write_item, request)
            left = list(waiting.values())
            if answer is _Answer.TOO_LARGE and len(left) > 1:
                # Over DynamoDB's request size after all: halve until each part fits, in file order.
                half = len(left) // 2
                return self._write_batch(worker, left[:half]) and self._write_batch(worker, left[half:])
            if answer in (_Answer.ROW_REFUSED, _Answer.TOO_LARGE):
                # One bad item fails the whole batch: send them one by one to find it.
                return all(self._send_one(worker, row) for row in left)
            if answer is _Answer.FATAL:
                self._fail_file(WriteFailed(left[0].line, detail))
                return False
            if answer is _Answer.DONE:
                waiting = self._settle_processed(worker, waiting, response.get("UnprocessedItems", {}).get(table))
                if not waiting:
                    self._written(worker, settled_before, 0)
                    return True
                detail = "unprocessed items"
            step = self._pause(attempt)
            if step is not _Next.RESEND:
                if step is _Next.GIVE_UP:
                    self._give_up(worker, list(waiting.values()), settled_before, detail)
                return step is _Next.GIVE_UP
            attempt += 1

    def _settle_processed(
        self, worker: _Worker, waiting: dict[str, Row], unprocessed: list[dict[str, Any]] | None
    ) -> dict[str, Row]:
        """Count the puts a batch took; return the rows handed back, still waiting (in file order)."""
        names = tuple(next(iter(waiting.values())).item_key)
        back = {identity_of(request["PutRequest"]["Item"], names) for request in unprocessed or ()}
        still = {key: row for key, row in waiting.items() if key in back}
        # Until the rows handed back settle, the worker's settled line stays before the first of them.
        first_waiting = next(iter(still.values())).line if still else next(reversed(waiting.values())).line + 1
        self._written(worker, first_waiting, len(waiting) - len(still))
        return still

    def _pause(self, attempt: int) -> _Next:
        """After a transient refusal: wait, then say whether to send again, give up, or stop."""
        if self._halting():
            return _Next.STOP
        now = time.monotonic()
        with self._lock:
            progress = sum(worker.written for worker in self._workers)
            if progress != self._seen_progress:
                self._seen_progress, self._stalled_since = progress, now
            stalled = now - self._stalled_since
        patience = self._writer.patience_s
        if stalled >= patience:
            return _Next.GIVE_UP
        if self._wake.wait(min(self._writer.backoff.delay(attempt), patience - stalled)) or self._halting():
            return _Next.STOP
        return _Next.RESEND

    def _halting(self) -> bool:
        """Whether the session is stopping; a worker that finds the deadline passed stops it."""
        if self._stopping:
            return True
        if self._should_stop is not None and self._should_stop():
            self.cancel()
            return True
        return False

    # -- bookkeeping: each worker settles its own rows, under the session's lock ----------------------------

    def _written(self, worker: _Worker, settled_before: int, count: int) -> None:
        with self._lock:
            if not self._abandoned:
                worker.written += count
                worker.settled_before = settled_before

    def _refused(self, worker: _Worker, settled_before: int, rejections: Sequence[Rejection]) -> None:
        """Count and report rows the table refused (or that failed); a failing report fails the file."""
        with self._lock:
            if self._abandoned:
                return
            worker.settled_before = settled_before
            for rejection in rejections:
                if rejection.failed:
                    worker.failed += 1
                else:
                    worker.rejected += 1
                try:
                    self._on_reject(rejection)
                except Exception as exc:
                    failure = WriteFailed(rejection.line, f"unexpected error: {exc!r}")
                    failure.__cause__ = exc  # the caller's own error (e.g. its report) is not the table's doing
                    self._set_fatal(failure)
                    return

    def _give_up(self, worker: _Worker, rows: list[Row], settled_before: int, reason: str) -> None:
        """The rows of one request failed: the table took no write for `patience_s`."""
        patience = self._writer.patience_s
        detail = f"not written, retries exhausted ({reason}): the table took no write for {patience:g} s"
        self._refused(worker, settled_before, [_rejection(row, detail, failed=True) for row in rows])
        if worker.written != worker.written_at_last_failure:  # it wrote since: the run starts again
            worker.failures_in_a_row, worker.written_at_last_failure = 0, worker.written
        worker.failures_in_a_row += 1
        if worker.failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
            self._fail_file(
                WriteFailed(
                    rows[0].line,
                    f"{MAX_CONSECUTIVE_FAILURES} requests in a row could not be written, and the table took no "
                    f"write for {patience:g} s ({reason})",
                )
            )

    def _fail_file(self, error: WriteFailed) -> None:
        with self._lock:
            self._set_fatal(error)

    def _set_fatal(self, error: WriteFailed) -> None:
        """Under the lock: the first refusal is the one to report; what other workers hit afterwards follows from it."""
        if self._fatal is None and not self._abandoned:
            self._fatal = error
            self._stopping = True
            self._wake.set()

    def _stop_error(self, line: int) -> WriteFailed | DeadlineReached:
        return self._fatal if self._fatal is not None else DeadlineReached(line)


def _call(send: Callable[..., Any], params: dict[str, Any]) -> tuple[_Answer, dict[str, Any], str]:
    """Make one call; say what it came to, with the response (when done) or a detail for the reason."""
    try:
        response: dict[str, Any] = send(**params)
    except ClientError as exc:
        code, message = _error(exc)
        if code == "ConditionalCheckFailedException":
            return _Answer.DONE, {}, ""  # a key-only row whose item exists: nothing to change
        if _is_too_large(exc, code):
            return _Answer.TOO_LARGE, {}, message
        if _is_row_refusal(code, message):
            return _Answer.ROW_REFUSED, {}, message
        if _is_transient(exc, code):
            return _Answer.TRANSIENT, {}, code
        return _Answer.FATAL, {}, str(exc)
    except _TRANSIENT_TRANSPORT as exc:
        return _Answer.TRANSIENT, {}, str(exc)
    except BotoCoreError as exc:  # no credentials, no region, bad endpoint URL: the same for every row
        return _Answer.FATAL, {}, str(exc)
    return _Answer.DONE, response or {}, ""


def _measure(values: Mapping[str, Any]) -> tuple[int, int]:
    """The characters of the names and contents of `values` (DynamoDB values, nested ones included), and how many
    values there are (each adds its type tag and punctuation, `_ATTRIBUTE_OVERHEAD_BYTES`)."""
    chars = count = 0
    for name, value in values.items():
        value_chars, value_count = _measure_value(value)
        chars += len(name) + value_chars
        count += value_count
    return chars, count


def _measure_value(value: Mapping[str, Any]) -> tuple[int, int]:
    (kind, content), *_ = value.items()
    if kind in ("S", "N"):
        return len(content), 1
    if kind == "M":
        chars, count = _measure(content)
        return chars, count + 1
    if kind == "L":
        chars = count = 1
        for element in content:
            element_chars, element_count = _measure_value(element)
            chars += element_chars
            count += element_count
        return chars, count
    if kind == "B":
        return 4 * len(content) // 3 + 4, 1
    return 5, 1  # BOOL, NULL: at most `false`


def _base64(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not a DynamoDB value")


def _rejection(row: Row, reason: str, *, failed: bool = False) -> Rejection:
    return Rejection(row.line, row.key, reason, row.cells, failed=failed)


def _error(exc: ClientError) -> tuple[str, str]:
    """DynamoDB's error code and message."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    return code, error.get("Message", code)


def _status(exc: ClientError) -> int | None:
    status: int | None = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status


def _is_row_refusal(code: str, message: str) -> bool:
    """A refusal about this row (reject it, go on), as opposed to one about the table (fail the file)."""
    return code in _ROW_ERRORS and not any(text in message for text in _SCHEMA_MISMATCH)


def _is_transient(exc: ClientError, code: str) -> bool:
    return code in _TRANSIENT_ERRORS or _status(exc) in _TRANSIENT_STATUS


def _is_too_large(exc: ClientError, code: str) -> bool:
    """HTTP 413: the request is over DynamoDB's size limit (botocore names a bodiless error by its status)."""
    return _status(exc) == 413 or code in ("413", "RequestEntityTooLarge", "RequestEntityTooLargeException")
