"""The DynamoDB requests that write `Row`s, and their sizes as sent: an `UpdateItem` per row for `merge` (and for
the rows `changed` writes), a put per row for `replace` (alone, or in a `BatchWriteItem` when not stamped with the
upload's order), a `DeleteItem` per row that deletes its item (in every mode), and the most attributes one update
expression can set; and the `BatchGetItem` that reads rows' items back for `changed`."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from csv_ingest_engine.constants import WriteMode
from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.rules import Row

BATCH_SIZE = 25  # BatchWriteItem's limit
READ_BATCH_SIZE = 100  # BatchGetItem's limit
# DynamoDB refuses a request over 16 MB (dynalite, like the service, answers HTTP 413). botocore sends JSON with
# non-ASCII text escaped (`é` travels as 6 bytes), so 25 large rows can weigh far more than their UTF-8 size: a batch
# is also cut by its size as sent, kept under 15 MiB, below both readings of "16 MB" with room for the envelope.
BATCH_MAX_BYTES = 15 * 1024 * 1024
# Escaped JSON spends at most 12 bytes on a character (an astral one, as two `\uXXXX` escapes): below this many
# characters a row cannot crowd a batch past the cap, so it is not measured exactly.
_UNMEASURED_CHARS = BATCH_MAX_BYTES // BATCH_SIZE // 12 - 1024
# Around each put in the body: `{"PutRequest": {"Item": {...}}}, ` and each attribute's `"": {"S": ""}, `.
_PUT_OVERHEAD_BYTES = 40
_ATTRIBUTE_OVERHEAD_BYTES = 16
# DynamoDB caps an expression at 4 KB. An update sets its row's attributes through positional placeholders
# (`SET #0=:0,#1=:1,...`), so the expression's length depends only on how many attributes the row has (and on
# whether the upload's order stamp is set too, as `#o=:o`).
MAX_EXPRESSION_BYTES = 4 * 1024
# The order stamp's placeholders, and the condition that keeps an item's newest upload (see `ordering`): the write
# applies if the item has no stamp or one not newer than the row's upload; otherwise the row is superseded.
_ORDER_NAME, _ORDER_VALUE = "#o", ":o"
ORDER_CONDITION = f"attribute_not_exists({_ORDER_NAME}) OR {_ORDER_NAME} <= {_ORDER_VALUE}"


def _set_expressions(stamp_action: str) -> list[str]:
    """`SET #0=:0,...` (then `stamp_action`) for 0, 1, 2, ... attributes, as long as the expression fits DynamoDB's
    limit (index 0: only the stamp, or nothing)."""
    expressions = [f"SET {stamp_action}" if stamp_action else ""]
    actions: list[str] = []
    while True:
        actions.append(f"#{len(actions)}=:{len(actions)}")
        expression = "SET " + ",".join([*actions, stamp_action] if stamp_action else actions)
        if len(expression) > MAX_EXPRESSION_BYTES:
            return expressions
        expressions.append(expression)


_SET_EXPRESSIONS = _set_expressions("")
_STAMPED_SET_EXPRESSIONS = _set_expressions(f"{_ORDER_NAME}={_ORDER_VALUE}")
# The most attributes one `merge` update can set, with the order stamp (the default) and without; the rules reject
# wider rows before they reach the writer.
MERGE_MAX_ATTRIBUTES = len(_STAMPED_SET_EXPRESSIONS) - 1
MERGE_MAX_ATTRIBUTES_UNORDERED = len(_SET_EXPRESSIONS) - 1
_NAME_PLACEHOLDERS = tuple(f"#{i}" for i in range(MERGE_MAX_ATTRIBUTES_UNORDERED))
_VALUE_PLACEHOLDERS = tuple(f":{i}" for i in range(MERGE_MAX_ATTRIBUTES_UNORDERED))


def max_attributes(mode: WriteMode, *, ordered: bool) -> int | None:
    """The most attributes one row may have in `mode`, with or without the order stamp (None: only the item-size
    limit applies)."""
    if mode == "replace":
        return None
    return MERGE_MAX_ATTRIBUTES if ordered else MERGE_MAX_ATTRIBUTES_UNORDERED


def request_for(
    row: Row, *, table_name: str, mode: WriteMode, ordering: Ordering | None = None
) -> tuple[str, dict[str, Any]]:
    """The client method and parameters that write `row` on its own to `table_name` in `mode` (or delete its item,
    if it `deletes`); with `ordering`, stamped with the upload's order and applied only if the item holds no newer
    upload's (a refusal then answers ConditionalCheckFailedException: the row is superseded)."""
    if row.deletes:
        return _delete_request(row, table_name=table_name, ordering=ordering)
    attributes = row.attributes
    if ordering is not None:
        return _stamped_request(row, table_name=table_name, mode=mode, ordering=ordering)
    if mode == "replace":
        return "put_item", {"TableName": table_name, "Item": item_of(row)}
    if not attributes:
        # DynamoDB accepts an UpdateItem without an update expression, but moto crashes on it; a put guarded by
        # attribute_not_exists creates the bare item and leaves an existing one untouched, on both.
        return "put_item", {
            "TableName": table_name,
            "Item": row.item_key,
            "ConditionExpression": "attribute_not_exists(#k)",
            "ExpressionAttributeNames": {"#k": next(iter(row.item_key))},
        }
    count = len(attributes)
    return "update_item", {
        "TableName": table_name,
        "Key": row.item_key,
        "UpdateExpression": _SET_EXPRESSIONS[count],
        "ExpressionAttributeNames": dict(zip(_NAME_PLACEHOLDERS[:count], attributes, strict=True)),
        "ExpressionAttributeValues": dict(zip(_VALUE_PLACEHOLDERS[:count], attributes.values(), strict=True)),
    }


