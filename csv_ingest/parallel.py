"""`csv-ingest load --workers N`: one file written by N processes, each owning the rows of its share of the keys.

The parent checks the whole file first (nothing is written if it fails), then reads it once more and routes every
record to the worker that owns its key (`partitioning.route`), in chunks over bounded queues: memory stays flat and
the file is never copied. Each worker is the engine's threaded writer over its partition (`ingest_records`), with a
DynamoDB client of its own; progress and rejections come back to the parent, which alone owns the progress bar, the
rejections shown and the report. Rows of one key all reach one worker, in file order, so the table ends as a
one-process load leaves it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

from botocore.exceptions import BotoCoreError

from csv_ingest_engine import FileResult, IngestError, IngestStopped, Rejection
from csv_ingest_engine.constants import MAX_CLI_WORKERS, WriteMode
from csv_ingest_engine.errors import WriteFailed
from csv_ingest_engine.ingest import check_file, ingest_records, rows_not_written, table_refused
from csv_ingest_engine.partitioning import route
from csv_ingest_engine.reading import Record, read_records
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.rules import Header
from csv_ingest_engine.schema import CsvFormat, Schema
from csv_ingest_engine.writing import TableWriter

# Below this size a file is written in this process by default: starting a worker (a fresh interpreter importing
# botocore) costs about 0.5 s of wall and CPU time, more than a second writer saves on a smaller file. `replace`
# writes ~10x as many rows per second as `merge`, so it breaks even on a larger file. Measured on 2 cores against
# the stub at 5 ms: see benchmarks/README.md ("Worker processes").
SMALL_FILE_BYTES: dict[WriteMode, int] = {"merge": 256 * 1024, "replace": 1024 * 1024}
# A chunk is a worker's share of the records, sent as a list of (line, cells) tuples (cheap to pickle): at most this
# many records or this many characters of cells, whichever comes first.
CHUNK_RECORDS = 512
CHUNK_CHARS = 1024 * 1024
# Chunks waiting per worker before the parent blocks: enough to keep each worker busy, few enough that memory does
# not depend on the file.
QUEUE_DEPTH = 4
# How often a waiting parent looks at Ctrl-C and at its workers, and a waiting worker at the stop signal.
POLL_S = 0.1
# After its last message a worker exits on its own; past this long it is ended.
EXIT_WAIT_S = 10.0

Chunk = list[tuple[int, list[str]]]


def default_workers(size_bytes: int, mode: WriteMode) -> int:
    """`--workers` when not given: the machine's CPUs (at most MAX_CLI_WORKERS), 1 for a small file."""
    if size_bytes < SMALL_FILE_BYTES[mode]:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))  # the CPUs this process may run on (a container's share)
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_CLI_WORKERS, cpus))


@dataclass(frozen=True)
class WriterSettings:
    """Everything a writer is built from, as plain data: a worker process builds its own client from it."""

    table: str
    mode: WriteMode
    concurrency: int
    patience_s: float
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None

    def writer(self) -> TableWriter:
        """A writer with a DynamoDB client of its own."""
        import boto3  # deferred: `--help` and `validate` need no AWS SDK start-up

        from csv_ingest_engine.objects import dynamodb_config

        session = boto3.Session(profile_name=self.profile, region_name=self.region)
        client = session.client("dynamodb", endpoint_url=self.endpoint_url, config=dynamodb_config(self.concurrency))
        return TableWriter(
            client,
            table_name=self.table,
            concurrency=self.concurrency,
            mode=self.mode,
            patience_s=self.patience_s,
        )


