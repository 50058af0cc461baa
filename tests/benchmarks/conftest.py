"""The stub DynamoDB endpoint in a thread, and a client of it that does not retry (a test sees every answer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from stub_dynamodb import StubServer

from tests.support.writing import CREDENTIALS


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer(latency_s=0.0).start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(stub: StubServer) -> Any:
    return boto3.client(
        "dynamodb", endpoint_url=stub.url, config=Config(retries={"total_max_attempts": 1}), **CREDENTIALS
    )
