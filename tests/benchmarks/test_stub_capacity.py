"""The capacity units the stub DynamoDB endpoint counts, by the developer guide's rules ("Capacity unit consumption
for reads / for writes"), and what they cost on demand."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from stub_capacity import (
    DOLLARS_PER_MILLION_READ_UNITS,
    DOLLARS_PER_MILLION_WRITE_UNITS,
    item_size,
    on_demand_dollars,
)
from stub_dynamodb import StubServer

from csv_ingest_engine.rules import Row
from tests.support.stub_items import item_of_size
from tests.support.writing import NEWER


def _get(client: Any, keys: list[str], *, consistent: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = client.batch_get_item(
        RequestItems={"t": {"Keys": [{"customer_id": {"S": key}} for key in keys], "ConsistentRead": consistent}}
    )
    return response


@pytest.mark.parametrize(("size", "units"), [(16, 1), (1024, 1), (1025, 2), (2048, 2), (2049, 3)])
def test_a_put_takes_a_write_unit_per_started_kb(client: Any, stub: StubServer, size: int, units: int) -> None:
    """A 1 KB item is one write unit, a 1 KB + 1 byte item two."""
    client.put_item(TableName="t", Item=item_of_size("k", size))
    assert stub.counters.as_dict()["write_units"] == units


def test_a_size_counts_names_and_utf8_bytes() -> None:
    """An item's size is its attribute names' UTF-8 bytes plus its values' (a number by its digits)."""
    item = {"customer_id": {"S": "é"}, "n": {"N": "12345"}, "ok": {"BOOL": True}, "b": {"B": "AAEC"}}
    assert item_size(item) == (11 + 2) + (1 + 4) + (2 + 1) + (1 + 3)


@pytest.mark.parametrize(
    ("size", "consistent", "units"),
    [(4096, False, 0.5), (4096, True, 1.0), (4097, False, 1.0), (4097, True, 2.0), (100, False, 0.5)],
)
def test_a_read_takes_a_unit_per_started_4_kb_half_of_it_eventually_consistent(
    client: Any, stub: StubServer, size: int, consistent: bool, units: float
) -> None:
    """An eventually consistent read of a 4 KB item is half a read unit, a strongly consistent one a whole unit."""
    # given
    client.put_item(TableName="t", Item=item_of_size("k", size))
    # when
    response = _get(client, ["k"], consistent=consistent)
    # then
    assert len(response["Responses"]["t"]) == 1
    assert stub.counters.as_dict()["read_units"] == units


def test_a_batch_get_counts_each_item_rounded_up_alone(client: Any, stub: StubServer) -> None:
    """The guide's example: a 1.5 KB and a 6.5 KB item read in one BatchGetItem are 4 KB + 8 KB, 3 units (strongly
    consistent), not 8 KB."""
    client.put_item(TableName="t", Item=item_of_size("a", 1536))
    client.put_item(TableName="t", Item=item_of_size("b", 6656))
    _get(client, ["a", "b"], consistent=True)
    assert stub.counters.as_dict()["read_units"] == 3


@pytest.mark.parametrize(("consistent", "units"), [(False, 1.5), (True, 3.0)])
def test_reading_keys_with_no_item_costs_the_smallest_read_each(
    client: Any, stub: StubServer, consistent: bool, units: float
) -> None:
    """ "If you perform a read operation on an item that does not exist, DynamoDB still consumes provisioned read
    throughput": 0.5 unit per key eventually consistent, 1 strongly consistent; nothing comes back."""
    response = _get(client, ["x", "y", "z"], consistent=consistent)
    assert response["Responses"]["t"] == []
    counted = stub.counters.as_dict()
    assert (counted["read_units"], counted["keys_read"], counted["read_requests"]) == (units, 3, 1)


def test_a_projection_does_not_make_a_read_cheaper(client: Any, stub: StubServer) -> None:
    """ "You can request a subset of attributes ... doing so has no impact on the item size calculations.\""""
    client.put_item(TableName="t", Item=item_of_size("k", 9000, small="s"))
    client.batch_get_item(
        RequestItems={"t": {"Keys": [{"customer_id": {"S": "k"}}], "ProjectionExpression": "customer_id, small"}}
    )
    assert stub.counters.as_dict()["read_units"] == 1.5  # 9,000 bytes: 12 KB, 3 units, halved


