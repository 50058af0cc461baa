"""Fixtures for the command line's tests: S3 on a moto server started by the test (127.0.0.1, a free port), and
DynamoDB on that server or on dynalite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import DynamoDBBackend, Endpoint, MotoServer


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 and a free port, stopped after the module."""
    server = MotoServer()
    yield server.url
    server.stop()


@pytest.fixture
def endpoint(
    moto_server: str, dynamodb_backend: DynamoDBBackend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Endpoint]:
    """A fresh table and bucket, and an environment whose default chain finds credentials and both endpoints.

    The endpoints go in AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB rather than `--endpoint-url`, which sends
    both services to one place: with dynalite, S3 stays on the moto server.
    """
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": moto_server,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_backend.url or moto_server,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    resources = Endpoint(s3_url=moto_server, dynamodb_url=dynamodb_backend.url or moto_server)
    resources.create_resources()
    yield resources
    resources.delete_resources()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Credentials and a region, and no profile or endpoint from the machine: for this process and its children."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)
