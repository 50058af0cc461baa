"""One file, start to end: a first pass that checks the whole file, then records -> rows or rejections -> the table.

The first pass reads every record before anything is written, so a file that fails as a whole (not UTF-8, an
unclosed quote, a cell over the field limit, a bad header) writes nothing. It only reads (no rules, no requests): it
costs about 1% of a load (see benchmarks/README.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from csv_ingest_engine.bounded_lines import STOP_CHECK_EVERY, ReadingStopped
from csv_ingest_engine.constants import DEFAULT_KEY_COLUMN, DEFAULT_WRITE_MODE, WriteMode
from csv_ingest_engine.errors import DeadlineReached, IngestError, IngestStopped, WriteFailed
from csv_ingest_engine.item_growth import ItemGrowth
from csv_ingest_engine.reading import Record, read_records
from csv_ingest_engine.reports import RejectsReport
from csv_ingest_engine.requests import max_attributes
from csv_ingest_engine.rules import Header, Rejection, Row, parse_header, to_row
from csv_ingest_engine.schema import CsvFormat, Schema
from csv_ingest_engine.words import count, were
from csv_ingest_engine.worker_state import WriteTotals
from csv_ingest_engine.write_session import WriteSession
from csv_ingest_engine.writing import TableWriter

# What DynamoDB says when the table's key is not the one the rows are written with: every row would get it.
_KEY_SCHEMA_WORDS = ("does not match the schema", "Type mismatch for key", "Missing the key", "required keys")


@dataclass(slots=True)
class FileResult:
    """What happened to one file's data rows (with no writer: what would happen).

    `rows_failed` are rows the table did not take in time (it took no write at all for the writer's patience);
    they are also in `rows_rejected`'s report, marked as such, and loading them again later will work.
    `rows_superseded` are rows whose item holds a newer upload's: they were right not to be written.
    `rows_unchanged` (`changed` mode) are rows whose item holds their values already: there was nothing to write.
    `rows_deleted` are rows whose delete marker was true: each deleted its item (one that did not exist included);
    they are not among `rows_written`.
    """

    rows_written: int = 0
    rows_rejected: int = 0
    rows_failed: int = 0
    # Rows not written because their item holds a newer upload's (see `ordering`): not a failure, not rejected.
    rows_superseded: int = 0
    # Columns given a type that the file does not have: worth a warning (a typo?), not a failure, since one
    # configuration serves many files.
    untyped_columns: tuple[str, ...] = ()
    # Rows not written because their item holds their values already (`changed` mode): not a failure, not rejected.
    rows_unchanged: int = 0
    # Rows whose delete marker was true (see `rows_deleted` above).
    rows_deleted: int = 0

    def counts(self) -> dict[str, int]:
        """The row counts, by name: what an `IngestError` of the file carries, and what summaries show."""
        return {
            "rows_written": self.rows_written,
            "rows_rejected": self.rows_rejected,
            "rows_failed": self.rows_failed,
            "rows_superseded": self.rows_superseded,
            "rows_unchanged": self.rows_unchanged,
            "rows_deleted": self.rows_deleted,
        }


def check_file(
    path: Path,
    *,
    source: str,
    key_column: str = DEFAULT_KEY_COLUMN,
    schema: Schema | None = None,
    fmt: CsvFormat | None = None,
    order_attribute: str | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_text_bytes: int | None = None,
) -> tuple[Header, int]:
    """The first pass: read the whole file and check its header; return the header and the number of records.

    Raises `IngestError` for anything that fails the file as a whole, before a single row is written, and
    `IngestStopped` (before line 1: nothing was written) if `should_stop` turns true meanwhile. `schema`, `fmt` and
    `order_attribute` as for `ingest_file`; with `max_text_bytes`, a file whose text is larger raises
    `TextLargerThanEstimated` (see `reading.read_stream`).
    """
    records = read_records(path, source=source, fmt=fmt, should_stop=should_stop, max_text_bytes=max_text_bytes)
    count = 0
    try:  # the reader looks at the clock in what it skips, this in the records it yields
        header = _header(
            records,
            source=source,
            schema=schema or Schema.keyed_on(key_column),
            fmt=fmt,
            order_attribute=order_attribute,
        )
        for count, _record in enumerate(records, start=1):
            if should_stop is not None and count % STOP_CHECK_EVERY == 0 and should_stop():
                raise _stopped_unwritten(source)
    except ReadingStopped:
        raise _stopped_unwritten(source) from None
    return header, count


def ingest_file(
    path: Path,
    *,
    source: str,
    key_column: str = DEFAULT_KEY_COLUMN,
    schema: Schema | None = None,
    fmt: CsvFormat | None = None,
    writer: TableWriter | None,
    mode: WriteMode = DEFAULT_WRITE_MODE,
    order_attribute: str | None = None,
    on_reject: Callable[[Rejection], None] | None = None,
    report: RejectsReport | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_text_bytes: int | None = None,
) -> FileResult:
    """Write every row of the CSV at `path` with `writer`; `source` names the file in messages.

    `schema` is the table's key and the columns' types (default: a string key in `key_column`, strings as
    written); `fmt` the file's delimiter and encoding (default: comma-separated UTF-8; a `.gz` file is gunzipped).

    With `writer=None` nothing is sent: the file is only checked against the rules of `mode`, for writes stamped
    in `order_attribute` (None: unstamped); a writer brings its own mode and ordering. Each rejected row goes to
    `on_reject` and into `report`; `on_progress(rows_read, bytes_read)` is called now and then. When
    `should_stop()` turns true (asked every few hundred rows and KiB read, and by the writer while it waits), reading
    and writing stop within the writer's grace, and `IngestStopped` names the first line that may be missing.

    Raises `IngestError` for a problem with the whole file (header, encoding, the table itself); a problem in the
    file itself is found by a first pass, before anything is written. Rows written before a later error (the table,
    the deadline) stay written: every write is an idempotent upsert, so ingesting the file again is safe. With
    `max_text_bytes` (and a writer), the first pass raises `TextLargerThanEstimated` for a file whose text is larger.
    """
    schema = schema or Schema.keyed_on(key_column)
    if writer is not None:
        order_attribute = writer.ordering.attribute if writer.ordering is not None else None
        check_file(
            path,
            source=source,
            schema=schema,
            fmt=fmt,
            order_attribute=order_attribute,
            should_stop=should_stop,
            max_text_bytes=max_text_bytes,
        )
    run = _Run(source=source, on_reject=on_reject, report=report, on_progress=on_progress)
    records = read_records(
        path,
        source=source,
        fmt=fmt,
        on_progress=run.progress if on_progress is not None else None,
        should_stop=should_stop,
    )
    try:
        header = _header(records, source=source, schema=schema, fmt=fmt, order_attribute=order_attribute)
    except ReadingStopped:
        raise _stopped_unwritten(source) from None
    try:
        return run.execute(records, header, writer=writer, mode=mode, should_stop=should_stop)
    finally:
        if on_progress is not None:
            on_progress(run.rows_read, path.stat().st_size)


def ingest_records(
    records: Iterable[Record],
    header: Header,
    *,
    source: str,
    writer: TableWriter,
    on_reject: Callable[[Rejection], None] | None = None,
    report: RejectsReport | None = None,
    on_rows: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FileResult:
    """`ingest_file` for records already read and checked: one partition of a file, in file order, each with its
    line in the file (see `partitioning`). `on_rows(rows_read)` is called every few hundred records.

    Raises as `ingest_file` does, naming `source`; `IngestStopped.first_missing_line` is a line of the file, and
    rows of this partition only before it are settled.
    """
    if header.order_attribute != (writer.ordering.attribute if writer.ordering is not None else None):
        raise ValueError("the header was parsed for another ordering than the writer's: pass it its order_attribute")
    run = _Run(source=source, on_reject=on_reject, report=report, on_rows=on_rows)
    return run.execute(iter(records), header, writer=writer, mode=writer.mode, should_stop=should_stop)


def _header(
    records: Iterator[Record], *, source: str, schema: Schema, fmt: CsvFormat | None, order_attribute: str | None
) -> Header:
    first = next(records, None)
    fmt = fmt or CsvFormat()
    return parse_header(
        first.cells if first else None,
        schema=schema,
        source=source,
        delimiter=fmt.delimiter,
        order_attribute=order_attribute,
        max_cells=fmt.max_cells,
    )


class _Run:
    """One pass over the rows: counts, rejections (from the rules and the writer's threads), how it stopped."""

    def __init__(
        self,
        *,
        source: str,
        on_reject: Callable[[Rejection], None] | None,
        report: RejectsReport | None,
        on_progress: Callable[[int, int], None] | None = None,
        on_rows: Callable[[int], None] | None = None,
    ) -> None:
        self.source = source
        self._on_reject = on_reject
        self._report = report
        self._on_progress = on_progress
        self._on_rows = on_rows
        self._lock = threading.Lock()  # rejections come from the writer's threads as well as this one
        self.rows_read = self.accepted = self.rejected = 0
        self.deletes = 0  # of the rows accepted, those that delete their item
        self.stopped_before: int | None = None
        self.fatal: WriteFailed | None = None

    def execute(
        self,
        records: Iterator[Record],
        header: Header,
        *,
        writer: TableWriter | None,
        mode: WriteMode,
        should_stop: Callable[[], bool] | None,
    ) -> FileResult:
        """Write (or, with no writer, only check) the rows of `records`; raise for the outcome (see `ingest_file`)."""
        if self._report is not None:
            self._report.header(header.columns)
        if writer is None:
            row_limit = max_attributes(mode, ordered=header.order_attribute is not None)
            # `changed` writes the rows it writes as merge does.
            growth = ItemGrowth(header) if mode != "replace" else None
            self.check(records, header, row_limit, should_stop, growth=growth)
            totals = WriteTotals(written=self.accepted - self.deletes, deleted=self.deletes)
        else:
            totals = self.write(records, header, writer, should_stop)
        result = FileResult(
            totals.written,
            self.rejected + totals.rejected + totals.failed,
            totals.failed,
            totals.superseded,
            header.untyped,
            rows_unchanged=totals.unchanged,
            rows_deleted=totals.deleted,
        )
        _raise_for_outcome(self.source, result, self, totals, writer, header.schema)
        return result

    def progress(self, bytes_read: int) -> None:
        if self._on_progress is not None:
            self._on_progress(self.rows_read, bytes_read)

    def reject(self, rejection: Rejection) -> None:
        with self._lock:
            if self._on_reject is not None:
                self._on_reject(rejection)
            if self._report is not None:
                try:
                    self._report.reject(rejection)
                except OSError as exc:  # e.g. /tmp full: the rows must not go unreported
                    raise IngestError(self.source, f"could not write the rejected-rows report ({exc})") from exc

    def rows(
        self, records: Iterator[Record], header: Header, row_limit: int | None, should_stop: Callable[[], bool] | None
    ) -> Iterator[Row]:
        """The accepted rows, in file order; rejections reported on the way; stops when `should_stop` turns true (or
        the reader stopped on it)."""
        try:
            for record in records:
                self.rows_read += 1
                if self.rows_read % STOP_CHECK_EVERY == 0:
                    if should_stop is not None and should_stop():
                        self.stopped_before = record.line
                        return
                    if self._on_rows is not None:
                        self._on_rows(self.rows_read)
                outcome = to_row(record, header, max_attributes=row_limit)
                if isinstance(outcome, Row):
                    self.accepted += 1
                    self.deletes += outcome.deletes
                    yield outcome
                else:
                    self.rejected += 1
                    self.reject(outcome)
        except ReadingStopped as stop:
            self.stopped_before = stop.line

    def check(
        self,
        records: Iterator[Record],
        header: Header,
        row_limit: int | None,
        should_stop: Callable[[], bool] | None,
        *,
        growth: ItemGrowth | None,
    ) -> None:
        """The rows, checked only; with `growth` (merge), also against the size their item reaches in the file, as
        DynamoDB refuses the update that would take an item past 400 KB."""
        for row in self.rows(records, header, row_limit, should_stop):
            refused = growth.add(row) if growth is not None else None
            if refused is not None:
                self.accepted -= 1
                self.rejected += 1
                self.reject(refused)

    def write(
        self, records: Iterator[Record], header: Header, writer: TableWriter, should_stop: Callable[[], bool] | None
    ) -> WriteTotals:
        session = writer.session(self.reject, should_stop=should_stop)
        try:
            row_limit = max_attributes(writer.mode, ordered=writer.ordering is not None)
            for row in self.rows(records, header, row_limit, should_stop):
                session.submit(row)
        except WriteFailed as exc:
            self.fatal = exc
        except DeadlineReached as exc:  # the writers were busy when time ran out
            self.stopped_before = exc.line
        finally:
            if self.stopped_before is not None:
                session.cancel()
            totals = self._close(session)
        return totals

    def _close(self, session: WriteSession) -> WriteTotals:
        """Always close: it waits for the writes in flight (and the queued ones, unless cancelled), so the counts
        and the report are whole, even on failure; past the deadline it stops waiting."""
        try:
            return session.close()
        except WriteFailed as exc:
            self.fatal = self.fatal or exc
            return session.totals


def _raise_for_outcome(
    source: str, result: FileResult, run: _Run, totals: WriteTotals, writer: TableWriter | None, schema: Schema
) -> None:
    """Fail the file when the table refused for good, the run stopped early, or rows could not be written."""
    counts = result.counts()
    if run.fatal is not None and writer is not None:
        if isinstance(run.fatal.__cause__, IngestError):  # e.g. the rejects report could not be written
            report_failed = run.fatal.__cause__
            raise IngestError(report_failed.source, report_failed.problem, **counts) from report_failed.__cause__
        message = table_refused(run.fatal, result, table_name=writer.table_name, schema=schema)
        raise IngestError(source, message, **counts) from run.fatal
    # The writer stops on its own at the deadline too (while it waits to resend, or in `close`).
    stopped_before = run.stopped_before
    unsent = totals.first_unsent_line
    if unsent is not None and (stopped_before is None or unsent < stopped_before):
        stopped_before = unsent
    if stopped_before is not None:
        raise _stopped(source, result, before_line=stopped_before)
    if result.rows_failed:
        raise IngestError(source, rows_not_written(result, patience_s=writer.patience_s if writer else None), **counts)


# The two messages below also word the outcome of a file written by several processes (`csv-ingest load
# --workers`), from the counts of all of them.


def rows_not_written(result: FileResult, *, patience_s: float | None) -> str:
    """Why a file whose rows the table would not take in time failed (`result.rows_failed` > 0)."""
    patience = f"{patience_s:g} s" if patience_s is not None else "a while"
    return (
        f"{count(result.rows_failed, 'row')} could not be written before retries ran out (the table took no write "
        f"at all for {patience}: it throttled or did not answer); {count(result.rows_written, 'row')} "
        f"{were(result.rows_written)} written. "
        "Ingesting the file again is safe and will write them."
    )


def table_refused(fatal: WriteFailed, result: FileResult, *, table_name: str, schema: Schema) -> str:
    """Why a file failed when the table refused a write for a reason every row would get."""
    message = (
        f"writing line {fatal.line} to DynamoDB table '{table_name}' failed ({fatal.detail}); "
        f"{count(result.rows_written, 'row')} {were(result.rows_written)} written, and ingesting the file again is "
        "safe"
    )
    if any(words in fatal.detail for words in _KEY_SCHEMA_WORDS):
        # Every row would get this refusal: say what the rows are written with, so the two can be compared.
        columns = " and ".join(f"'{name}'" for name in schema.key_names)
        message += (
            f". Each row is written with the file's {columns} {'column' if len(schema.keys) == 1 else 'columns'} "
            f"as the item's key: {schema.describe()}. The table's "
            "key schema differs (see it with "
            f"`aws dynamodb describe-table --table-name {table_name} --query Table.KeySchema`): load into "
            "a table keyed that way, or give the table's key: --key-column and --key-type (--sort-key-column and "
            "--sort-key-type for a sort key) to csv-ingest; to the stack, the context keys of the same names "
            "(-c key_column=... -c key_type=..., sort_key_column and sort_key_type), then deploy again"
        )
    return message


def _stopped_unwritten(source: str) -> IngestStopped:
    return _stopped(source, FileResult(), before_line=1, detail="before the first row was written")


def _stopped(source: str, result: FileResult, *, before_line: int, detail: str | None = None) -> IngestStopped:
    failed = (
        f" ({result.rows_failed:,} of them were not refused: the table throttled, and they are in the report too)"
        if result.rows_failed
        else ""
    )
    unchanged = f", {result.rows_unchanged:,} unchanged" if result.rows_unchanged else ""
    deleted = f", {result.rows_deleted:,} deleted" if result.rows_deleted else ""
    where = detail or (
        f"before line {before_line} ({count(result.rows_written, 'row')} written{unchanged}{deleted}, "
        f"{result.rows_rejected:,} rejected so far){failed}"
    )
    return IngestStopped(
        source,
        f"the invocation was about to time out, so ingestion stopped {where}. The file is too large for one "
        "invocation: split it into smaller files, or load it with `csv-ingest load`. Files over the stack's "
        "large-file threshold (context large_file_bytes) are written in parallel partitions instead, so lowering "
        "it sends files like this one there. Rows already written stay, and ingesting the file again is safe: it "
        "never overwrites what a newer upload wrote (uploading it again makes it the newest upload).",
        **result.counts(),
        first_missing_line=before_line,
    )
