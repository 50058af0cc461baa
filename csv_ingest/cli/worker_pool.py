"""The worker processes of `load --workers N` and their queues, as the parent holds them: started with Ctrl-C left to
the parent, stopped within a bounded wait."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

from csv_ingest.cli.worker_process import Chunk, WorkerEnd, WorkerProgress, work
from csv_ingest.cli.writer_settings import WriterSettings
from csv_ingest_engine.rules import Header

# Chunks waiting per worker before the parent blocks: enough to keep each worker busy, few enough that memory does
# not depend on the file.
QUEUE_DEPTH = 4
# After its last message a worker exits on its own; past this long it is ended.
EXIT_WAIT_S = 10.0


class WorkerPool:
    """The worker processes and their queues: a bounded one to each (the header, chunks, None at the end), one back
    from all (`WorkerProgress`, then a `WorkerEnd`), and the stop signal."""

    def __init__(self, workers: int, settings: WriterSettings, source: str) -> None:
        self.settings = settings
        self.source = source
        # spawn: a fresh interpreter, the same on every platform; a fork would copy this process's threads' locks.
        context = multiprocessing.get_context("spawn")
        self.stop: Event = context.Event()
        self.results: Queue[WorkerProgress | WorkerEnd] = context.Queue()
        self.inboxes: list[Queue[Header | Chunk | None]] = [context.Queue(QUEUE_DEPTH) for _ in range(workers)]
        for inbox in self.inboxes:
            # Chunks a stopped worker never takes must not hold up this process's exit (nor leak its feeder
            # thread), whatever interrupts the closing.
            inbox.cancel_join_thread()
        self.processes: list[SpawnProcess] = [
            context.Process(
                target=work,
                args=(number, settings, source, self.inboxes[number], self.results, self.stop),
                name=f"csv-ingest-worker-{number}",
                daemon=True,  # never outlives the parent
            )
            for number in range(workers)
        ]
        self.ended: dict[int, WorkerEnd] = {}

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
