"""The writer's answers to DynamoDB's refusals, with botocore's Stubber standing in for the service."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from ingest_engine.errors import WriteFailed
from ingest_engine.rules import Rejection, Write
from ingest_engine.writing import TableWriter

UPDATE = Write(
    7,
    "1",
    "update_item",
    {
        "TableName": "t",
        "Key": {"customer_id": {"S": "1"}},
        "UpdateExpression": "SET #1=:1",
        "ExpressionAttributeNames": {"#1": "name"},
        "ExpressionAttributeValues": {":1": {"S": "Ann"}},
    },
)


@pytest.fixture
def stubbed() -> Iterator[tuple[TableWriter, Stubber]]:
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield TableWriter(client), stubber
        stubber.assert_no_pending_responses()


def test_validation_error_rejects_the_row(stubbed: tuple[TableWriter, Stubber]):
    """DynamoDB refusing the item (e.g. merged item over 400 KB) rejects that row with DynamoDB's words."""
    writer, stubber = stubbed
    stubber.add_client_error(
        "update_item", "ValidationException", "Item size to update has exceeded the maximum allowed size"
    )
    outcome = writer.write(UPDATE, ["1", "Ann"])
    assert isinstance(outcome, Rejection)
    assert outcome.line == 7
    assert "Item size to update has exceeded" in outcome.reason


def test_access_denied_fails_the_file(stubbed: tuple[TableWriter, Stubber]):
    """A refusal that is not about the row (permissions) stops the file: every later row would fail too."""
    writer, stubber = stubbed
    stubber.add_client_error("update_item", "AccessDeniedException", "not authorized", http_status_code=400)
    with pytest.raises(WriteFailed, match=r"line 7: .*AccessDeniedException"):
        writer.write(UPDATE, ["1", "Ann"])


def test_existing_item_for_a_key_only_row_is_not_an_error(stubbed: tuple[TableWriter, Stubber]):
    """The guarded put of a bare key fails its condition when the item exists; that is success."""
    writer, stubber = stubbed
    stubber.add_client_error("put_item", "ConditionalCheckFailedException", "exists")
    put = Write(3, "1", "put_item", {"TableName": "t", "Item": {"customer_id": {"S": "1"}}})
    assert writer.write(put, ["1"]) is None
