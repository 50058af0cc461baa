"""The DynamoDB a test runs against: moto, or dynalite, a second and independent implementation (npm, on node).

moto and dynalite each differ from DynamoDB somewhere (moto: item size, partial items behind refused updates, long
update expressions, no 16 MB request limit; dynalite: string sizes in UTF-16 units), so a test that passes on both
codes to DynamoDB's documented behaviour rather than to one emulator's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final, Literal

# The server is the demo's own (it puts its table there when dynalite is installed).
from csv_ingest.local.dynalite import Dynalite as Dynalite
from csv_ingest_engine.constants import BOOKKEEPING_PREFIX

BackendName = Literal["moto", "dynalite"]
DYNAMODB_BACKENDS: Final[tuple[BackendName, ...]] = ("moto", "dynalite")

TABLE_ACTIVE_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class DynamoDBBackend:
    """Which DynamoDB a test's requests reach; `url` is dynalite's, None for moto (wherever the test's S3 is)."""

    name: BackendName
    url: str | None


def create_table(
    client: Any,
    table: str,
    key_column: str,
    *,
    key_schema: list[dict[str, str]] | None = None,
    definitions: list[dict[str, str]] | None = None,
) -> None:
    """Create a table (by default the stack's kind: string hash key) on demand, and wait until it is ACTIVE.

    DynamoDB (and dynalite) create a table CREATING, and refuse writes to it until then; moto's is ACTIVE at once.
    """
    client.create_table(
        TableName=table,
        KeySchema=key_schema or [{"AttributeName": key_column, "KeyType": "HASH"}],
        AttributeDefinitions=definitions or [{"AttributeName": key_column, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    deadline = time.monotonic() + TABLE_ACTIVE_TIMEOUT_S
    while client.describe_table(TableName=table)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table} was not ACTIVE within {TABLE_ACTIVE_TIMEOUT_S:.0f} s")
        time.sleep(0.01)


def table_items(client: Any, table: str, key_column: str, *, bookkeeping: bool = False) -> dict[str, dict[str, str]]:
    """The table's contents: key -> {attribute: string value}, key included; the pipeline's own attributes (named
    `_csv_ingest...`, such as the upload order stamp) left out, as `--export` leaves them, unless `bookkeeping`."""
    items: dict[str, dict[str, str]] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            plain = {
                name: value["S"]
                for name, value in item.items()
                if bookkeeping or not name.startswith(BOOKKEEPING_PREFIX)
            }
            items[plain[key_column]] = plain
    return items