def ingest_in_workers(
    path: Path,
    *,
    source: str,
    settings: WriterSettings,
    schema: Schema,
    fmt: CsvFormat,
    workers: int,
    on_reject: Callable[[Rejection], None],
    report: RejectsReport | None,
    progress: Callable[[int], AbstractContextManager[Callable[[int, int], None] | None]],
    should_stop: Callable[[], bool] | None,
) -> FileResult:
    """`ingest_file` for the file at `path`, written by `workers` processes.

    `progress(records)` is entered once the first pass has counted the records; it yields the bar's update, called
    with the rows the workers have taken up. Raises as `ingest_file` does, with the counts of all workers: a worker
    that fails (the table refused, no credentials) stops the others and fails the file; when `should_stop()` turns
    true (Ctrl-C), routing stops, every worker stops sending, and `IngestStopped.first_missing_line` is the first
    line not settled in any partition, nor routed.
    """
    # A client here first: no region or an unknown profile fails at once, as with one worker, not in each worker
    # after the first pass.
    settings.writer()
    pool = _Pool(workers, settings, source)
    try:
        pool.start()  # the workers start up (an interpreter, botocore, a client) while the first pass reads the file
        header, records = check_file(path, source=source, schema=schema, fmt=fmt, should_stop=should_stop)
        if report is not None:
            report.header(header.columns)
        with progress(records) as on_progress:
            run = _Run(pool, on_reject=on_reject, report=report, on_progress=on_progress, should_stop=should_stop)
            return run.execute(path, header, fmt)
    finally:
        pool.close()


class Chunker:
    """Routes records to their partition, gathered into chunks of (line, cells) tuples, in file order."""

    def __init__(self, header: Header, partitions: int) -> None:
        self._header = header
        self._partitions = partitions
        self._chunks: list[Chunk] = [[] for _ in range(partitions)]
        self._chars = [0] * partitions
        self._last_line = 0  # the line of the last record read
        self._read_all = False

    def full(self, records: Iterable[Record]) -> Iterator[tuple[int, Chunk]]:
        """Each chunk that fills up as the records are read, with its partition."""
        chunks, chars = self._chunks, self._chars
        for index, record in route(records, self._header, self._partitions):
            chunk = chunks[index]
            cells = record.cells
            chunk.append((record.line, cells))
            chars[index] += sum(map(len, cells))
            if len(chunk) >= CHUNK_RECORDS or chars[index] >= CHUNK_CHARS:
                chunks[index], chars[index] = [], 0
                self._last_line = record.line
                yield index, chunk
        self._read_all = True

    def rest(self) -> Iterator[tuple[int, Chunk]]:
        """The partly filled chunks, once every record has been read."""
        for index, chunk in enumerate(self._chunks):
            if chunk:
                self._chunks[index], self._chars[index] = [], 0
                yield index, chunk

    def first_unsent_line(self) -> int | None:
        """The first line not handed out as a chunk: in a partly filled one, or not read yet."""
        lines = [chunk[0][0] for chunk in self._chunks if chunk]
        if not self._read_all:
            lines.append(self._last_line + 1)
        return min(lines, default=None)


# -- messages from a worker to the parent -------------------------------------------------------------------------


@dataclass
class _Progress:
    """Now and then: the records the worker has taken up, and the rows rejected since its last message."""

    worker: int
    rows: int
    rejections: list[Rejection]


@dataclass
class _End:
    """A worker's last message: how its partition ended."""

    worker: int
    rejections: list[Rejection] = field(default_factory=list)
    written: int = 0
    chunks_taken: int = 0  # chunks the worker took from its queue: the ones after it are not written
    first_missing_line: int | None = None  # it stopped (Ctrl-C, or another worker failed): rows from it may be missing
    refusal: tuple[int, str] | None = None  # the table refused a write that every row would get: (line, detail)
    error: str | None = None  # anything else that failed the worker, in words for the user
    # The worker took the end marker: its whole partition reached it. Its own word, not the parent's record of
    # having sent the marker: a worker with little to do may end before the parent has noted the sending.
    complete: bool = False


# -- the parent ---------------------------------------------------------------------------------------------------


