"""One file's writes from a bounded pool of threads (`TableWriter.session()`), keeping the file's order per key.

Each key is routed to one worker by hash, and a worker sends its requests one after the other, so rows that share
a key land in file order while different keys go out concurrently. Requests travel to a worker in small chunks (a
queue hand-off costs about as much CPU as the CSV work of a row), and every worker's queue is bounded: when the
table is slower than the file, `submit` blocks, and memory stays flat whatever the file's size. Nothing waits past
the caller's deadline (`should_stop`), `close` included.
"""

from __future__ import annotations

import enum
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from csv_ingest_engine.answers import Answer, call
from csv_ingest_engine.errors import DeadlineReached, WriteFailed
from csv_ingest_engine.requests import BATCH_MAX_BYTES, BATCH_SIZE
from csv_ingest_engine.rules import Rejection, Row, identity_of
from csv_ingest_engine.worker_state import QUEUE_DEPTH, WorkerState, WriteTotals

if TYPE_CHECKING:
    from csv_ingest_engine.writing import TableWriter

# Requests per hand-off to a worker, and hand-offs waiting per worker before `submit` blocks: enough to keep every
# worker busy, few enough that memory does not depend on the file.
CHUNK_SIZE = 32


# How often a blocked `submit` or `close` looks at the session's state (failure, deadline).
SUBMIT_POLL_S = 0.25

# Requests of one worker that failed one after another once patience ran out: the table is gone, stop trying.
MAX_CONSECUTIVE_FAILURES = 50


class _Next(enum.Enum):
    RESEND = enum.auto()
    GIVE_UP = enum.auto()  # no write went through for `patience_s`: the rows fail
    STOP = enum.auto()  # the session is stopping: the rows stay unsent


