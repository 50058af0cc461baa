"""What `changed` mode does with a row, from its item as read back (no AWS in here): write it (merge's conditional
update, or a deleting row's conditional delete), leave it (unchanged), or count it superseded; and the item as the
row's write leaves it, which the key's later rows are compared with."""

from __future__ import annotations

import base64
import enum
from collections.abc import Mapping
from typing import Any

from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.values import AttributeValue, canonical_number


class Verdict(enum.Enum):
    WRITE = enum.auto()  # the row would change its item, or creates it, or the item is not known: merge's update
    UNCHANGED = enum.auto()  # every attribute the row sets holds that value already: nothing to write
    SUPERSEDED = enum.auto()  # the item holds a newer upload's stamp: merge's update would be refused


class Stored(enum.Enum):
    """What is known of an item besides its attributes."""

    UNKNOWN = enum.auto()  # a write of it may or may not have gone through (retries ran out)
    NEWER = enum.auto()  # a write of it was refused: a newer upload wrote it since it was read


# An item as read back (its key, the attributes read and its stamp), None when there is none, or a `Stored`.
Known = Mapping[str, AttributeValue] | Stored | None


def verdict(attributes: Mapping[str, AttributeValue], stored: Known, ordering: Ordering | None) -> Verdict:
    """What to do with a row setting `attributes` (its non-empty cells; a key-only row sets none) on the item
    `stored`, for an upload ordered by `ordering` (None: unordered).

    An item with a newer upload's stamp supersedes the row, as merge's condition would. Otherwise the row is
    unchanged when each of its attributes holds its value (attributes the row does not set are not compared: merge
    keeps them), whatever the item's stamp; a missing item, or one not known, is written. An attribute that was not
    read back counts as different: when in doubt, the row is written, and the update's condition decides.
    """
    if stored is Stored.NEWER:
        return Verdict.SUPERSEDED
    if stored is None or stored is Stored.UNKNOWN:
        return Verdict.WRITE
    if ordering is not None and (stamp := stored.get(ordering.attribute)) is not None:
        held = stamp.get("S")
        if not isinstance(held, str):
            return Verdict.WRITE  # not a stamp this pipeline wrote: the condition decides
        if held > ordering.stamp:
            return Verdict.SUPERSEDED
    for name, value in attributes.items():
        held_value = stored.get(name)
        if held_value is None or not same_value(value, held_value):
            return Verdict.WRITE
    return Verdict.UNCHANGED


def delete_verdict(stored: Known, ordering: Ordering | None) -> Verdict:
    """What to do with a row whose delete marker is true, on the item `stored`: delete it (merge's conditional
    `DeleteItem`), leave it (unchanged: there is no item to delete), or count it superseded (the item holds a newer
    upload's stamp, which the delete's condition would refuse)."""
    if stored is Stored.NEWER:
        return Verdict.SUPERSEDED
    if stored is None:
        return Verdict.UNCHANGED
    if stored is Stored.UNKNOWN:
        return Verdict.WRITE
    if ordering is not None and (stamp := stored.get(ordering.attribute)) is not None:
        held = stamp.get("S")
        if isinstance(held, str) and held > ordering.stamp:
            return Verdict.SUPERSEDED
    return Verdict.WRITE


def same_value(written: AttributeValue, held: AttributeValue) -> bool:
    """Whether the attribute `held` (as DynamoDB returns it) is the value writing `written` would leave: the same
    type, and the same value as DynamoDB compares them: numbers by value (`1.50` is `1.5`), binaries by their bytes
    (bytes, or base64 text as DynamoDB's JSON carries them), lists element by element, maps name by name, sets
    whatever their order; strings, booleans and nulls exactly."""
    if written == held:
        return True
    ((kind, content),) = written.items()
    other = held.get(kind)
    if other is None:
        return False  # another type
    if kind == "N":
        return canonical_number(content) == canonical_number(other)
    if kind == "M":
        return content.keys() == other.keys() and all(same_value(value, other[name]) for name, value in content.items())
    if kind == "L":
        return len(content) == len(other) and all(map(same_value, content, other))
    if kind == "B":
        return _bytes(content) == _bytes(other)
    if kind == "NS":
        return {canonical_number(text) for text in content} == {canonical_number(text) for text in other}
    if kind == "BS":
        return set(map(_bytes, content)) == set(map(_bytes, other))
    if kind == "SS":
        return set(content) == set(other)
    return False


def _bytes(binary: bytes | str) -> bytes:
    return base64.b64decode(binary) if isinstance(binary, str) else binary


def after_write(
    stored: Known, item_key: Mapping[str, AttributeValue], attributes: Mapping[str, Any], ordering: Ordering | None
) -> dict[str, AttributeValue]:
    """The item as a row's update leaves it, as far as it is known: what was read of it (for an item not known, only
    its key) with the row's attributes set and, ordered, the upload's stamp."""
    item = dict(stored) if isinstance(stored, Mapping) else dict(item_key)
    item.update(attributes)
    if ordering is not None:
        item[ordering.attribute] = {"S": ordering.stamp}
    return item