class _Pool:
    """The worker processes and their queues: a bounded one to each (the header, chunks, None at the end), one back
    from all (`_Progress`, then an `_End`), and the stop signal."""

    def __init__(self, workers: int, settings: WriterSettings, source: str) -> None:
        self.settings = settings
        self.source = source
        # spawn: a fresh interpreter, the same on every platform; a fork would copy this process's threads' locks.
        context = multiprocessing.get_context("spawn")
        self.stop: Event = context.Event()
        self.results: Queue[_Progress | _End] = context.Queue()
        self.inboxes: list[Queue[Header | Chunk | None]] = [context.Queue(QUEUE_DEPTH) for _ in range(workers)]
        for inbox in self.inboxes:
            # Chunks a stopped worker never takes must not hold up this process's exit (nor leak its feeder
            # thread), whatever interrupts the closing.
            inbox.cancel_join_thread()
        self.processes: list[SpawnProcess] = [
            context.Process(
                target=_work,
                args=(number, settings, source, self.inboxes[number], self.results, self.stop),
                name=f"csv-ingest-worker-{number}",
                daemon=True,  # never outlives the parent
            )
            for number in range(workers)
        ]
        self.ended: dict[int, _End] = {}

    def start(self) -> None:
        with _sigint_ignored_by_children():
            for process in self.processes:
                process.start()

    def close(self) -> None:
        """Stop every worker: after their last message they exit on their own; any other is ended at once."""
        self.stop.set()
        wait_until = time.monotonic() + EXIT_WAIT_S
        for number, process in enumerate(self.processes):
            if number in self.ended:
                process.join(max(0.0, wait_until - time.monotonic()))
            if process.is_alive():  # (False for one never started)
                process.terminate()
                process.join()
        for inbox in self.inboxes:
            inbox.close()
        self.results.close()

    def dead_without_end(self) -> list[int]:
        """Workers that exited without their last message (killed, out of memory)."""
        return [n for n, process in enumerate(self.processes) if n not in self.ended and process.exitcode is not None]


