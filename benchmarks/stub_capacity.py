"""What reads and writes would cost on DynamoDB: item sizes, capacity units, on-demand dollars.

The rules are the developer guide's ("Capacity unit consumption for reads / for writes", in "DynamoDB read and
write operations"): a write takes one unit per started KB of the item, a read one per started 4 KB (half for an
eventually consistent read); a request for several items counts each item alone, rounded up first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from csv_ingest_engine.values import size_of

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4 * 1024
# On-demand throughput prices in us-east-1, per million request units (a write request unit is one write of up to
# 1 KB, a read request unit one strongly consistent read of up to 4 KB or two eventually consistent ones), since
# the price cut of 2024-11-01: https://aws.amazon.com/dynamodb/pricing/on-demand/
DOLLARS_PER_MILLION_WRITE_UNITS = 0.625
DOLLARS_PER_MILLION_READ_UNITS = 0.125


def item_size(item: Mapping[str, Any]) -> int:
    """The bytes DynamoDB counts for an item as it travels in JSON (`{"name": {"S": "..."}, ...}`): each attribute's
    name in UTF-8 and its value, as the engine measures values (`values.size_of`); binary arrives as base64 text and
    counts as the bytes it decodes to (binary nested in a list or map, which the engine never writes, counts as its
    base64 text)."""
    size = 0
    for name, value in item.items():
        text = value.get("S")  # most values: measured here, as `size_of` would, without its call
        if text is not None:
            size += len(name.encode()) + len(text.encode())
        elif "B" in value:
            size += len(name.encode()) + _decoded_length(value["B"])
        else:
            size += len(name.encode()) + size_of(value)
    return size


def _decoded_length(text: str) -> int:
    return len(text) * 3 // 4 - text[-2:].count("=")


def write_units(size: int) -> int:
    """A write of an item of `size` bytes: one unit per started KB, at least one."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int | None, *, consistent: bool) -> float:
    """A read of an item of `size` bytes (None: no such item, which costs what the smallest item would): one unit per
    started 4 KB, half of it for an eventually consistent read."""
    units = 1 if size is None else max(1, math.ceil(size / READ_UNIT_BYTES))
    return units if consistent else units / 2


def on_demand_dollars(read: float, write: float) -> float:
    """What `read` read units and `write` write units cost on an on-demand table (us-east-1)."""
    return (read * DOLLARS_PER_MILLION_READ_UNITS + write * DOLLARS_PER_MILLION_WRITE_UNITS) / 1_000_000
