"""Fixtures for the command line's tests: a moto server started by the test, on 127.0.0.1 and a free port."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer
from moto_endpoint import BUCKET, TABLE, Endpoint


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """A moto server started by the test on 127.0.0.1, a free port, stopped after the module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    """A fresh table and bucket on the server, and credentials the CLI's default chain finds."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server)
    s3 = boto3.client("s3", endpoint_url=moto_server)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "customer_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    s3.create_bucket(Bucket=BUCKET)
    yield Endpoint(moto_server, dynamodb, s3)
    dynamodb.delete_table(TableName=TABLE)
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    s3.delete_bucket(Bucket=BUCKET)
