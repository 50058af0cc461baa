"""The account `csv-ingest demo` runs in: moto in this process (DynamoDB on dynalite when the demo started one), the
trigger's environment as the stack sets it, the buckets and table named and created as the stack's, and the table
exported as CSV (the file's columns; the pipeline's bookkeeping attributes when asked)."""

from __future__ import annotations

import base64
import contextlib
import csv
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

from csv_ingest.local.lambdas import InProcessLambda, lambda_in_process
from csv_ingest.local.state_machine import MOTO_CONFIG
from csv_ingest_engine import clients
from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.constants import (
    BOOKKEEPING_PREFIX,
    DEFAULT_ORDER_ATTRIBUTE,
    ENV_REJECTS_BUCKET,
    ENV_TABLE_NAME,
    HANDLER_TRIGGER,
    METRICS_NAMESPACE,
    SERVICE_NAME,
)
from csv_ingest_engine.schema import Schema
from csv_ingest_engine.values import canonical_number

if TYPE_CHECKING:  # the stubs are a development dependency
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import KeySchemaElementTypeDef
    from mypy_boto3_s3 import S3Client

UPLOAD_BUCKET = "csv-ingest-demo-uploads"
REJECTS_BUCKET = "csv-ingest-demo-rejects"
WORK_BUCKET = "csv-ingest-demo-work"
TABLE = "csv-ingest-demo-table"
# moto's state machine interpreter logs a warning per Map and a traceback per failed task; the demo says it better.
NOISY_LOGGERS = ("moto.stepfunctions", "moto.awslambda")
# How long the table may stay CREATING (dynalite's turns ACTIVE on its next tick; moto's is ACTIVE at once).
TABLE_ACTIVE_TIMEOUT_S = 10.0


