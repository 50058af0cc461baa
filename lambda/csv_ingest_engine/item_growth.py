"""What `validate` knows of items that grow across rows: in `merge` mode each row SETs its attributes onto the item
its earlier rows built, so rows that each fit can together take the item past DynamoDB's 400 KB, and DynamoDB
refuses the row that would (the item stays as it was). `load` learns this from the table; `validate` works it out.

Memory is bounded: the items of the keys whose rows came last are remembered, up to `MEMORY_BUDGET_BYTES` (an
estimate of what they hold), the key least recently seen forgotten first. A key forgotten and seen again starts
afresh, as if its earlier rows were not in the file: that row is checked alone, as attributes already in the table
are never known to `validate`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from csv_ingest_engine.rules import MAX_ITEM_BYTES, Header, Rejection, Row
from csv_ingest_engine.values import size_of

# About 32 MiB of Python objects: the keys of the last ~10,000 rows of 10 short cells, or ~30,000 keys once they
# have had a second row or a row over `_MEASURED_FROM_CHARS` (kept as sizes, not cells). Keeping rows costs time as
# well as memory (allocation, the garbage collector's passes): checking rows of 10 short cells takes ~40% longer
# than without this, on a budget twice as large ~55% (100,000 rows, 2 CPUs).
MEMORY_BUDGET_BYTES = 32 * 1024 * 1024
# A key's first row is kept as it is (measured only if the key comes again: most keys never do), unless its cells
# hold this many characters: then measuring it costs little beside reading it, and saves keeping it.
_MEASURED_FROM_CHARS = 2048
# What a remembered attribute costs besides its characters: its cell's string, the `{"S": ...}` value, a dict slot.
_ATTRIBUTE_OVERHEAD_BYTES = 256
# An item's own bookkeeping besides its attributes (the key, the objects); an attribute's size entry in an `_Item`
# (its name is the header's own string).
_ITEM_OVERHEAD_BYTES = 512
_SIZE_ENTRY_BYTES = 64


@dataclass(slots=True)
class _Item:
    """An item as this file's accepted rows of one key leave it: its size, and each attribute's (name included)."""

    size: int
    attributes: dict[str, int]
    first_line: int
    last_line: int
    rows: int = 1


class ItemGrowth:
    """The items of one file's `merge` rows, to refuse the rows DynamoDB would refuse (see the module's docstring)."""

    def __init__(self, header: Header, *, budget_bytes: int | None = None) -> None:
        self._header = header
        self._budget = MEMORY_BUDGET_BYTES if budget_bytes is None else budget_bytes
        self._used = 0
        # A key's `_Item`, or while it has had one small row, that row. Insertion order is recency: a key seen is
        # moved to the end. (An OrderedDict: a plain dict's first key is found by skipping the slots of the keys
        # removed before it, which makes forgetting the oldest one slower the longer the file.)
        self._items: OrderedDict[str, Row | _Item] = OrderedDict()

    def add(self, row: Row) -> Rejection | None:
        """Apply `row` to its item; the rejection DynamoDB's refusal would be (the item then stays as it was). A row
        that deletes its item leaves nothing: the key's next row starts a new item."""
        items = self._items
        earlier = items.pop(row.key, None)
        if row.deletes:
            if earlier is not None:
                self._used -= _memory_of(earlier)
            return None
        if earlier is None:  # most keys: kept as they are, at the cost of two lookups (and a row forgotten)
            chars = sum(map(len, row.cells))
            if chars < _MEASURED_FROM_CHARS:
                items[row.key] = row
                self._used += _ITEM_OVERHEAD_BYTES + chars + _ATTRIBUTE_OVERHEAD_BYTES * len(row.cells)
            else:  # a large row is measured at once: its sizes take less memory than its cells
                self._keep(row.key, self._item_of(row))
            if self._used > self._budget:
                self._forget()
            return None
        self._used -= _memory_of(earlier)
        item = self._item_of(earlier) if isinstance(earlier, Row) else earlier
        sizes = self._attribute_sizes(row)
        # An attribute set again is replaced: its old size no longer counts.
        grown = item.size + sum(size - item.attributes.get(name, 0) for name, size in sizes.items())
        refused = self._refused(row, item, grown) if grown > MAX_ITEM_BYTES else None
        if refused is None:
            item.size = grown
            item.attributes.update(sizes)
            item.last_line = row.line
            item.rows += 1
        self._keep(row.key, item)
        if self._used > self._budget:
            self._forget()
        return refused

    def _item_of(self, row: Row) -> _Item:
        """The item a key's first row made: the key, the order stamp, the row's attributes."""
        key_size = sum(len(name.encode()) + size_of(value) for name, value in row.item_key.items())
        attributes = self._attribute_sizes(row)
        size = self._header.reserved_bytes + key_size + sum(attributes.values())
        return _Item(size, attributes, row.line, row.line)

    def _attribute_sizes(self, row: Row) -> dict[str, int]:
        if not row.typed:
            return {name: len(name.encode()) + len(value["S"].encode()) for name, value in row.attributes.items()}
        return {name: len(name.encode()) + size_of(value) for name, value in row.attributes.items()}

    def _keep(self, key: str, item: _Item) -> None:
        self._items[key] = item
        self._used += _memory_of(item)

    def _forget(self) -> None:
        """Forget the least recently seen keys until within the budget (the most recent one stays)."""
        items = self._items
        while self._used > self._budget and len(items) > 1:
            self._used -= _memory_of(items.popitem(last=False)[1])

    def _refused(self, row: Row, item: _Item, grown: int) -> Rejection:
        first, last = item.first_line, item.last_line
        if item.rows == 1:
            lines = f"line {first}"
        elif item.rows == last - first + 1:
            lines = f"lines {first} to {last}"
        else:  # rows of other keys (or refused ones) between them
            lines = f"the first on line {first}, the last on line {last}"
        rows = "row" if item.rows == 1 else "rows"
        stamp = self._header.reserved_bytes
        stamped = f", {stamp} of them the upload's order stamp" if stamp else ""
        reason = (
            f"the item would grow to {grown:,} bytes with this row{stamped}, over DynamoDB's 400 KB item limit "
            f"(the file's {item.rows:,} earlier {rows} of this key, {lines}, set the rest): DynamoDB would refuse "
            "it. Move some columns to another item, or shorten the values"
        )
        return Rejection(row.line, row.key, reason, row.cells)


def _memory_of(state: Row | _Item) -> int:
    """About what a kept row holds (its cells, and the attributes made of them), or an item (its sizes)."""
    if isinstance(state, Row):
        return _ITEM_OVERHEAD_BYTES + sum(map(len, state.cells)) + _ATTRIBUTE_OVERHEAD_BYTES * len(state.cells)
    return _ITEM_OVERHEAD_BYTES + _SIZE_ENTRY_BYTES * len(state.attributes)
