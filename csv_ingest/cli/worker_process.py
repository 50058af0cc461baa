"""One worker process of `load --workers N`: the engine's threaded writer over the partition its queue brings, with
a DynamoDB client of its own, reporting progress, rejections and its end to the parent."""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

from botocore.exceptions import BotoCoreError

from csv_ingest.cli.writer_settings import WriterSettings
from csv_ingest_engine import FileResult, IngestError, IngestStopped, Rejection
from csv_ingest_engine.errors import WriteFailed
from csv_ingest_engine.ingest import ingest_records
from csv_ingest_engine.reading import Record
from csv_ingest_engine.rules import Header

# How often a waiting parent looks at Ctrl-C and at its workers, and a waiting worker at the stop signal.
POLL_S = 0.1

Chunk = list[tuple[int, list[str]]]


# -- messages from a worker to the parent -------------------------------------------------------------------------


@dataclass
class WorkerProgress:
    """Now and then: the records the worker has taken up, and the rows rejected since its last message."""

    worker: int
    rows: int
    rejections: list[Rejection]


@dataclass
class WorkerEnd:
    """A worker's last message: how its partition ended."""

    worker: int
    rejections: list[Rejection] = field(default_factory=list)
    written: int = 0
    superseded: int = 0  # rows not written because their item holds a newer upload's
    unchanged: int = 0  # rows not written because their item holds their values already (--mode changed)
    deleted: int = 0  # rows that deleted their item (their delete marker was true)
    chunks_taken: int = 0  # chunks the worker took from its queue: the ones after it are not written
    first_missing_line: int | None = None  # it stopped (Ctrl-C, or another worker failed): rows from it may be missing
    refusal: tuple[int, str] | None = None  # the table refused a write that every row would get: (line, detail)
    error: str | None = None  # anything else that failed the worker, in words for the user
    # The worker took the end marker: its whole partition reached it. Its own word, not the parent's record of
    # having sent the marker: a worker with little to do may end before the parent has noted the sending.
    complete: bool = False


# -- a worker -----------------------------------------------------------------------------------------------------


def work(
    number: int,
    settings: WriterSettings,
    source: str,
    inbox: Queue[Header | Chunk | None],
    results: Queue[WorkerProgress | WorkerEnd],
    stop: Event,
) -> None:
    """A worker process: writes the records its queue brings, reports back, and ends with a `WorkerEnd`."""
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
        results: Queue[WorkerProgress | WorkerEnd],
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
        self._end = WorkerEnd(number)

    def run(self) -> None:
        end = self._end
        try:
            result = self._ingest()
            end.written, end.superseded = result.rows_written, result.rows_superseded
            end.unchanged, end.deleted = result.rows_unchanged, result.rows_deleted
        except IngestStopped as exc:
            end.written, end.first_missing_line = exc.rows_written, exc.first_missing_line
            end.superseded, end.unchanged, end.deleted = exc.rows_superseded, exc.rows_unchanged, exc.rows_deleted
        except IngestError as exc:
            end.written, end.superseded = exc.rows_written or 0, exc.rows_superseded
            end.unchanged, end.deleted = exc.rows_unchanged, exc.rows_deleted
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

    def _ingest(self) -> FileResult:
        """The partition's counts."""
        writer = self._settings.writer()
        header = self._take()
        if not isinstance(header, Header):  # the parent stopped before routing (the first pass failed, Ctrl-C)
            return FileResult()
        return ingest_records(
            self._records(),
            header,
            source=self._source,
            writer=writer,
            on_reject=self._reject,
            on_rows=self._progress,
            should_stop=self._should_stop,
        )

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
        self._results.put(WorkerProgress(self._number, rows, self._taken_rejections()))
