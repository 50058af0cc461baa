"""Which DynamoDB the demo's table is on: where AWS_ENDPOINT_URL_DYNAMODB points, else a dynalite started for the
demo when node and node_modules/dynalite are there, else moto in this process; and the line that says which."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from csv_ingest.local import dynalite

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_DYNAMODB"


@dataclass(frozen=True, slots=True)
class DemoDynamoDB:
    """The DynamoDB endpoint the demo's requests go to (None: moto's, in this process) and what the demo says of it."""

    url: str | None
    said: str


@contextlib.contextmanager
def demo_dynamodb() -> Iterator[DemoDynamoDB]:
    """While the block runs, the demo's DynamoDB. dynalite writes a row of 4,000 columns in milliseconds where
    moto's in-process DynamoDB takes seconds, so the demo prefers it; without node (an installed wheel has no
    node_modules) moto still runs every file, more slowly when it is wide."""
    pointed = os.environ.get(ENDPOINT_VARIABLE)
    if pointed:
        yield DemoDynamoDB(pointed, f"DynamoDB: {pointed} (from {ENDPOINT_VARIABLE}).")
        return
    missing = dynalite.missing()
    server = None
    if missing is None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            server = dynalite.Dynalite.start()
        # The demo still runs on moto: dynalite only makes it faster.
        except (RuntimeError, OSError, BotoCoreError, ClientError) as exc:
            missing = f"did not start: {exc}"
    if server is None:
        yield DemoDynamoDB(None, f"DynamoDB: moto (in this process; dynalite, faster on wide files, {missing}).")
        return
    try:
        yield DemoDynamoDB(server.url, "DynamoDB: dynalite (local, started for this demo).")
    finally:
        server.stop()
