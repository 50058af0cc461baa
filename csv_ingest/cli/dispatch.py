"""The parent's side of one file written by worker processes: it reads the file once more and routes every record to
the worker that owns its key, in chunks over bounded queues; it takes the workers' messages and words the outcome."""

from __future__ import annotations

import queue
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from csv_ingest.cli.worker_pool import WorkerPool
from csv_ingest.cli.worker_process import POLL_S, Chunk, WorkerEnd, WorkerProgress
from csv_ingest_engine import FileResult, IngestError, IngestStopped, Rejection
from csv_ingest_engine.errors import WriteFailed
from csv_ingest_engine.ingest import rows_not_written, table_refused
from csv_ingest_engine.partitioning import route
from csv_ingest_engine.reading import Record, read_records
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.rules import Header
from csv_ingest_engine.schema import CsvFormat, Schema
from csv_ingest_engine.words import count, were

# A chunk is a worker's share of the records, sent as a list of (line, cells) tuples (cheap to pickle): at most this
# many records or this many characters of cells, whichever comes first.
CHUNK_RECORDS = 512
CHUNK_CHARS = 1024 * 1024


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


class Dispatch:
    """The parent's side of one file: routes the records, takes the workers' messages, words the outcome."""

    def __init__(
        self,
        pool: WorkerPool,
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

    def _take(self, message: WorkerProgress | WorkerEnd) -> None:
        self._rejections(message.rejections)
        if isinstance(message, WorkerProgress):
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
            self._take(WorkerEnd(number, error=f"worker process {number} ended unexpectedly (exit code {code})"))

    # -- the outcome --------------------------------------------------------------------------------------------

    def _outcome(self) -> FileResult:
        """The file's counts; or, as `ingest_file` raises them, the first failure, Ctrl-C's stop, rows not written."""
        ends = [self._pool.ended[number] for number in range(len(self._pool.processes))]
        source, settings = self._pool.source, self._pool.settings
        result = FileResult(
            sum(end.written for end in ends),
            self._rejected,
            self._failed,
            sum(end.superseded for end in ends),
            self._schema_untyped,
            rows_unchanged=sum(end.unchanged for end in ends),
            rows_deleted=sum(end.deleted for end in ends),
        )
        refusal = next((end.refusal for end in ends if end.refusal is not None), None)
        if refusal is not None:
            message = table_refused(WriteFailed(*refusal), result, table_name=settings.table, schema=self._schema)
            raise IngestError(source, message, **result.counts())
        error = next((end.error for end in ends if end.error is not None), None)
        if error is not None:
            rows = result.rows_written
            written = f"{count(rows, 'row')} {were(rows)} written, and ingesting the file again is safe"
            raise IngestError(source, f"{error.rstrip('. ')}; {written}", **result.counts())
        missing = self._first_missing_line(ends)
        if missing is not None:
            raise IngestStopped(source, f"stopped before line {missing}", first_missing_line=missing, **result.counts())
        if result.rows_failed:
            raise IngestError(source, rows_not_written(result, patience_s=settings.patience_s), **result.counts())
        return result

    def _first_missing_line(self, ends: list[WorkerEnd]) -> int | None:
        """The first line that may be missing: not settled by its worker, left in its queue, or never routed."""
        lines = [self._unsent_line] if self._unsent_line is not None else []
        for end in ends:
            if end.first_missing_line is not None:
                lines.append(end.first_missing_line)
            sent = self._sent[end.worker]
            if end.chunks_taken < len(sent):
                lines.append(sent[end.chunks_taken])
        return min(lines, default=None)
