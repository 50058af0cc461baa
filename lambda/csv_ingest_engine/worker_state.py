"""What a write session keeps per worker (its queue, the chunks handed to it, its counts and settled line) and the
totals it returns, each piece with one owner (the comments say whose)."""

from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass, field

from csv_ingest_engine.rules import Row

QUEUE_DEPTH = 4
# The chunks a worker holds at most, of those handed to it: the one it works on and those its current batch began
# in (up to 5 for `changed`'s 100 rows in chunks of 32), a full queue, and, after the session stops, one more.
HANDED_CHUNKS = QUEUE_DEPTH + 6


@dataclass(eq=False)
class WorkerState:
    queue: queue.Queue[list[Row] | None]
    # The submitting thread's own: the next chunk, and the last chunks handed over (see HANDED_CHUNKS): from these
    # the submitting thread finds the first row a worker has not settled.
    pending: list[Row] = field(default_factory=list)
    handed: deque[list[Row]] = field(default_factory=lambda: deque(maxlen=HANDED_CHUNKS))
    # The worker's own, written under the session's lock: its counts, and the line before which all its rows are
    # settled (written, unchanged, superseded, rejected or failed); `read` counts the keys `changed` read back.
    written: int = 0
    rejected: int = 0
    failed: int = 0
    superseded: int = 0
    unchanged: int = 0
    read: int = 0
    deleted: int = 0
    settled_before: int = 0
    # The worker's own, no lock: requests failed since it last wrote (kept off the per-row path: `written` then),
    # and whether it has taken its end-of-input marker.
    failures_in_a_row: int = 0
    written_at_last_failure: int = 0
    input_done: bool = False
    thread: threading.Thread | None = None


@dataclass
class WriteTotals:
    """Counts for one file's writes, exact under concurrency.

    `superseded` rows were not written because their item holds a newer upload's (see `ordering`): not a failure.
    `unchanged` rows (`changed` mode) were not written because their item holds their values already.
    `deleted` rows deleted their item (their delete marker was true); they are not among `written`.
    `first_unsent_line` is the first line not known to be settled (written, unchanged, deleted, superseded, rejected
    or failed) when the session stopped early (cancelled, or `close` gave up at the deadline); None when every row
    was settled.
    """

    written: int = 0
    rejected: int = 0
    failed: int = 0
    superseded: int = 0
    first_unsent_line: int | None = None
    unchanged: int = 0
    deleted: int = 0
