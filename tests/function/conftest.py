"""Fixtures for the function's tests: S3 in moto (in-process) and the table on each DynamoDB backend."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from csv_ingest_engine import clients
from csv_ingest_engine import telemetry as function
from tests.support import KEY_COLUMN, REJECTS_BUCKET, Aws, DemoContext, DynamoDBBackend, reset_moto


@pytest.fixture
def lambda_context() -> DemoContext:
    return DemoContext(function_name="csv-ingest-test")


@pytest.fixture
def tmp_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory the handler downloads into, so a test can check it is left empty."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(downloads))
    return downloads


@pytest.fixture(scope="module")
def moto_mock() -> Iterator[None]:
    """moto's in-process mock, started once per module: starting it costs ~0.4 s, resetting it next to nothing."""
    with mock_aws():
        yield


@pytest.fixture
def aws(
    moto_mock: None, dynamodb_backend: DynamoDBBackend, monkeypatch: pytest.MonkeyPatch, tmp_downloads: Path
) -> Iterator[Aws]:
    """A fresh moto account with the stack's buckets, a fresh table on the backend, and the function's environment."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "KEY_COLUMN": KEY_COLUMN,
        "REJECTS_BUCKET": REJECTS_BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    if dynamodb_backend.url:
        # Every client made from here on, the handler's too, sends DynamoDB's requests there; moto's mock only
        # answers requests to AWS's own hostnames, so S3 stays in moto.
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_backend.url)
    reset_moto()
    # The handler keeps one client per process; start each test with clients made for this environment.
    _clear_clients()
    account = Aws()
    account.create_resources()
    monkeypatch.setenv("TABLE_NAME", account.table)
    yield account
    account.delete_table()
    _clear_clients()


def _clear_clients() -> None:
    for client in clients.CLIENTS:
        client.cache_clear()


@pytest.fixture
def stdout(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """The function's stdout (JSON logs and EMF metrics), as CloudWatch Logs would receive it."""
    # Powertools' handler holds the stdout of import time (pytest's, closed by now), and pytest swaps sys.stdout
    # between test phases: write through to whatever sys.stdout is. Plain assignment, as setStream() would flush
    # the closed stream first.
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(function.logger.registered_handler, "stream", _CurrentStdout())
    yield capsys
    monkeypatch.undo()


class _CurrentStdout:
    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()
