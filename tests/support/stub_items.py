"""Items of an exact size, as DynamoDB (and the stub DynamoDB endpoint) measures them: the stub's tests."""

from __future__ import annotations

from typing import Any


def item_of_size(key: str, size: int, **attributes: str) -> dict[str, Any]:
    """An item keyed on customer_id whose size is `size` bytes: its `text` attribute (ASCII) takes what the key and
    `attributes` (ASCII) leave."""
    item = {"customer_id": {"S": key}, **{name: {"S": value} for name, value in attributes.items()}}
    used = sum(len(name) + len(value["S"]) for name, value in item.items()) + len("text")
    return {**item, "text": {"S": "x" * (size - used)}}
