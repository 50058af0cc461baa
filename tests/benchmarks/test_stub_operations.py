"""What the stub DynamoDB endpoint answers, as a boto3 client sees it: the items it keeps, read back with
BatchGetItem; updates, puts and deletes applied as DynamoDB applies them, on the engine's conditions; and the requests
DynamoDB refuses."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from stub_dynamodb import StubServer

from csv_ingest_engine.constants import WriteMode
from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.requests import request_for
from csv_ingest_engine.rules import Row
from tests.support.writing import NEWER, row

ORDER = NEWER.attribute
OLDER = Ordering(NEWER.attribute, "2026-12-01T09:00:00.000000Z 000000000000000000000001")
NEWEST = Ordering(NEWER.attribute, "2026-12-01T11:00:00.000000Z 000000000000000000000003")


def _key(key: str) -> dict[str, Any]:
    return {"customer_id": {"S": key}}


def _send(client: Any, each: Row, *, mode: WriteMode = "merge", ordering: Ordering | None = NEWER) -> None:
    """The engine's own request for `each` (`requests.request_for`), sent."""
    method, request = request_for(each, table_name="t", mode=mode, ordering=ordering)
    getattr(client, method)(**request)


def _item(client: Any, key: str) -> dict[str, Any] | None:
    response = client.batch_get_item(RequestItems={"t": {"Keys": [_key(key)]}})
    found: list[dict[str, Any]] = response["Responses"]["t"]
    return found[0] if found else None


def test_stored_items_come_back_projected_through_batch_get_item(client: Any) -> None:
    """BatchGetItem answers the items that exist, with only the attributes its projection names (placeholders
    resolved), and nothing for a key with no item."""
    # given
    _send(client, row(2, "a", name="Ada", city="Paris"))
    _send(client, row(3, "b", name="Bob"))
    # when
    response = client.batch_get_item(
        RequestItems={
            "t": {
                "Keys": [_key("a"), _key("absent"), _key("b")],
                "ProjectionExpression": "#n0, #n1, #n2, #n3",
                "ExpressionAttributeNames": {
                    "#n0": "customer_id",
                    "#n1": "name",
                    "#n2": "city",
                    "#n3": NEWER.attribute,
                },
            }
        }
    )
    # then
    found = sorted(response["Responses"]["t"], key=lambda item: item["customer_id"]["S"])
    assert found == [
        {"customer_id": {"S": "a"}, "name": {"S": "Ada"}, "city": {"S": "Paris"}, NEWER.attribute: {"S": NEWER.stamp}},
        {"customer_id": {"S": "b"}, "name": {"S": "Bob"}, NEWER.attribute: {"S": NEWER.stamp}},
    ]
    assert response["UnprocessedKeys"] == {}


def test_a_projection_without_the_key_leaves_the_key_out(client: Any) -> None:
    """As on DynamoDB, the key comes back only if the projection names it."""
    _send(client, row(2, "a", name="Ada"))
    projected = {"ProjectionExpression": "#n", "ExpressionAttributeNames": {"#n": "name"}}
    response = client.batch_get_item(RequestItems={"t": {"Keys": [_key("a")], **projected}})
    assert response["Responses"]["t"] == [{"name": {"S": "Ada"}}]


def test_an_update_sets_the_attributes_it_names_and_keeps_the_others(client: Any) -> None:
    """SET replaces or adds the attributes it names; the item's other attributes stay (what `merge` relies on)."""
    _send(client, row(2, "a", name="Ada", city="Paris"))
    _send(client, row(3, "a", city="Lyon", zip="69001"), ordering=NEWEST)
    assert _item(client, "a") == {
        "customer_id": {"S": "a"},
        "name": {"S": "Ada"},
        "city": {"S": "Lyon"},
        "zip": {"S": "69001"},
        NEWER.attribute: {"S": NEWEST.stamp},
    }


def test_if_not_exists_keeps_a_value_and_remove_drops_one(client: Any) -> None:
    """`SET a = if_not_exists(a, :v)` sets a only where the item lacks it; `REMOVE` takes an attribute away."""
    client.put_item(TableName="t", Item={**_key("a"), "kept": {"S": "old"}, "gone": {"S": "x"}})
    client.update_item(
        TableName="t",
        Key=_key("a"),
        UpdateExpression="SET #k = if_not_exists(#k, :k), #n = if_not_exists(#n, :n) REMOVE #g",
        ExpressionAttributeNames={"#k": "kept", "#n": "new", "#g": "gone"},
        ExpressionAttributeValues={":k": {"S": "ignored"}, ":n": {"S": "set"}},
    )
    assert _item(client, "a") == {**_key("a"), "kept": {"S": "old"}, "new": {"S": "set"}}


