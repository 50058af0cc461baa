"""`changed` mode's reads where one exact answer matters (botocore's Stubber in DynamoDB's place): keys handed back
unprocessed, throttling, retries running out, refusals; and the requests it builds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from csv_ingest_engine.errors import WriteFailed
from csv_ingest_engine.requests import MAX_EXPRESSION_BYTES, read_request, write_actions
from csv_ingest_engine.rules import Rejection, Row
from csv_ingest_engine.worker_state import WriteTotals
from tests.support.writing import CREDENTIALS, NEWER, row, table_writer

# Throttling resent within milliseconds, and given up after a tenth of a second without progress: tests stay fast.
PATIENCE_S = 0.1
ROWS = [row(2, "1", name="Ann"), row(3, "2", name="Bob")]


def stored(key: str, name: str) -> dict[str, Any]:
    """An item as BatchGetItem returns it, stamped by the upload the rows belong to."""
    return {"customer_id": {"S": key}, "name": {"S": name}, NEWER.attribute: {"S": NEWER.stamp}}


def keys(*names: str) -> list[dict[str, Any]]:
    return [{"customer_id": {"S": name}} for name in names]


def read_of(*names: str) -> dict[str, Any]:
    """The expected request of a read of `names`, whatever its projection."""
    return {"Keys": keys(*names), "ConsistentRead": False, "ProjectionExpression": ANY, "ExpressionAttributeNames": ANY}


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("dynamodb", **CREDENTIALS)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def write_all(client: Any, rows: list[Row], **settings: Any) -> tuple[WriteTotals, list[Rejection]]:
    """`rows` through a `changed` session with one worker (so one read for them all), stamped NEWER."""
    rejections: list[Rejection] = []
    writer = table_writer(client, mode="changed", ordering=NEWER, concurrency=1, **settings)
    session = writer.session(rejections.append)
    for each in rows:
        session.submit(each)
    return session.close(), rejections


def test_unprocessed_keys_are_read_again(stubbed: tuple[Any, Stubber]) -> None:
    """DynamoDB answers part of a read and hands the rest back: only those keys go out again, and every row is
    compared with its own item."""
    client, stubber = stubbed
    stubber.add_response(
        "batch_get_item",
        {"Responses": {"t": [stored("1", "Ann")]}, "UnprocessedKeys": {"t": {"Keys": keys("2")}}},
    )
    stubber.add_response(
        "batch_get_item", {"Responses": {"t": [stored("2", "Robert")]}}, {"RequestItems": {"t": read_of("2")}}
    )
    stubber.add_response("update_item", {})
    totals, rejections = write_all(client, ROWS)
    assert (totals.written, totals.unchanged, totals.failed, rejections) == (1, 1, 0, [])


def test_a_throttled_read_is_sent_again(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error("batch_get_item", "ProvisionedThroughputExceededException", "slow down")
    stubber.add_response("batch_get_item", {"Responses": {"t": [stored("1", "Ann"), stored("2", "Bob")]}})
    totals, rejections = write_all(client, ROWS)
    assert (totals.written, totals.unchanged, totals.failed, rejections) == (0, 2, 0, [])


def test_a_read_throttled_for_the_patience_fails_its_rows() -> None:
    """As a write does: the rows are counted and reported as failed, never lost."""

    class Throttling:
        meta = boto3.client("dynamodb", **CREDENTIALS).meta

        def batch_get_item(self, **params: Any) -> dict[str, Any]:
            return {"Responses": {"t": []}, "UnprocessedKeys": {"t": params["RequestItems"]["t"]}}

    totals, rejections = write_all(Throttling(), ROWS, patience_s=PATIENCE_S)
    assert (totals.written, totals.unchanged, totals.failed) == (0, 0, 2)
    assert [(r.line, r.failed) for r in rejections] == [(2, True), (3, True)]
    assert "retries exhausted (unprocessed keys)" in rejections[0].reason


def test_a_read_refused_for_its_rows_writes_them_as_merge_does(stubbed: tuple[Any, Stubber]) -> None:
    """A refusal about the rows (a ValidationException): each row is written on its own, and gets its own answer."""
    client, stubber = stubbed
    stubber.add_client_error("batch_get_item", "ValidationException", "something about these keys")
    stubber.add_response("update_item", {})
    stubber.add_client_error("update_item", "ValidationException", "Item size has exceeded the maximum allowed size")
    totals, rejections = write_all(client, ROWS)
    assert (totals.written, totals.unchanged, totals.rejected) == (1, 0, 1)
    assert [r.line for r in rejections] == [3]


def test_a_read_refused_for_the_table_fails_the_file(stubbed: tuple[Any, Stubber]) -> None:
    """AccessDenied (no dynamodb:BatchGetItem, say): every read would get it."""
    client, stubber = stubbed
    stubber.add_client_error("batch_get_item", "AccessDeniedException", "not authorized to perform BatchGetItem")
    with pytest.raises(WriteFailed, match=r"line 2: .*AccessDeniedException"):
        write_all(client, ROWS)


def test_a_write_superseded_after_the_read_supersedes_the_keys_later_rows(stubbed: tuple[Any, Stubber]) -> None:
    """A newer upload wrote the item between the read and the write: the condition refuses it, and the key's next
    row, which would have been compared with the item as read, is superseded unwritten."""
    client, stubber = stubbed
    stubber.add_response("batch_get_item", {"Responses": {"t": [stored("1", "Ann")]}})
    stubber.add_client_error("update_item", "ConditionalCheckFailedException", "newer")
    totals, rejections = write_all(client, [row(2, "1", name="Bob"), row(3, "1", name="Cy")])
    assert (totals.written, totals.unchanged, totals.superseded, rejections) == (0, 0, 2, [])


# -- the requests ---------------------------------------------------------------------------------------------


def test_a_read_projects_the_keys_the_columns_and_the_stamp() -> None:
    """Every name goes through a placeholder (reserved words, dots and spaces are safe)."""
    request = read_request(ROWS, {"name": None, "a.b c": None}, ordering=NEWER, consistent=True)
    assert request == {
        "Keys": keys("1", "2"),
        "ConsistentRead": True,
        "ProjectionExpression": "#0,#1,#2,#3",
        "ExpressionAttributeNames": {"#0": "customer_id", "#1": "name", "#2": "a.b c", "#3": NEWER.attribute},
    }


def test_a_projection_too_long_for_an_expression_reads_the_items_whole() -> None:
    """A file of hundreds of columns: the projection would pass DynamoDB's 4 KB expression limit, so it is left out
    (and the items read whole) rather than refused."""
    fits = MAX_EXPRESSION_BYTES // 5  # "#nnn," is at most 5 characters
    short = read_request(ROWS, dict.fromkeys(f"c{i}" for i in range(fits)), ordering=None, consistent=False)
    assert len(short["ProjectionExpression"]) <= MAX_EXPRESSION_BYTES
    long = read_request(ROWS, dict.fromkeys(f"c{i}" for i in range(1000)), ordering=None, consistent=False)
    assert long == {"Keys": keys("1", "2"), "ConsistentRead": False}


@pytest.mark.parametrize(
    ("ordered", "actions"),
    [
        (True, ("dynamodb:BatchGetItem", "dynamodb:UpdateItem")),
        (False, ("dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem")),
    ],
)
def test_changed_may_read_back_and_write_as_merge(ordered: bool, actions: tuple[str, ...]) -> None:
    assert write_actions("changed", ordered=ordered) == actions


def test_unprocessed_binary_keys_are_read_again_as_the_rows_keys() -> None:
    """The keys a read hands back come as DynamoDB's JSON (a binary key as base64 text): the rows' own keys are sent
    again, not those, which botocore would encode a second time into another key. Over HTTP (botocore's own parsing,
    which the Stubber skips), the second read finds the item, and the deleting row deletes it."""
    import base64
    import json

    from botocore.awsrequest import AWSResponse

    from csv_ingest_engine.rules import DeletingRow, identity_of

    binary = b"\x01\x02"
    held = {"k": {"B": base64.b64encode(binary).decode()}, "name": {"S": "Ann"}}
    calls: list[tuple[str, dict[str, Any]]] = []

    class Body:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.data

        def read(self, *_: Any) -> bytes:
            return self.data

    def answer(request: Any, **_: Any) -> AWSResponse:
        operation = request.headers["X-Amz-Target"].decode().rsplit(".", 1)[-1]
        sent = json.loads(request.body)
        calls.append((operation, sent))
        reply: dict[str, Any] = {}
        if operation == "BatchGetItem":
            asked = sent["RequestItems"]["t"]["Keys"]
            first = sum(op == "BatchGetItem" for op, _ in calls) == 1
            found = [held for key in asked if key == {"k": held["k"]}]
            reply = (
                {"Responses": {"t": []}, "UnprocessedKeys": {"t": {"Keys": asked}}}
                if first
                else {"Responses": {"t": found}}
            )
        headers = {"content-type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 200, headers, Body(json.dumps(reply).encode()))  # type: ignore[arg-type]

    client = boto3.client("dynamodb", **CREDENTIALS)
    client.meta.events.register("before-send.dynamodb.*", answer)  # type: ignore[arg-type]
    item_key = {"k": {"B": binary}}
    deleting = DeletingRow(2, identity_of(item_key, ("k",)), item_key, {}, ["AQI=", "true"], typed=True)
    totals, rejections = write_all(client, [deleting])
    assert (totals.deleted, totals.unchanged, rejections) == (1, 0, [])
    reads = [sent["RequestItems"]["t"]["Keys"] for op, sent in calls if op == "BatchGetItem"]
    assert reads == [[{"k": {"B": "AQI="}}], [{"k": {"B": "AQI="}}]]
    assert [op for op, _ in calls] == ["BatchGetItem", "BatchGetItem", "DeleteItem"]
