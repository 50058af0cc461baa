"""`changed` mode's write session: each worker reads its rows' items back in `BatchGetItem`s of up to 100 keys, and
writes (with merge's conditional update) only the rows that would change them, and deletes only items that are
there (see `changes`).

A worker takes its rows in file order, 100 at a time; it reads their keys in one request (keys it wrote within
`RECENT_WRITE_S` with a strongly consistent one, so that an eventually consistent read never shows it an item as it
was before its own write), then settles the rows in file order: a later row of a key is compared with the item as
the earlier rows left it. Keys handed back unprocessed are read again, with the writes' backoff, patience and
deadline.
"""

from __future__ import annotations

import enum
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from csv_ingest_engine.answers import Answer, call
from csv_ingest_engine.changes import Known, Stored, Verdict, after_write, delete_verdict, verdict
from csv_ingest_engine.errors import WriteFailed
from csv_ingest_engine.raw_reads import item_key, read_raw
from csv_ingest_engine.requests import READ_BATCH_SIZE, read_request
from csv_ingest_engine.rules import Rejection, Row, identity_of
from csv_ingest_engine.worker_state import WorkerState
from csv_ingest_engine.write_session import Settled, WriteSession, _Next

if TYPE_CHECKING:
    from csv_ingest_engine.writing import TableWriter

# A key the worker wrote less than this long ago is read back strongly consistent: an eventually consistent read
# may not show a write completed just before it ("usually within a second", says DynamoDB's guide), and a later row
# of the key that restores the value before that write would then be taken for unchanged. A minute is far beyond
# that; what it costs is a strongly consistent read (twice the units) for a key seen again within it, and the keys
# written in the last minute in memory.
RECENT_WRITE_S = 60.0


class _Read(enum.Enum):
    STOPPED = enum.auto()  # the session stopped first: the rows stay unsent
    GAVE_UP = enum.auto()  # retries ran out: the rows failed (settled)
    REFUSED = enum.auto()  # a refusal about the rows: they are written as merge writes them, each its own answer


