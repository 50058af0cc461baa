"""The account `csv-ingest demo` runs in: moto in this process, the trigger's environment as the stack sets it, the
buckets and table named and created as the stack's, and the table exported as CSV (the file's columns; the
pipeline's bookkeeping attributes when asked)."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

from csv_ingest.local.lambdas import InProcessLambda, lambda_in_process
from csv_ingest.local.state_machine import MOTO_CONFIG
from csv_ingest_engine.config import ordering_environment
from csv_ingest_engine.constants import (
    BOOKKEEPING_PREFIX,
    DEFAULT_ORDER_ATTRIBUTE,
    ENV_KEY_COLUMN,
    ENV_LARGE_FILE_BYTES,
    ENV_REJECTS_BUCKET,
    ENV_TABLE_NAME,
    ENV_WRITE_MODE,
    METRICS_NAMESPACE,
    SERVICE_NAME,
    WriteMode,
)

if TYPE_CHECKING:  # the stubs are a development dependency
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

UPLOAD_BUCKET = "csv-ingest-demo-uploads"
REJECTS_BUCKET = "csv-ingest-demo-rejects"
WORK_BUCKET = "csv-ingest-demo-work"
TABLE = "csv-ingest-demo-table"
# moto's state machine interpreter logs a warning per Map and a traceback per failed task; the demo says it better.
NOISY_LOGGERS = ("moto.stepfunctions", "moto.awslambda")


@contextlib.contextmanager
def emulated_account(
    *, key_column: str, write_mode: WriteMode, large_file_bytes: int, ordered: bool = True
) -> Iterator[InProcessLambda]:
    """While the block runs: moto's account, with the trigger's environment (`ordered`: writes stamped with the
    upload's order, as the stack's default), and its Lambda functions run in this process by the `InProcessLambda`
    yielded."""
    from moto import mock_aws

    environment = {
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        ENV_TABLE_NAME: TABLE,
        ENV_KEY_COLUMN: key_column,
        ENV_WRITE_MODE: write_mode,
        ENV_REJECTS_BUCKET: REJECTS_BUCKET,
        ENV_LARGE_FILE_BYTES: str(large_file_bytes),
        **ordering_environment(DEFAULT_ORDER_ATTRIBUTE if ordered else None),
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
        try:
            yield lambdas
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def _quiet(*names: str) -> dict[str, int]:
    """Silence these loggers; return their levels, to put back."""
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return levels


def create_resources(s3: S3Client, dynamodb: DynamoDBClient, key_column: str) -> None:
    """The upload bucket (versioned, as the stack's), the rejects bucket and the table keyed on `key_column`."""
    s3.create_bucket(Bucket=UPLOAD_BUCKET)
    s3.put_bucket_versioning(Bucket=UPLOAD_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=REJECTS_BUCKET)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": key_column, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key_column, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def is_bookkeeping(name: str, order_attribute: str | None = DEFAULT_ORDER_ATTRIBUTE) -> bool:
    """Whether attribute `name` is one the pipeline adds for its own bookkeeping (its names start with
    BOOKKEEPING_PREFIX; the upload order stamp's is configured, `order_attribute`, and may be named otherwise)."""
    return name.startswith(BOOKKEEPING_PREFIX) or name == order_attribute


def export_table(
    dynamodb: DynamoDBClient,
    table: str,
    key_column: str,
    path: Path,
    *,
    bookkeeping: bool = False,
    order_attribute: str | None = DEFAULT_ORDER_ATTRIBUTE,
) -> int:
    """Write `table` to `path` as CSV, sorted by key, for `diff`: the key column first, then every attribute name
    seen, sorted; an empty cell where an item lacks the attribute. Returns the number of items.

    The pipeline's bookkeeping attributes (`is_bookkeeping`) are left out unless `bookkeeping`: they hold when an
    item was written (the upload order stamp), which differs from run to run, and are not the file's columns.
    """

    def shown(name: str) -> bool:
        return bookkeeping or name == key_column or not is_bookkeeping(name, order_attribute)

    items = [
        {name: _plain(value) for name, value in item.items() if shown(name)}
        for page in dynamodb.get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
    ]
    items.sort(key=lambda item: item.get(key_column, ""))
    names = sorted({name for item in items for name in item} - {key_column})
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([key_column, *names])
        for item in items:
            writer.writerow([item.get(name, "") for name in (key_column, *names)])
    return len(items)


def _plain(value: Mapping[str, Any]) -> str:
    """A DynamoDB attribute value as text: a string as it is (every value the engine writes is one), anything else
    as its JSON."""
    text = value.get("S")
    return text if isinstance(text, str) else json.dumps(value, sort_keys=True, default=str)