@contextlib.contextmanager
def emulated_account(config: EngineConfig, *, dynamodb_url: str | None = None) -> Iterator[InProcessLambda]:
    """While the block runs: moto's account (its DynamoDB at `dynamodb_url` if given), with the trigger's
    environment as the stack derives it from `config`, and its Lambda functions run in this process by the
    `InProcessLambda` yielded."""
    from moto import mock_aws

    environment = {
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        ENV_TABLE_NAME: TABLE,
        ENV_REJECTS_BUCKET: REJECTS_BUCKET,
        **config.for_function(HANDLER_TRIGGER),
        # botocore sends DynamoDB there, and moto lets requests to an endpoint of its own pass.
        **({"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url} if dynamodb_url else {}),
        # What the stack sets for Powertools.
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        # The demo's tables say what the JSON logs and EMF metrics would; keep the terminal for them.
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    with (
        mock.patch.dict(os.environ, environment),
        mock_aws(config=MOTO_CONFIG),
        lambda_in_process() as lambdas,
        warnings.catch_warnings(),
    ):
        # Imported inside the emulator, as Lambda would import it inside the account.
        from csv_ingest_engine.telemetry import logger

        # Powertools warns when an invocation emits no metric, as the trigger does for a large file (Finish counts
        # it); the terminal is for the demo's own tables.
        warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
        # The functions' logger may be shared with other code in this process (tests): restore its level after.
        levels = _quiet(logger.name, *NOISY_LOGGERS)
        # The functions' clients are made once per process, each with the endpoint it was made for: this account's
        # are its own, and none outlives it (the next demo in this process may have another DynamoDB).
        _forget_clients()
        try:
            yield lambdas
        finally:
            _forget_clients()
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def _forget_clients() -> None:
    for made in clients.CLIENTS:
        made.cache_clear()


def _quiet(*names: str) -> dict[str, int]:
    """Silence these loggers; return their levels, to put back."""
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return levels


def create_resources(s3: S3Client, dynamodb: DynamoDBClient, schema: Schema) -> None:
    """The upload bucket (versioned, as the stack's), the rejects bucket and the table keyed as `schema` says (a
    partition key, and a sort key if it has one), once it is ACTIVE."""
    s3.create_bucket(Bucket=UPLOAD_BUCKET)
    s3.put_bucket_versioning(Bucket=UPLOAD_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=REJECTS_BUCKET)
    key_schema: list[KeySchemaElementTypeDef] = [{"AttributeName": schema.partition_key.name, "KeyType": "HASH"}]
    if schema.sort_key is not None:
        key_schema.append({"AttributeName": schema.sort_key.name, "KeyType": "RANGE"})

    def create() -> None:
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=key_schema,
            AttributeDefinitions=[{"AttributeName": key.name, "AttributeType": key.type} for key in schema.keys],
            BillingMode="PAY_PER_REQUEST",
        )

    try:
        create()
    except dynamodb.exceptions.ResourceInUseException:
        # An endpoint of the user's (AWS_ENDPOINT_URL_DYNAMODB) keeps the table of an earlier demo, for a look after
        # it ended: this demo starts from an empty one, keyed as this file's options say.
        dynamodb.delete_table(TableName=TABLE)
        dynamodb.get_waiter("table_not_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        create()
    # DynamoDB (and dynalite) create a table CREATING and refuse writes to it until it is ACTIVE.
    deadline = time.monotonic() + TABLE_ACTIVE_TIMEOUT_S
    while dynamodb.describe_table(TableName=TABLE)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {TABLE} was not ACTIVE within {TABLE_ACTIVE_TIMEOUT_S:.0f} s")
        time.sleep(0.01)


def is_bookkeeping(name: str, order_attribute: str | None = DEFAULT_ORDER_ATTRIBUTE) -> bool:
    """Whether attribute `name` is one the pipeline adds for its own bookkeeping (its names start with
    BOOKKEEPING_PREFIX; the upload order stamp's is configured, `order_attribute`, and may be named otherwise)."""
    return name.startswith(BOOKKEEPING_PREFIX) or name == order_attribute


def export_table(
    dynamodb: DynamoDBClient,
    table: str,
    keys: Sequence[str],
    path: Path,
    *,
    bookkeeping: bool = False,
    order_attribute: str | None = DEFAULT_ORDER_ATTRIBUTE,
) -> int:
    """Write `table` to `path` as CSV, sorted by key, for `diff`: the key columns first (`keys`: the partition key's,
    then the sort key's if any), then every attribute name seen, sorted; an empty cell where an item lacks the
    attribute. Values as `plain` writes them. Returns the number of items.

    The pipeline's bookkeeping attributes (`is_bookkeeping`) are left out unless `bookkeeping`: they hold when an
    item was written (the upload order stamp), which differs from run to run, and are not the file's columns.
    """
    items = table_items(dynamodb, table, keys, bookkeeping=bookkeeping, order_attribute=order_attribute)
    names = sorted({name for item in items for name in item} - set(keys))
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([*keys, *names])
        for item in items:
            writer.writerow([item.get(name, "") for name in (*keys, *names)])
    return len(items)


def table_items(
    dynamodb: DynamoDBClient,
    table: str,
    keys: Sequence[str],
    *,
    bookkeeping: bool = False,
    order_attribute: str | None = DEFAULT_ORDER_ATTRIBUTE,
) -> list[dict[str, str]]:
    """Every item of `table`, as `plain` text, in the table's key order (a number key by its value, whatever the
    emulator's scan order); the bookkeeping attributes only with `bookkeeping`."""

    def shown(name: str) -> bool:
        return bookkeeping or name in keys or not is_bookkeeping(name, order_attribute)

    scanned = [item for page in dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]]
    scanned.sort(key=lambda item: tuple(_sortable(item.get(name, {})) for name in keys))
    return [{name: plain(value) for name, value in item.items() if shown(name)} for item in scanned]


def _sortable(value: Mapping[str, Any]) -> tuple[str, Any]:
    """A key value as DynamoDB orders it: numbers by value, strings and binaries by their bytes."""
    if "N" in value:
        return "N", Decimal(value["N"])
    if "B" in value:
        return "B", bytes(value["B"])
    return "S", str(value.get("S", "")).encode()


def plain(value: Mapping[str, Any]) -> str:
    """A DynamoDB attribute value as text: a string as it is, a number in its one spelling (DynamoDB keeps a number's
    value, not its digits: `034` is `34`, as dynalite gives it back and moto does not), anything else (a boolean, a
    binary, a JSON column's map or list) as its JSON, e.g. `{"BOOL": true}`."""
    text = value.get("S")
    if isinstance(text, str):
        return text
    number = value.get("N")
    if isinstance(number, str):
        return canonical_number(number)
    return json.dumps(value, sort_keys=True, default=_json_default)


def _json_default(value: object) -> str:
    # boto3 hands a binary as bytes; show it as DynamoDB's JSON does, base64.
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    return str(value)