@pytest.mark.parametrize(
    ("second", "applied"), [(OLDER, False), (NEWER, True), (NEWEST, True)], ids=["older", "same", "newer"]
)
def test_the_order_condition_refuses_only_an_older_uploads_write(
    client: Any, stub: StubServer, second: Ordering, applied: bool
) -> None:
    """The engine's condition (`attribute_not_exists(#o) OR #o <= :o`): a write of an older upload than the item's
    is refused with ConditionalCheckFailedException and changes nothing; the same upload or a newer one writes."""
    # given
    _send(client, row(2, "a", name="first"), ordering=NEWER)
    # when
    try:
        _send(client, row(3, "a", name="second"), ordering=second)
        refused = None
    except ClientError as exc:
        refused = exc.response["Error"]["Code"]
    # then
    assert refused == (None if applied else "ConditionalCheckFailedException")
    item = _item(client, "a")
    assert item is not None
    assert (item["name"]["S"], item[NEWER.attribute]["S"]) == (
        ("second", second.stamp) if applied else ("first", NEWER.stamp)
    )
    assert stub.counters.as_dict()["conditional_failures"] == (0 if applied else 1)


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_the_order_condition_lets_an_unstamped_item_be_written(client: Any, mode: WriteMode) -> None:
    """An item written with ordering off has no stamp: a stamped write of either mode applies to it."""
    _send(client, row(2, "a", name="first"), mode=mode, ordering=None)
    _send(client, row(3, "a", name="second"), mode=mode, ordering=OLDER)
    item = _item(client, "a")
    assert item is not None
    assert item["name"]["S"] == "second"


def test_a_key_only_row_creates_its_item_and_leaves_an_existing_one(client: Any) -> None:
    """The engine's unordered put of a row with no attributes (`attribute_not_exists(#k)`): it creates a bare item,
    and on an existing item is refused, the item untouched."""
    _send(client, row(2, "new"), ordering=None)
    _send(client, row(3, "old", name="Ada"), ordering=None)
    with pytest.raises(ClientError, match="ConditionalCheckFailedException"):
        _send(client, row(4, "old"), ordering=None)
    assert (_item(client, "new"), _item(client, "old")) == (_key("new"), {**_key("old"), "name": {"S": "Ada"}})


def test_a_put_replaces_the_whole_item(client: Any) -> None:
    """`replace` mode's put leaves only the row's attributes (and its stamp)."""
    _send(client, row(2, "a", name="Ada", city="Paris"), mode="replace")
    _send(client, row(3, "a", name="Bea"), mode="replace", ordering=NEWEST)
    assert _item(client, "a") == {**_key("a"), "name": {"S": "Bea"}, NEWER.attribute: {"S": NEWEST.stamp}}


def test_a_delete_removes_the_item_unless_its_condition_fails(client: Any, stub: StubServer) -> None:
    """A DeleteItem conditional on the order stamp deletes an item of an older upload, not one of a newer."""
    # given
    _send(client, row(2, "a", name="Ada"), ordering=OLDER)
    _send(client, row(3, "b", name="Bob"), ordering=NEWEST)
    stamped = {
        "ConditionExpression": "attribute_not_exists(#o) OR #o <= :o",
        "ExpressionAttributeNames": {"#o": NEWER.attribute},
        "ExpressionAttributeValues": {":o": {"S": NEWER.stamp}},
    }
    # when
    client.delete_item(TableName="t", Key=_key("a"), **stamped)
    with pytest.raises(ClientError, match="ConditionalCheckFailedException"):
        client.delete_item(TableName="t", Key=_key("b"), **stamped)
    # then
    assert stub.counters.items == {"b": {"name": "Bob", NEWER.attribute: NEWEST.stamp}}


def test_a_batch_write_puts_and_deletes(client: Any, stub: StubServer) -> None:
    """BatchWriteItem applies its puts (whole items) and deletes."""
    client.put_item(TableName="t", Item={**_key("gone"), "x": {"S": "1"}})
    client.batch_write_item(
        RequestItems={
            "t": [
                {"PutRequest": {"Item": {**_key("a"), "name": {"S": "Ada"}}}},
                {"DeleteRequest": {"Key": _key("gone")}},
            ]
        }
    )
    assert stub.counters.items == {"a": {"name": "Ada"}}


def test_half_the_keys_come_back_unprocessed_when_asked(client: Any, stub: StubServer) -> None:
    """With `unprocessed_share`, a BatchGetItem reads half its keys and hands back the rest as UnprocessedKeys, in the
    request's own form (projection and names included), ready to be sent again; a one-key request is throttled."""
    # given
    stub.unprocessed_share = 1.0
    spec = {"ProjectionExpression": "#k", "ExpressionAttributeNames": {"#k": "customer_id"}, "ConsistentRead": False}
    # when
    response = client.batch_get_item(RequestItems={"t": {"Keys": [_key(str(n)) for n in range(10)], **spec}})
    # then
    assert response["UnprocessedKeys"] == {"t": {"Keys": [_key(str(n)) for n in range(5, 10)], **spec}}
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        client.batch_get_item(RequestItems={"t": {"Keys": [_key("0")], **spec}})
    counted = stub.counters.as_dict()
    assert (counted["keys_read"], counted["unprocessed_keys"], counted["read_units"]) == (5, 5, 2.5)


