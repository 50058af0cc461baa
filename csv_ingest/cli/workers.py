"""`csv-ingest load --workers N`: one file written by N processes, each owning the rows of its share of the keys;
rows of one key all reach one worker, in file order, so the table ends as a one-process load leaves it."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from csv_ingest.cli.dispatch import Dispatch
from csv_ingest.cli.worker_pool import WorkerPool
from csv_ingest.cli.writer_settings import WriterSettings
from csv_ingest_engine import FileResult, Rejection
from csv_ingest_engine.constants import MAX_CLI_WORKERS, WriteMode
from csv_ingest_engine.ingest import check_file
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.schema import CsvFormat, Schema

# Below this size a file is written in this process by default: starting a worker (a fresh interpreter importing
# botocore) costs about 0.5 s of wall and CPU time, more than a second writer saves on a smaller file. `replace`
# writes ~10x as many rows per second as `merge`, so it breaks even on a larger file. Measured on 2 cores against
# the stub at 5 ms: see benchmarks/README.md ("Worker processes").
SMALL_FILE_BYTES: dict[WriteMode, int] = {"merge": 256 * 1024, "replace": 1024 * 1024}


def default_workers(size_bytes: int, mode: WriteMode, *, ordered: bool) -> int:
    """`--workers` when not given: the machine's CPUs (at most MAX_CLI_WORKERS), 1 for a small file."""
    # `replace` batches only unordered puts: ordered ones go one by one, as `merge`'s updates do, and break even
    # where those do; `changed` writes as merge does, and where every row changed, as slowly.
    if size_bytes < SMALL_FILE_BYTES["replace" if mode == "replace" and not ordered else "merge"]:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))  # the CPUs this process may run on (a container's share)
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_CLI_WORKERS, cpus))


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

    The file is checked whole first (nothing is written if it fails), then read once more, every record routed to
    the worker that owns its key (`dispatch`), in chunks over bounded queues: memory stays flat and the file is never
    copied. Each worker (`worker_process`) writes with a DynamoDB client of its own; progress and rejections come back
    to this process, which alone owns the progress bar, the rejections shown and the report.

    `progress(records)` is entered once the first pass has counted the records; it yields the bar's update, called
    with the rows the workers have taken up. Raises as `ingest_file` does, with the counts of all workers: a worker
    that fails (the table refused, no credentials) stops the others and fails the file; when `should_stop()` turns
    true (Ctrl-C), routing stops, every worker stops sending, and `IngestStopped.first_missing_line` is the first
    line not settled in any partition, nor routed.
    """
    # A client here first: no region or an unknown profile fails at once, as with one worker, not in each worker
    # after the first pass.
    settings.writer()
    pool = WorkerPool(workers, settings, source)
    try:
        pool.start()  # the workers start up (an interpreter, botocore, a client) while the first pass reads the file
        # The header the workers write by is parsed here, once: for the writers' ordering (the stamp's attribute
        # may name no column, and counts toward each item's size).
        order_attribute = settings.ordering.attribute if settings.ordering is not None else None
        header, records = check_file(
            path, source=source, schema=schema, fmt=fmt, order_attribute=order_attribute, should_stop=should_stop
        )
        if report is not None:
            report.header(header.columns)
        with progress(records) as on_progress:
            run = Dispatch(pool, on_reject=on_reject, report=report, on_progress=on_progress, should_stop=should_stop)
            return run.execute(path, header, fmt)
    finally:
        pool.close()
