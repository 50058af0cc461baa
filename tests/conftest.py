"""Settings every test shares, made before any test module imports the function; the DynamoDB backends."""

import os
from collections.abc import Iterator

import pytest

from csv_ingest_engine.constants import METRICS_NAMESPACE, SERVICE_NAME
from tests.support import DYNAMODB_BACKENDS, Dynalite, DynamoDBBackend

# What the stack sets for Powertools: the function has no fallback of its own (Metrics cannot flush without a
# namespace), so the tests set them as the deployed function has them.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", SERVICE_NAME)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "skip_backend(name, reason): skip the test on that DynamoDB backend, which differs from DynamoDB there",
    )


@pytest.fixture(scope="session")
def dynalite() -> Iterator[Dynalite]:
    """One dynalite server for the session (tables are per test).

    No node or no `node_modules/dynalite` is an error, not a skip: CI has both, and a skip would hide the backend.
    """
    server = Dynalite.start()
    yield server
    server.stop()


@pytest.fixture(params=DYNAMODB_BACKENDS)
def dynamodb_backend(request: pytest.FixtureRequest) -> DynamoDBBackend:
    """Each test that uses DynamoDB runs on moto and on dynalite, unless marked `skip_backend` for one of them."""
    name = request.param
    for mark in request.node.iter_markers("skip_backend"):
        if mark.args[0] == name:
            pytest.skip(f"on {name}: {mark.kwargs['reason']}")
    if name == "dynalite":
        return DynamoDBBackend(name, request.getfixturevalue("dynalite").url)
    return DynamoDBBackend(name, None)