class Settled(enum.Enum):
    """How one row's write settled."""

    WRITTEN = enum.auto()
    DELETED = enum.auto()  # a deleting row's DeleteItem went through (an item there or not)
    SUPERSEDED = enum.auto()  # its item holds a newer upload's stamp
    REFUSED = enum.auto()  # about the row itself: rejected
    FAILED = enum.auto()  # retries ran out: the write may or may not have gone through


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
        self._workers = [WorkerState(queue.Queue(maxsize=QUEUE_DEPTH)) for _ in range(writer.concurrency)]
        run = self._worker_loop()
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
                superseded=sum(w.superseded for w in workers),
                first_unsent_line=min(unsent, default=None),
                unchanged=sum(w.unchanged for w in workers),
                deleted=sum(w.deleted for w in workers),
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

    def _put(self, worker: WorkerState, chunk: list[Row] | None) -> bool:
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

    def _first_unsettled(self, worker: WorkerState) -> int | None:
        """The line of the first row `worker` was given (or was to be given) and has not settled; under the lock."""
        settled_before = worker.settled_before
        for chunk in worker.handed:
            if chunk[-1].line >= settled_before:
                return next(row.line for row in chunk if row.line >= settled_before)
        return worker.pending[0].line if worker.pending else None

    def _release(self, worker: WorkerState) -> None:
        """Let an abandoned worker end after its request in flight: empty its queue, then add the end marker."""
        try:
            while True:
                worker.queue.get_nowait()
        except queue.Empty:
            pass
        # Only this thread puts, and the queue was just emptied: there is room.
        worker.queue.put_nowait(None)

    # -- workers --------------------------------------------------------------------------------------------

    def _worker_loop(self) -> Callable[[WorkerState], None]:
        """What each worker thread runs (called once, before they start)."""
        writer = self._writer
        # Stamped puts carry a condition, which BatchWriteItem does not take: they go one by one, like merge's updates.
        return self._run_replace if writer.mode == "replace" and writer.ordering is None else self._run_one_by_one

    def _guarded(self, run: Callable[[WorkerState], None], worker: WorkerState) -> None:
        """Whatever happens in a worker fails the file; the worker never dies silently and leaves `submit` waiting."""
        try:
            run(worker)
        except BaseException as exc:
            self._fail_file(WriteFailed(0, f"writer thread failed: {exc!r}"))
        finally:
            if not worker.input_done:  # keep taking chunks, so that `submit` and `close` can finish
                self._drain(worker)

    def _drain(self, worker: WorkerState) -> None:
        while worker.queue.get() is not None:
            pass
        worker.input_done = True

    def _rows(self, worker: WorkerState) -> Iterator[Row]:
        """The worker's rows in order, until `close`; nothing more once the session stops."""
        get = worker.queue.get
        while (chunk := get()) is not None:
            for row in chunk:
                if self._stopping:
                    self._drain(worker)
                    return
                yield row
        worker.input_done = True

    def _run_one_by_one(self, worker: WorkerState) -> None:
        for row in self._rows(worker):
            self._send_alone(worker, row)

    def _send_alone(self, worker: WorkerState, row: Row) -> None:
        try:
            self._send_one(worker, row)
        except Exception as exc:  # a bug (or a failing rejects report) fails the file, never hangs it
            self._fail_file(WriteFailed(row.line, f"unexpected error: {exc!r}"))

    def _send_one(self, worker: WorkerState, row: Row) -> bool:
        """Write one row (or delete its item), resending while the table throttles; True once it is settled (written
        or deleted, superseded, refused, failed), False when the session stopped first (it stays unsent)."""
        return self._write_one(worker, row) is not None

    def _write_one(self, worker: WorkerState, row: Row) -> Settled | None:
        """`_send_one`, saying how the row settled (None: it did not, the session stopped first)."""
        if self._stopping:
            return None
        operation, params = self._writer.request(row)
        send = getattr(self._client, operation)
        attempt = 0
        while True:
            answer, _, detail = call(send, params)
            if answer is Answer.DONE:
                break
            if answer is Answer.CONDITION_FAILED:
                if self._writer.ordering is not None:
                    self._superseded(worker, row.line + 1)
                    return Settled.SUPERSEDED
                break  # a key-only row whose item exists: nothing to change
            if answer in (Answer.ROW_REFUSED, Answer.TOO_LARGE):
                self._refused(worker, row.line + 1, [_refusal(row, detail)])
                return Settled.REFUSED
            if answer is Answer.FATAL:
                self._fail_file(WriteFailed(row.line, detail))
                return None
            step = self._pause(attempt)
            if step is not _Next.RESEND:
                if step is _Next.GIVE_UP:
                    self._give_up(worker, [row], row.line + 1, detail)
                    return Settled.FAILED
                return None
            attempt += 1
        return self._took(worker, row)

    def _run_replace(self, worker: WorkerState) -> None:
        batch: dict[str, Row] = {}
        size = 0
        put_size = self._writer.put_size
        for row in self._rows(worker):
            if row.deletes:
                # A delete is a DeleteItem of its own, as in every mode: the batch before it goes first, so that rows
                # of its key keep their file order and the worker's settled line never passes a row unsent.
                if batch:
                    self._send_batch(worker, list(batch.values()))
                    batch, size = {}, 0
                self._send_alone(worker, row)
                continue
            row_size = put_size(row)
            # A batch may not hold two requests for one key: send what we have before the second one.
            if batch and (len(batch) == BATCH_SIZE or row.key in batch or size + row_size > BATCH_MAX_BYTES):
                self._send_batch(worker, list(batch.values()))
                batch, size = {}, 0
            batch[row.key] = row
            size += row_size
        if batch and not self._stopping:
            self._send_batch(worker, list(batch.values()))

    def _send_batch(self, worker: WorkerState, rows: list[Row]) -> None:
        try:
            self._write_batch(worker, rows)
        except Exception as exc:  # a bug (or a failing rejects report) fails the file, never hangs it
            self._fail_file(WriteFailed(rows[0].line, f"unexpected error: {exc!r}"))

    def _write_batch(self, worker: WorkerState, rows: list[Row]) -> bool:
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
            answer, response, detail = call(self._client.batch_write_item, request)
            left = list(waiting.values())
            if answer is Answer.TOO_LARGE and len(left) > 1:
                # Over DynamoDB's request size after all: halve until each part fits, in file order.
                half = len(left) // 2
                return self._write_batch(worker, left[:half]) and self._write_batch(worker, left[half:])
            if answer in (Answer.ROW_REFUSED, Answer.TOO_LARGE):
                # One bad item fails the whole batch: send them one by one to find it.
                return all(self._send_one(worker, row) for row in left)
            if answer is Answer.FATAL:
                self._fail_file(WriteFailed(left[0].line, detail))
                return False
            if answer is Answer.DONE:
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
        self, worker: WorkerState, waiting: dict[str, Row], unprocessed: list[dict[str, Any]] | None
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
            # The table's answers: rows written, and (`changed`) keys read back.
            progress = sum(worker.written + worker.deleted + worker.read for worker in self._workers)
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

    def _written(self, worker: WorkerState, settled_before: int, count: int) -> None:
        with self._lock:
            if not self._abandoned:
                worker.written += count
                worker.settled_before = settled_before

    def _unchanged(self, worker: WorkerState, settled_before: int, count: int) -> None:
        """Rows not written because their item holds their values already (`changed`)."""
        with self._lock:
            if not self._abandoned:
                worker.unchanged += count
                worker.settled_before = settled_before

    def _read(self, worker: WorkerState, count: int) -> None:
        """Keys the table answered a read of (`changed`): the table's progress, as a write is."""
        with self._lock:
            worker.read += count

    def _took(self, worker: WorkerState, row: Row) -> Settled:
        """A row the table took on its own: written, or its item deleted (or none there to delete: DynamoDB does not
        say which without returning the item)."""
        if not row.deletes:
            self._written(worker, row.line + 1, 1)
            return Settled.WRITTEN
        with self._lock:
            if not self._abandoned:
                worker.deleted += 1
                worker.settled_before = row.line + 1
        return Settled.DELETED

    def _superseded(self, worker: WorkerState, settled_before: int) -> None:
        """A row not written because its item holds a newer upload's stamp: counted, never reported as rejected."""
        with self._lock:
            if not self._abandoned:
                worker.superseded += 1
                worker.settled_before = settled_before

    def _refused(self, worker: WorkerState, settled_before: int, rejections: Sequence[Rejection]) -> None:
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

    def _give_up(self, worker: WorkerState, rows: list[Row], settled_before: int, reason: str) -> None:
        """The rows of one request failed: the table took no write for `patience_s`."""
        patience = self._writer.patience_s
        detail = f"not written, retries exhausted ({reason}): the table took no write for {patience:g} s"
        self._refused(worker, settled_before, [_rejection(row, detail, failed=True) for row in rows])
        written = worker.written + worker.deleted
        if written != worker.written_at_last_failure:  # it wrote since: the run starts again
            worker.failures_in_a_row, worker.written_at_last_failure = 0, written
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


def _rejection(row: Row, reason: str, *, failed: bool = False) -> Rejection:
    return Rejection(row.line, row.key, reason, row.cells, failed=failed)


def _refusal(row: Row, message: str) -> Rejection:
    """The rejection of a row DynamoDB refused, in its words: they may quote the row's values (a ValidationException
    can), so the log says only that it did."""
    return Rejection(
        row.line,
        row.key,
        f"DynamoDB refused the row: {message}",
        row.cells,
        reason_without_values="DynamoDB refused the row (its message, which may quote the row, is in the report)",
    )
