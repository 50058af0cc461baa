"""A table keyed differently from the file: the file fails once, saying what the rows are written with."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.cli.runner import SAMPLES, run
from tests.support import Endpoint, create_table


@pytest.fixture
def mismatched_table(endpoint: Endpoint, request: pytest.FixtureRequest) -> Iterator[str]:
    """A table whose key is not the string `customer_id` the rows are written with (the schema from the param)."""
    key_schema, definitions = request.param
    name = f"mismatched-{uuid.uuid4().hex[:8]}"
    create_table(endpoint.dynamodb, name, "customer_id", key_schema=key_schema, definitions=definitions)
    yield name
    endpoint.dynamodb.delete_table(TableName=name)


NUMBER_KEY = (
    [{"AttributeName": "customer_id", "KeyType": "HASH"}],
    [{"AttributeName": "customer_id", "AttributeType": "N"}],
)
SORT_KEY = (
    [{"AttributeName": "customer_id", "KeyType": "HASH"}, {"AttributeName": "order_id", "KeyType": "RANGE"}],
    [{"AttributeName": "customer_id", "AttributeType": "S"}, {"AttributeName": "order_id", "AttributeType": "S"}],
)


def _load_fails_once_naming_the_key_schema(endpoint: Endpoint, table: str) -> None:
    result = run("load", SAMPLES / "sample-good.csv", "--table", table, "--json")
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "a string (S) partition key named 'customer_id', and no sort key" in message
    assert f"describe-table --table-name {table}" in message
    assert '"rows_rejected": 0' in message
    assert endpoint.dynamodb.scan(TableName=table)["Count"] == 0


@pytest.mark.parametrize("mismatched_table", [NUMBER_KEY], indirect=True)
def test_a_number_keyed_table_fails_the_file_once_naming_the_key_schema(
    endpoint: Endpoint, mismatched_table: str
) -> None:
    """Not a rejection per row (a report as big as the file): one failure, naming the key the rows are written with."""
    _load_fails_once_naming_the_key_schema(endpoint, mismatched_table)


@pytest.mark.skip_backend("moto", reason="moto refuses a missing sort key with a bare 'Validation Exception'")
@pytest.mark.parametrize("mismatched_table", [SORT_KEY], indirect=True)
def test_a_table_with_a_sort_key_fails_the_file_once_naming_the_key_schema(
    endpoint: Endpoint, mismatched_table: str
) -> None:
    """DynamoDB says the key does not match the schema: one failure for the file (skipped on moto, which does not)."""
    _load_fails_once_naming_the_key_schema(endpoint, mismatched_table)