class ChangedWriteSession(WriteSession):
    """One file's writes in `changed` mode (`TableWriter.session()`); counted as `WriteSession`'s, plus
    `WriteTotals.unchanged`."""

    def __init__(
        self, writer: TableWriter, on_reject: Callable[[Rejection], None], should_stop: Callable[[], bool] | None
    ) -> None:
        self._consistent = writer.consistent_reads
        read_raw(writer.client)
        super().__init__(writer, on_reject, should_stop)

    def _worker_loop(self) -> Callable[[WorkerState], None]:
        return self._run_changed

    def _run_changed(self, worker: WorkerState) -> None:
        recent = _RecentWrites()  # the worker's own: its keys are its own
        batch: list[Row] = []
        for row in self._rows(worker):
            batch.append(row)
            if len(batch) == READ_BATCH_SIZE:
                self._guarded_batch(worker, batch, recent)
                batch = []
        if batch and not self._stopping:
            self._guarded_batch(worker, batch, recent)

    def _guarded_batch(self, worker: WorkerState, rows: list[Row], recent: _RecentWrites) -> None:
        try:
            self._settle_batch(worker, rows, recent)
        except Exception as exc:  # a bug (or a failing rejects report) fails the file, never hangs it
            self._fail_file(WriteFailed(rows[0].line, f"unexpected error: {exc!r}"))

    def _settle_batch(self, worker: WorkerState, rows: list[Row], recent: _RecentWrites) -> bool:
        """Read the rows' items back, then settle the rows in file order; True once every row is settled, False when
        the session stopped first (the rows from the first unsettled one on stay unsent)."""
        if self._stopping:
            return False
        items = self._read_items(worker, rows, recent)
        if items is _Read.STOPPED:
            return False
        if items is _Read.GAVE_UP:
            return True
        if items is _Read.REFUSED:
            for row in rows:
                if self._write_one(worker, row) is None:
                    return False
                recent.add(row.key)
            return True
        return self._settle_rows(worker, rows, items, recent)

    def _settle_rows(
        self, worker: WorkerState, rows: list[Row], items: dict[str, Known], recent: _RecentWrites
    ) -> bool:
        ordering = self._writer.ordering
        unchanged = 0  # unchanged rows not yet counted: counted at once, before the next row settles otherwise
        for row in rows:
            stored = items.get(row.key)
            judged = delete_verdict(stored, ordering) if row.deletes else verdict(row.attributes, stored, ordering)
            if judged is Verdict.UNCHANGED:
                unchanged += 1
                continue
            if unchanged:
                self._unchanged(worker, row.line, unchanged)
                unchanged = 0
            if judged is Verdict.SUPERSEDED:
                self._superseded(worker, row.line + 1)
            elif not self._write_changed(worker, row, items, recent):
                return False
        if unchanged:
            self._unchanged(worker, rows[-1].line + 1, unchanged)
        return True

    def _write_changed(self, worker: WorkerState, row: Row, items: dict[str, Known], recent: _RecentWrites) -> bool:
        """Write `row` as merge does, and note the item as it leaves it; False when the session stopped first."""
        settled = self._write_one(worker, row)
        if settled is None:
            return False
        key = row.key
        if settled is Settled.WRITTEN:
            items[key] = after_write(items.get(key), row.item_key, row.attributes, self._writer.ordering)
        elif settled is Settled.DELETED:
            items[key] = None
        elif settled is Settled.SUPERSEDED:
            items[key] = Stored.NEWER
        elif settled is Settled.FAILED:
            items[key] = Stored.UNKNOWN
        if settled is not Settled.REFUSED:  # the item changed, or may have
            recent.add(key)
        return True

    def _read_items(self, worker: WorkerState, rows: list[Row], recent: _RecentWrites) -> dict[str, Known] | _Read:
        """The items of the rows' keys (a key without an item is left out), as far as the rows set attributes; or why
        there are none."""
        first: dict[str, Row] = {}
        names: dict[str, None] = {}
        for row in rows:
            first.setdefault(row.key, row)
            names.update(dict.fromkeys(row.attributes))
        recent.forget_before(time.monotonic() - RECENT_WRITE_S)
        eventual = [row for key, row in first.items() if self._consistent or key not in recent]
        strong = [row for key, row in first.items() if not self._consistent and key in recent]
        items: dict[str, Known] = {}
        for keys, consistent in ((eventual, self._consistent), (strong, True)):
            if keys:
                outcome = self._batch_get(worker, rows, keys, names, consistent, items)
                if outcome is not None:
                    return outcome
        return items

    def _batch_get(
        self,
        worker: WorkerState,
        rows: list[Row],
        keys: list[Row],
        names: dict[str, None],
        consistent: bool,
        items: dict[str, Known],
    ) -> _Read | None:
        """Read the items of `keys` (rows of distinct keys) into `items`, sending unprocessed keys again; None once
        every key is answered. `rows` are the batch's, which fail together if retries run out."""
        table = self._writer.table_name
        request = read_request(keys, names, ordering=self._writer.ordering, consistent=consistent)
        key_names = tuple(keys[0].item_key)
        attempt = 0
        while True:
            answer, response, detail = call(self._client.batch_get_item, {"RequestItems": {table: request}})
            if answer is Answer.DONE:
                for item in response.get("Responses", {}).get(table, ()):
                    items[identity_of(item_key(item, key_names), key_names)] = item
                unprocessed = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys") or []
                self._read(worker, len(request["Keys"]) - len(unprocessed))
                if not unprocessed:
                    return None
                # The rows' own keys, sent again: the answer's are DynamoDB's JSON (a binary key as base64 text,
                # which botocore would encode a second time, asking for another key).
                back = {identity_of(item_key(key, key_names), key_names) for key in unprocessed}
                request = {**request, "Keys": [row.item_key for row in keys if row.key in back]}
                detail = "unprocessed keys"
            elif answer in (Answer.ROW_REFUSED, Answer.TOO_LARGE):
                return _Read.REFUSED
            elif answer is not Answer.TRANSIENT:  # about the table or the caller: every read would get it
                self._fail_file(WriteFailed(rows[0].line, detail))
                return _Read.STOPPED
            step = self._pause(attempt)
            if step is _Next.GIVE_UP:
                self._give_up(worker, rows, rows[-1].line + 1, detail)
                return _Read.GAVE_UP
            if step is _Next.STOP:
                return _Read.STOPPED
            attempt += 1


class _RecentWrites:
    """The keys one worker wrote, each with when it last did, oldest first."""

    def __init__(self) -> None:
        self._written: OrderedDict[str, float] = OrderedDict()

    def add(self, key: str) -> None:
        self._written[key] = time.monotonic()
        self._written.move_to_end(key)

    def forget_before(self, moment: float) -> None:
        written = self._written
        while written and next(iter(written.values())) < moment:
            written.popitem(last=False)

    def __contains__(self, key: str) -> bool:
        return key in self._written