def test_an_update_takes_the_units_of_the_larger_of_before_and_after(client: Any, stub: StubServer) -> None:
    """An update that shrinks a 3 KB item to a few bytes still takes 3 units; one that grows it takes the after's."""
    client.put_item(TableName="t", Item=item_of_size("k", 3000))
    key = {"customer_id": {"S": "k"}}
    client.update_item(TableName="t", Key=key, UpdateExpression="REMOVE #t", ExpressionAttributeNames={"#t": "text"})
    assert stub.counters.as_dict()["write_units"] == 3 + 3
    client.update_item(
        TableName="t",
        Key=key,
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "text"},
        ExpressionAttributeValues={":t": {"S": "x" * 5000}},
    )
    assert stub.counters.as_dict()["write_units"] == 3 + 3 + 5


def test_a_refused_conditional_write_is_still_charged(client: Any, stub: StubServer) -> None:
    """A write whose condition fails changes nothing and takes the units of the item it would have written; on a
    key with no item, one unit."""
    # given: an item of 1.5 KB stamped by a newer upload
    newer = item_of_size("k", 1536, **{NEWER.attribute: NEWER.stamp})
    client.put_item(TableName="t", Item=newer)
    older = "2026-12-01T09:00:00.000000Z 000000000000000000000001"
    # when: an older upload's stamped update, then a put conditional on an item that is not there
    with pytest.raises(ClientError, match="ConditionalCheckFailedException"):
        client.update_item(
            TableName="t",
            Key={"customer_id": {"S": "k"}},
            UpdateExpression="SET #0=:0,#o=:o",
            ConditionExpression="attribute_not_exists(#o) OR #o <= :o",
            ExpressionAttributeNames={"#0": "text", "#o": NEWER.attribute},
            ExpressionAttributeValues={":0": {"S": "y" * 100}, ":o": {"S": older}},
        )
    with pytest.raises(ClientError, match="ConditionalCheckFailedException"):
        client.put_item(TableName="t", Item={"customer_id": {"S": "absent"}}, ConditionExpression="attribute_exists(x)")
    # then
    counted = stub.counters.as_dict()
    assert counted["conditional_failures"] == 2
    assert counted["write_units"] == 2 + 1 + 1  # the put; the refused update (~0.2 KB); the refused put, no item


def test_a_delete_takes_the_units_of_the_item_it_deletes(client: Any, stub: StubServer) -> None:
    """Deleting a 2.5 KB item takes 3 units, deleting a key with no item one."""
    client.put_item(TableName="t", Item=item_of_size("k", 2560))
    client.delete_item(TableName="t", Key={"customer_id": {"S": "k"}})
    client.delete_item(TableName="t", Key={"customer_id": {"S": "k"}})
    assert stub.counters.as_dict()["write_units"] == 3 + 3 + 1


def test_a_batch_write_counts_each_item_rounded_up_alone(client: Any, stub: StubServer) -> None:
    """The guide's example: a 500-byte and a 3.5 KB item in one BatchWriteItem are 1 KB + 4 KB, 5 units."""
    client.batch_write_item(
        RequestItems={
            "t": [{"PutRequest": {"Item": item_of_size(key, size)}} for key, size in (("a", 500), ("b", 3584))]
        }
    )
    counted = stub.counters.as_dict()
    assert (counted["write_units"], counted["write_requests"], counted["rows"]) == (5, 1, 2)


def test_the_engines_merge_update_of_a_typical_row_is_one_write_unit(client: Any, stub: StubServer) -> None:
    """The benchmark's row (a key and nine 12-character columns, stamped) is one unit: a million rows, $0.625."""
    from csv_ingest_engine.requests import request_for

    row = Row(2, "c1", {"customer_id": {"S": "c1"}}, {f"col{i}": {"S": "x" * 12} for i in range(1, 10)}, [])
    _, request = request_for(row, table_name="t", mode="merge", ordering=NEWER)
    client.update_item(**request)
    assert stub.counters.as_dict()["write_units"] == 1


def test_dollars_are_units_at_the_on_demand_prices(client: Any, stub: StubServer) -> None:
    """A million write units cost $0.625 and a million read units $0.125 (us-east-1); the counters say what theirs
    cost."""
    assert (DOLLARS_PER_MILLION_WRITE_UNITS, DOLLARS_PER_MILLION_READ_UNITS) == (0.625, 0.125)
    assert on_demand_dollars(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert on_demand_dollars(50_000, 1_000) == pytest.approx(0.00625 + 0.000625)
    client.put_item(TableName="t", Item=item_of_size("k", 2048))  # 2 write units
    _get(client, ["k", "x", "y"])  # 3 x 0.5 read units
    assert stub.counters.as_dict()["dollars"] == pytest.approx((2 * 0.625 + 1.5 * 0.125) / 1_000_000)