@pytest.mark.parametrize(
    ("request_items", "message"),
    [
        ({"t": {"Keys": [_key(str(n)) for n in range(101)]}}, "Too many items requested for the BatchGetItem call"),
        ({"t": {"Keys": [_key("a"), _key("a")]}}, "Provided list of item keys contains duplicates"),
        ({"t": {"Keys": [{"id": {"S": "a"}}]}}, "The provided key element does not match the schema"),
        (
            {
                "t": {
                    "Keys": [_key("a")],
                    "ProjectionExpression": "#a",
                    "ExpressionAttributeNames": {"#a": "x", "#b": "y"},
                }
            },
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}",
        ),
        (
            {"t": {"Keys": [_key("a")], "ProjectionExpression": "#a, #c", "ExpressionAttributeNames": {"#a": "x"}}},
            "An expression attribute name used in the document path is not defined; attribute name: #c",
        ),
        ({"t": {"Keys": [_key("a")], "ProjectionExpression": "a.b"}}, "the stub does not read '.'"),
    ],
    ids=["101 keys", "a key twice", "not the key", "an unused name", "an undefined name", "a nested path"],
)
def test_a_batch_get_dynamodb_would_refuse_is_refused(client: Any, request_items: Any, message: str) -> None:
    """The requests DynamoDB refuses get its ValidationException and its words (the stub's for what it cannot read)."""
    with pytest.raises(ClientError) as refused:
        client.batch_get_item(RequestItems=request_items)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"UpdateExpression": "SET #a = :a", "ExpressionAttributeNames": {"#a": "customer_id"}}, "part of the key"),
        ({"UpdateExpression": "SET #a = :a, #b = :a", "ExpressionAttributeNames": {"#a": "x", "#b": "x"}}, "overlap"),
        ({"UpdateExpression": "ADD #a :a", "ExpressionAttributeNames": {"#a": "x"}}, "does not apply ADD"),
        ({"UpdateExpression": "SET #a = :a", "ExpressionAttributeNames": {"#a": "x", "#z": "z"}}, "unused"),
        (
            {
                "UpdateExpression": "SET #a = :a",
                "ExpressionAttributeNames": {"#a": "x"},
                "ConditionExpression": "size(#a) > :a",
            },
            "does not evaluate size()",
        ),
    ],
    ids=["the key", "one attribute twice", "ADD", "an unused name", "a function it does not evaluate"],
)
def test_an_update_dynamodb_would_refuse_is_refused(client: Any, stub: StubServer, update: Any, message: str) -> None:
    """An update of the key, of one attribute twice, or with an unused placeholder is refused as DynamoDB refuses it;
    what the stub does not evaluate is refused too, never half applied; nothing is written."""
    with pytest.raises(ClientError) as refused:
        client.update_item(TableName="t", Key=_key("a"), ExpressionAttributeValues={":a": {"S": "v"}}, **update)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]
    assert stub.counters.items == {}


def test_an_item_over_400_kb_is_refused(client: Any, stub: StubServer) -> None:
    """A put of an item over DynamoDB's 400 KB (409,600 bytes) is refused; one of exactly 400 KB is written."""
    text = "x" * (409_600 - len("customer_id") - 1 - len("text"))
    client.put_item(TableName="t", Item={**_key("a"), "text": {"S": text}})
    with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        client.put_item(TableName="t", Item={**_key("b"), "text": {"S": text + "x"}})
    assert set(stub.counters.items) == {"a"}


def test_a_request_the_stub_cannot_read_is_refused_not_stored(client: Any, stub: StubServer) -> None:
    """A value of a type the engine never writes (a string set) is refused with a ValidationException that says so,
    and the stub goes on answering."""
    with pytest.raises(ClientError, match="the stub cannot read this PutItem request"):
        client.put_item(TableName="t", Item={**_key("a"), "tags": {"SS": ["x", "y"]}})
    client.put_item(TableName="t", Item=_key("b"))
    assert stub.counters.items == {"b": {}}


def test_a_delete_can_return_the_item_it_deleted(client: Any) -> None:
    """`ReturnValues: ALL_OLD` answers the item as it was (nothing for a key with no item); the values the stub does
    not return are refused."""
    client.put_item(TableName="t", Item={**_key("a"), "name": {"S": "Ada"}})
    deleted = client.delete_item(TableName="t", Key=_key("a"), ReturnValues="ALL_OLD")
    assert deleted["Attributes"] == {**_key("a"), "name": {"S": "Ada"}}
    assert "Attributes" not in client.delete_item(TableName="t", Key=_key("a"), ReturnValues="ALL_OLD")
    with pytest.raises(ClientError, match="only NONE and ALL_OLD"):
        client.update_item(TableName="t", Key=_key("a"), ReturnValues="ALL_NEW")
