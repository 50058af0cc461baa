"""The stub DynamoDB endpoint's table: its items by key, and each write's and read's outcome with the capacity units
it would consume on DynamoDB (`stub_capacity`).

Conditional writes follow the developer guide: a write whose condition fails changes nothing and still consumes
write units, as many as the item it would have written needs if the key has an item, else one. A put or an update
consumes the units of the larger of the item before and after; a delete those of the item it deletes (one if none).
Items are never changed in place (a write stores a new dict), so a snapshot is a copy of the index.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stub_capacity import item_size, read_units, write_units
from stub_expressions import ExpressionError, Item, Names, ParsedCondition, ParsedUpdate, Values

from csv_ingest_engine.rules import MAX_ITEM_BYTES

Key = tuple[tuple[str, str], ...]  # the key attributes' (type, value), in the key schema's order
_NOT_THE_SCHEMA = "The provided key element does not match the schema"


@dataclass(frozen=True, slots=True)
class Written:
    """A write's outcome: applied (else its condition failed), the units it consumed, the item before it."""

    applied: bool
    units: int
    before: Item | None


class Table:
    """One table's items, keyed by the key schema's attributes; safe to use from the server's threads."""

    def __init__(self, key_types: Mapping[str, str]) -> None:
        """`key_types`: each key attribute's name and type (S, N or B), in the key schema's order."""
        self.key_types = dict(key_types)
        self._key_set = frozenset(key_types)
        self._lock = threading.Lock()
        self._items: dict[Key, Item] = {}
        self._sizes: dict[Key, int] = {}
        self._snapshot: tuple[dict[Key, Item], dict[Key, int]] = ({}, {})

    def key_of(self, key: Mapping[str, Any], *, whole_item: bool = False) -> Key:
        """The index key of `key` (exactly the key attributes) or of an item (`whole_item`: it holds them)."""
        if not whole_item and len(key) != len(self.key_types):
            raise ExpressionError(_NOT_THE_SCHEMA)
        index = []
        for name, kind in self.key_types.items():
            value = key.get(name)
            if value is None or kind not in value:
                raise ExpressionError(_NOT_THE_SCHEMA)
            index.append((kind, value[kind]))
        return tuple(index)

    def put(self, item: Item, condition: ParsedCondition | None, names: Names, values: Values) -> Written:
        key = self.key_of(item, whole_item=True)
        size = self._checked_size(item, "Item size has exceeded the maximum allowed size")
        with self._lock:
            return self._write(key, item, size, condition, names, values)

    def update(
        self, key_item: Item, update: ParsedUpdate, condition: ParsedCondition | None, names: Names, values: Values
    ) -> Written:
        key = self.key_of(key_item)
        with self._lock:
            before = self._items.get(key)
            after = update.apply(before or key_item, names, values, key_names=self._key_set)
            size = self._checked_size(after, "Item size to update has exceeded the maximum allowed size")
            return self._write(key, after, size, condition, names, values)

    def delete(self, key_item: Item, condition: ParsedCondition | None, names: Names, values: Values) -> Written:
        key = self.key_of(key_item)
        with self._lock:
            return self._write(key, None, 0, condition, names, values)

    def _write(
        self,
        key: Key,
        after: Item | None,
        size: int,
        condition: ParsedCondition | None,
        names: Names,
        values: Values,
    ) -> Written:
        """Under the lock: `after` (None: nothing) becomes the key's item, unless `condition` fails on the item now."""
        before = self._items.get(key)
        before_size = self._sizes.get(key, 0)
        if condition is not None and not condition.holds(before or {}, names, values):
            would_be = size if after is not None else before_size
            return Written(False, write_units(would_be) if before is not None else 1, before)
        if after is None:
            self._items.pop(key, None)
            self._sizes.pop(key, None)
        else:
            self._items[key] = after
            self._sizes[key] = size
        return Written(True, write_units(max(before_size, size)), before)

    def _checked_size(self, item: Item, refusal: str) -> int:
        size = item_size(item)
        if size > MAX_ITEM_BYTES:
            raise ExpressionError(refusal)
        return size

    def read(self, keys: Iterable[Key], *, consistent: bool) -> tuple[list[Item], float]:
        """The items of `keys` that exist, and the read units reading all the keys consumed."""
        found = []
        units = 0.0
        with self._lock:
            items, sizes = self._items, self._sizes
            for key in keys:
                item = items.get(key)
                units += read_units(sizes.get(key), consistent=consistent)
                if item is not None:
                    found.append(item)
        return found, units

    def plain_items(self) -> dict[str, dict[str, Any]]:
        """Each item by its (first) key attribute's value, its other attributes by name with their values' contents
        (`{"c1": {"name": "Ada"}}`): what the writers' tests compare."""
        with self._lock:
            items = list(self._items.items())
        return {
            key[0][1]: {name: next(iter(value.values())) for name, value in item.items() if name not in self._key_set}
            for key, item in items
        }

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()

    def snapshot(self) -> None:
        """Remember the items as they are now, for `restore`."""
        with self._lock:
            self._snapshot = (dict(self._items), dict(self._sizes))

    def restore(self) -> None:
        """The items become those of the last `snapshot` again."""
        with self._lock:
            self._items, self._sizes = dict(self._snapshot[0]), dict(self._snapshot[1])

    def digest(self, leave_out: Iterable[str] = ()) -> str:
        """`digest_of` the items."""
        with self._lock:
            items = list(self._items.values())
        return digest_of(items, leave_out)


def digest_of(items: Iterable[Item], leave_out: Iterable[str] = ()) -> str:
    """A SHA-256 of `items` without the attributes named in `leave_out`, the same whatever their order: what the
    benchmark compares a table with the file it loaded."""
    left_out = frozenset(leave_out)
    lines = sorted(
        json.dumps({name: value for name, value in item.items() if name not in left_out}, sort_keys=True)
        for item in items
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