@contextlib.contextmanager
def _sigint_ignored_by_children() -> Iterator[None]:
    """Workers start with SIGINT ignored (a terminal's Ctrl-C reaches the whole process group, and would interrupt
    a worker before it could ignore it itself); a Ctrl-C meanwhile stays pending for the parent's own handler."""
    # (Windows has no signal masks, and no process groups that share a Ctrl-C: nothing to do there.)
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class _Run:
    """The parent's side of one file: routes the records, takes the workers' messages, words the outcome."""

    def __init__(
        self,
        pool: _Pool,
        *,
        on_reject: Callable[[Rejection], None],
        report: RejectsReport | None,
        on_progress: Callable[[int, int], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self._pool = pool
        self._on_reject = on_reject
        self._report = report
        self._on_progress = on_progress
        self._should_stop = should_stop
        workers = len(pool.processes)
        self._rows = [0] * workers
        self._sent = [array("q") for _ in range(workers)]  # the first line of each chunk sent to each worker
        self._routed = [0] * workers  # records sent to each worker
        self._rejected = self._failed = 0
        self._interrupted = False  # Ctrl-C
        self._failing = False  # a worker failed, or ended before its partition did
        self._unsent_line: int | None = None  # routing stopped: records from this line on were not handed out
        self._schema = Schema.keyed_on()
        self._schema_untyped: tuple[str, ...] = ()

    def execute(self, path: Path, header: Header, fmt: CsvFormat) -> FileResult:
        self._schema, self._schema_untyped = header.schema, header.untyped
        self._route(path, header, fmt)
        self._wait_for_the_ends()
        return self._outcome()

    # -- routing ------------------------------------------------------------------------------------------------

    def _route(self, path: Path, header: Header, fmt: CsvFormat) -> None:
        """Send the header, then each worker's chunks in file order, then the end marker; stop early when a worker
        fails or Ctrl-C is pressed."""
        workers = range(len(self._pool.processes))
        chunker = Chunker(header, len(workers))
        if not all(self._send(number, header) for number in workers):
            self._unsent_line = chunker.first_unsent_line()  # line 1: nothing was handed out
            return
        records = read_records(path, source=self._pool.source, fmt=fmt)
        next(records)  # the header, checked by the first pass
        if not self._send_all(chunker, chunker.full(records)):
            return  # (the file closes as the reader is dropped)
        if self._send_all(chunker, chunker.rest()):
            for number in workers:
                if not self._send(number, None):
                    return

    def _send_all(self, chunker: Chunker, chunks: Iterator[tuple[int, Chunk]]) -> bool:
        for number, chunk in chunks:
            if not self._send(number, chunk):
                unsent = chunker.first_unsent_line()
                self._unsent_line = chunk[0][0] if unsent is None else min(chunk[0][0], unsent)
                return False
        return True

    def _send(self, number: int, item: Header | Chunk | None) -> bool:
        """Put `item` in the worker's queue, taking messages while it is full; False if the run is stopping."""
        inbox = self._pool.inboxes[number]
        while not self._halting():
            try:
                inbox.put(item, timeout=POLL_S)
            except queue.Full:
                self._check_workers()
                continue
            if isinstance(item, list):
                self._sent[number].append(item[0][0])
                self._routed[number] += len(item)
            self._take_messages()
            return True
        return False

    def _halting(self) -> bool:
        """Whether the run is stopping: Ctrl-C, or a worker failed; either way the workers are told to stop."""
        if not self._interrupted and self._should_stop is not None and self._should_stop():
            self._interrupted = True
            self._pool.stop.set()
        return self._interrupted or self._failing

    # -- messages -----------------------------------------------------------------------------------------------

    def _wait_for_the_ends(self) -> None:
        """Take messages until every worker has sent its last one."""
        pool = self._pool
        while len(pool.ended) < len(pool.processes):
            try:
                self._take(pool.results.get(timeout=POLL_S))
            except queue.Empty:
                self._check_workers()
            self._halting()  # a first Ctrl-C while the workers finish stops them too

    def _take_messages(self) -> None:
        """The messages already here, without waiting."""
        results = self._pool.results
        while True:
            try:
                message = results.get_nowait()
            except queue.Empty:
                return
            self._take(message)

    def _take(self, message: _Progress | _End) -> None:
        self._rejections(message.rejections)
        if isinstance(message, _Progress):
            self._rows[message.worker] = message.rows
            if self._on_progress is not None:
                rows = sum(self._rows)
                self._on_progress(rows, rows)
            return
        self._pool.ended[message.worker] = message
        if message.complete and self._on_progress is not None:  # every record routed to it is settled
            self._rows[message.worker] = self._routed[message.worker]
            rows = sum(self._rows)
            self._on_progress(rows, rows)
        if message.refusal is not None or message.error is not None or not message.complete:
            self._failing = True  # one worker's failure is the file's: the others stop sending
            self._pool.stop.set()

    def _rejections(self, rejections: list[Rejection]) -> None:
        for rejection in rejections:
            self._rejected += 1
            self._failed += rejection.failed
            self._on_reject(rejection)
            if self._report is not None:
                try:
                    self._report.reject(rejection)
                except OSError as exc:  # e.g. the disk is full: the rows must not go unreported
                    raise IngestError(self._pool.source, f"could not write the rejected-rows report ({exc})") from exc

    def _check_workers(self) -> None:
        """A worker that exited without its last message (killed, out of memory) fails the file."""
        self._take_messages()  # its last message may be here already
        for number in self._pool.dead_without_end():
            code = self._pool.processes[number].exitcode
            self._take(_End(number, error=f"worker process {number} ended unexpectedly (exit code {code})"))

    # -- the outcome --------------------------------------------------------------------------------------------

    def _outcome(self) -> FileResult:
        """The file's counts; or, as `ingest_file` raises them, the first failure, Ctrl-C's stop, rows not written."""
        ends = [self._pool.ended[number] for number in range(len(self._pool.processes))]
        source, settings = self._pool.source, self._pool.settings
        result = FileResult(sum(end.written for end in ends), self._rejected, self._failed, self._schema_untyped)
        refusal = next((end.refusal for end in ends if end.refusal is not None), None)
        if refusal is not None:
            message = table_refused(WriteFailed(*refusal), result, table_name=settings.table, schema=self._schema)
            raise IngestError(source, message)
        error = next((end.error for end in ends if end.error is not None), None)
        if error is not None:
            written = f"{result.rows_written:,} rows were written, and ingesting the file again is safe"
            raise IngestError(source, f"{error.rstrip('. ')}; {written}")
        missing = self._first_missing_line(ends)
        if missing is not None:
            raise IngestStopped(
                source,
                f"stopped before line {missing}",
                rows_written=result.rows_written,
                rows_rejected=result.rows_rejected,
                rows_failed=result.rows_failed,
                first_missing_line=missing,
            )
        if result.rows_failed:
            raise IngestError(source, rows_not_written(result, patience_s=settings.patience_s))
        return result

    def _first_missing_line(self, ends: list[_End]) -> int | None:
        """The first line that may be missing: not settled by its worker, left in its queue, or never routed."""
        lines = [self._unsent_line] if self._unsent_line is not None else []
        for end in ends:
            if end.first_missing_line is not None:
                lines.append(end.first_missing_line)
            sent = self._sent[end.worker]
            if end.chunks_taken < len(sent):
                lines.append(sent[end.chunks_taken])
        return min(lines, default=None)


# -- a worker -----------------------------------------------------------------------------------------------------


def _work(
    number: int,
    settings: WriterSettings,
    source: str,
    inbox: Queue[Header | Chunk | None],
    results: Queue[_Progress | _End],
    stop: Event,
) -> None:
    """A worker process: writes the records its queue brings, reports back, and ends with an `_End`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it tells the workers to stop
    if hasattr(signal, "pthread_sigmask"):  # (not on Windows)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _PartitionWorker(number, settings, source, inbox, results, stop).run()


class _PartitionWorker:
    def __init__(
        self,
        number: int,
        settings: WriterSettings,
        source: str,
        inbox: Queue[Header | Chunk | None],
        results: Queue[_Progress | _End],
        stop: Event,
    ) -> None:
        self._number = number
        self._settings = settings
        self._source = source
        self._inbox = inbox
        self._results = results
        self._stop = stop
        self._parent = multiprocessing.parent_process()
        self._lock = threading.Lock()  # rejections come from the writer's threads as well as this one
        self._rejected: list[Rejection] = []
        self._end = _End(number)

    def run(self) -> None:
        end = self._end
        try:
            end.written = self._ingest()
        except IngestStopped as exc:
            end.written, end.first_missing_line = exc.rows_written, exc.first_missing_line
        except IngestError as exc:
            end.written = exc.rows_written or 0
            if isinstance(exc.__cause__, WriteFailed):
                end.refusal = (exc.__cause__.line, exc.__cause__.detail)
            elif not exc.rows_failed:  # rows the table did not take in time: the parent words that, counted
                end.error = exc.problem
        except BotoCoreError as exc:  # no region, an unknown profile: the same in every worker
            end.error = str(exc)
        except Exception as exc:  # a bug: the file fails, it never hangs
            end.error = f"worker process {self._number} failed: {exc!r}"
        end.rejections = self._taken_rejections()
        self._results.put(end)
        if not self._parent_alive():
            self._results.cancel_join_thread()  # nobody will read it: exit anyway

    def _ingest(self) -> int:
        """The rows written."""
        writer = self._settings.writer()
        header = self._take()
        if not isinstance(header, Header):  # the parent stopped before routing (the first pass failed, Ctrl-C)
            return 0
        return ingest_records(
            self._records(),
            header,
            source=self._source,
            writer=writer,
            on_reject=self._reject,
            on_rows=self._progress,
            should_stop=self._should_stop,
        ).rows_written

    def _records(self) -> Iterator[Record]:
        """The partition's records, chunk by chunk, until its end, or until the run stops."""
        while not self._should_stop() and isinstance(chunk := self._take(), list):
            self._end.chunks_taken += 1
            for line, cells in chunk:
                yield Record(line, cells)

    def _take(self) -> Header | Chunk | None:
        """The next item from the parent; None at the end of the partition or when the run stops meanwhile."""
        while True:
            try:
                item = self._inbox.get(timeout=POLL_S)
            except queue.Empty:
                if self._should_stop():
                    return None
                continue
            if item is None:  # the end marker
                self._end.complete = True
            return item

    def _should_stop(self) -> bool:
        return self._stop.is_set() or not self._parent_alive()

    def _parent_alive(self) -> bool:
        return self._parent is None or self._parent.is_alive()

    def _reject(self, rejection: Rejection) -> None:
        with self._lock:
            self._rejected.append(rejection)

    def _taken_rejections(self) -> list[Rejection]:
        with self._lock:
            rejections, self._rejected = self._rejected, []
        return rejections

    def _progress(self, rows: int) -> None:
        self._results.put(_Progress(self._number, rows, self._taken_rejections()))
