"""Fixtures for the tests that run the stack's state machine in moto: its interpreter on, the Lambda tasks run in
process, and the flow on the account's table with the trigger sending every file to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from csv_ingest.local.lambdas import InProcessLambda, lambda_in_process
from csv_ingest.local.state_machine import MOTO_CONFIG
from tests.support import Aws
from tests.support.large_files import create_flow


@pytest.fixture(scope="module")
def moto_mock() -> Iterator[None]:
    """moto with its state machine interpreter on (the default only records executions)."""
    with mock_aws(config=MOTO_CONFIG):
        yield


@pytest.fixture
def lambdas(aws: Aws) -> Iterator[InProcessLambda]:
    with lambda_in_process() as running:
        yield running


@pytest.fixture
def flow(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    """The flow on the account's table, partitions of ~2 KB (a file of a few KB makes several), and the trigger
    sending every file to it."""
    arn = create_flow(aws, partition_bytes=2048)
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("LARGE_FILE_BYTES", "0")
    return arn
