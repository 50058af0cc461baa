"""Fixtures for the function's tests: moto's in-process AWS with the stack's bucket and table."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws
from moto_account import KEY_COLUMN, REJECTS_BUCKET, TABLE, Aws, EventFactory, FakeLambdaContext

from csv_ingest_engine import function


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def s3_event() -> EventFactory:
    return EventFactory()


@pytest.fixture
def tmp_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory the handler downloads into, so a test can check it is left empty."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(downloads))
    return downloads


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_downloads: Path) -> Iterator[Aws]:
    """A fresh moto account with the stack's resources, and the function's environment."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": TABLE,
        "KEY_COLUMN": KEY_COLUMN,
        "REJECTS_BUCKET": REJECTS_BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        # The handler keeps one client per process; start each test with clients made inside this mock.
        function.s3_client.cache_clear()
        function.dynamodb_client.cache_clear()
        account = Aws()
        account.create_resources()
        yield account
    function.s3_client.cache_clear()
    function.dynamodb_client.cache_clear()


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