def _delete_request(row: Row, *, table_name: str, ordering: Ordering | None) -> tuple[str, dict[str, Any]]:
    """A `DeleteItem` of the row's item; with `ordering`, on the writes' own condition: an item that holds a newer
    upload's stamp is not deleted (the row is superseded). Deleting an item that does not exist succeeds."""
    params: dict[str, Any] = {"TableName": table_name, "Key": row.item_key}
    if ordering is not None:
        params |= {
            "ConditionExpression": ORDER_CONDITION,
            "ExpressionAttributeNames": {_ORDER_NAME: ordering.attribute},
            "ExpressionAttributeValues": {_ORDER_VALUE: {"S": ordering.stamp}},
        }
    return "delete_item", params


def _stamped_request(row: Row, *, table_name: str, mode: WriteMode, ordering: Ordering) -> tuple[str, dict[str, Any]]:
    stamp = {"S": ordering.stamp}
    if mode == "replace":
        # BatchWriteItem takes no condition: a stamped put goes alone, with its condition.
        return "put_item", {
            "TableName": table_name,
            "Item": {**item_of(row), ordering.attribute: stamp},
            "ConditionExpression": ORDER_CONDITION,
            "ExpressionAttributeNames": {_ORDER_NAME: ordering.attribute},
            "ExpressionAttributeValues": {_ORDER_VALUE: stamp},
        }
    attributes = row.attributes
    count = len(attributes)
    names = dict(zip(_NAME_PLACEHOLDERS[:count], attributes, strict=True))
    values = dict(zip(_VALUE_PLACEHOLDERS[:count], attributes.values(), strict=True))
    names[_ORDER_NAME] = ordering.attribute
    values[_ORDER_VALUE] = stamp
    return "update_item", {
        "TableName": table_name,
        "Key": row.item_key,
        "UpdateExpression": _STAMPED_SET_EXPRESSIONS[count],
        "ConditionExpression": ORDER_CONDITION,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


# The projection's names, together (DynamoDB allows 2 MB of an expression's substitutions; a name is at most 64 KB,
# and its characters at most 4 bytes each).
_MAX_PROJECTED_NAME_CHARS = 2 * 1024 * 1024 // 4


def read_request(
    rows: Sequence[Row], names: Iterable[str], *, ordering: Ordering | None, consistent: bool
) -> dict[str, Any]:
    """The request of a `BatchGetItem` (one table's part) that reads back the items of `rows` (distinct keys, at
    most READ_BATCH_SIZE), projected on their keys, the attributes `names` and the order stamp: what `changed`
    compares the rows with. An item's other attributes are not sent back (DynamoDB still bills the read by the
    whole item's size). A projection too long for an expression (a file of hundreds of columns) is left out: the
    items are then read whole."""
    projected = dict.fromkeys(rows[0].item_key)
    projected.update(dict.fromkeys(names))
    if ordering is not None:
        projected[ordering.attribute] = None
    placeholders = {f"#{index}": name for index, name in enumerate(projected)}
    projection = ",".join(placeholders)
    request: dict[str, Any] = {"Keys": [row.item_key for row in rows], "ConsistentRead": consistent}
    if len(projection) <= MAX_EXPRESSION_BYTES and sum(map(len, projected)) <= _MAX_PROJECTED_NAME_CHARS:
        request["ProjectionExpression"] = projection
        request["ExpressionAttributeNames"] = placeholders
    return request


def write_actions(mode: WriteMode, *, ordered: bool, deletes: bool = False) -> tuple[str, ...]:
    """The DynamoDB actions a writer in `mode` calls (what its IAM policy must allow, and no more): stamped writes are
    one `UpdateItem` (merge) or one conditional `PutItem` (replace) per row; without stamps, merge puts a key-only row
    and replace sends `BatchWriteItem`s, and a batch the table refuses one row by one `PutItem`. `changed` reads
    items back (`BatchGetItem`) and writes as merge does. With a delete-marker column (`deletes`), `DeleteItem` too."""
    if mode == "changed":
        return ("dynamodb:BatchGetItem", *write_actions("merge", ordered=ordered, deletes=deletes))
    actions: tuple[str, ...]
    if ordered:
        actions = ("dynamodb:UpdateItem",) if mode == "merge" else ("dynamodb:PutItem",)
    elif mode == "merge":
        actions = ("dynamodb:UpdateItem", "dynamodb:PutItem")
    else:
        actions = ("dynamodb:BatchWriteItem", "dynamodb:PutItem")
    return (*actions, "dynamodb:DeleteItem") if deletes else actions


def item_of(row: Row) -> dict[str, Any]:
    """The whole item `row` stands for (its key and attributes), as a put writes it."""
    return {**row.item_key, **row.attributes}


def put_size_of(row: Row) -> int:
    """At least the bytes `row`'s put adds to a `BatchWriteItem` body as botocore sends it (non-ASCII escaped)."""
    attributes = row.attributes
    if not row.typed:
        # One string key and string values, as without column types: the old arithmetic, at its old cost.
        ((key_name, key_value),) = row.item_key.items()
        chars = len(key_name) + len(key_value["S"]) + sum(map(len, attributes))
        chars += sum(len(value["S"]) for value in attributes.values())
        values = len(attributes) + 1
    else:
        key_chars, key_values = _measure(row.item_key)
        chars, values = _measure(attributes)
        chars += key_chars
        values += key_values
    if chars < _UNMEASURED_CHARS:
        return 12 * chars + _ATTRIBUTE_OVERHEAD_BYTES * values + _PUT_OVERHEAD_BYTES
    # botocore's own encoding: json.dumps with its defaults (ASCII only, ", " and ": " separators), binary
    # values as base64 text
    return len(json.dumps(item_of(row), default=_base64)) + _PUT_OVERHEAD_BYTES


def _measure(values: Mapping[str, Any]) -> tuple[int, int]:
    """The characters of the names and contents of `values` (DynamoDB values, nested ones included), and how many
    values there are (each adds its type tag and punctuation, `_ATTRIBUTE_OVERHEAD_BYTES`)."""
    chars = count = 0
    for name, value in values.items():
        value_chars, value_count = _measure_value(value)
        chars += len(name) + value_chars
        count += value_count
    return chars, count


def _measure_value(value: Mapping[str, Any]) -> tuple[int, int]:
    (kind, content), *_ = value.items()
    if kind in ("S", "N"):
        return len(content), 1
    if kind == "M":
        chars, count = _measure(content)
        return chars, count + 1
    if kind == "L":
        chars = count = 1
        for element in content:
            element_chars, element_count = _measure_value(element)
            chars += element_chars
            count += element_count
        return chars, count
    if kind == "B":
        return 4 * len(content) // 3 + 4, 1
    return 5, 1  # BOOL, NULL: at most `false`


def _base64(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not a DynamoDB value")
