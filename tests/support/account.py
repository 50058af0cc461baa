"""The account the function's tests work in: the stack's buckets in moto (in-process), its table on the backend."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import requests

from csv_ingest.local.events import object_created_event, s3_record
from csv_ingest_engine.constants import DEFAULT_KEY_COLUMN, DEFAULT_ORDER_ATTRIBUTE
from tests.support.dynamodb import create_table, table_items

SAMPLES = Path(__file__).resolve().parents[2] / "sample-csvs"
BUCKET = "csv-ingest-uploads"
REJECTS_BUCKET = "csv-ingest-rejects"
KEY_COLUMN = DEFAULT_KEY_COLUMN


def reset_moto() -> None:
    """Empty every moto backend (buckets, tables...), through moto's own reset API, as a fresh `mock_aws` would."""
    requests.post("http://motoapi.amazonaws.com/moto-api/reset", timeout=5).raise_for_status()


class Aws:
    """The buckets and the table a test works with, and helpers that say what a user would do or look at.

    Clients go wherever the environment sends them: moto's in-process mock, or (AWS_ENDPOINT_URL_DYNAMODB) dynalite.
    """

    def __init__(self) -> None:
        # A dynalite server outlives the test (one per session): a table of its own keeps each test's rows apart.
        self.table = f"csv-ingest-customers-{uuid.uuid4().hex[:8]}"
        self.s3: Any = boto3.client("s3")
        self.dynamodb: Any = boto3.client("dynamodb")

    def create_resources(self) -> None:
        """The stack's bucket (versioned), reports bucket and table (keyed on the key column, string)."""
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.s3.create_bucket(Bucket=REJECTS_BUCKET)
        create_table(self.dynamodb, self.table, KEY_COLUMN)

    def delete_table(self) -> None:
        self.dynamodb.delete_table(TableName=self.table)

    def upload(self, key: str, body: bytes | str) -> str:
        """Put an object and return its version id."""
        data = body.encode() if isinstance(body, str) else body
        version: str = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)["VersionId"]
        return version

    def upload_sample(self, name: str) -> tuple[str, str]:
        """Upload a file of sample-csvs/ under its own name; return (key, version id)."""
        return name, self.upload(name, (SAMPLES / name).read_bytes())

    def event(
        self,
        key: str,
        version_id: str | None,
        *,
        request_id: str | None = None,
        size: int = 0,
        event_time: datetime | None = None,
    ) -> dict[str, Any]:
        """The event S3 sends for one upload to the stack's bucket (of `size` bytes: 0 keeps it on the one-invocation
        path, whatever the threshold), at `event_time` (default: now)."""
        return object_created_event(BUCKET, key, version_id, size, request_id=request_id, event_time=event_time)

    def record(self, key: str, version_id: str | None, *, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
        """One record of an event about the stack's bucket, for events that carry several."""
        return s3_record(BUCKET, key, version_id, event_name=event_name)

    def items(self) -> dict[str, dict[str, str]]:
        """The table's contents: key -> {attribute: string value}, key included (the pipeline's own attributes, such
        as the upload order stamp, left out: see `stamps`)."""
        return table_items(self.dynamodb, self.table, KEY_COLUMN)

    def stamps(self) -> dict[str, str | None]:
        """Each item's upload order stamp (None: the item has none): key -> stamp."""
        items = table_items(self.dynamodb, self.table, KEY_COLUMN, bookkeeping=True)
        return {key: item.get(DEFAULT_ORDER_ATTRIBUTE) for key, item in items.items()}

    def reports(self) -> dict[str, str]:
        """The rejects bucket's objects: key -> text."""
        listing = self.s3.list_objects_v2(Bucket=REJECTS_BUCKET).get("Contents", [])
        return {
            obj["Key"]: self.s3.get_object(Bucket=REJECTS_BUCKET, Key=obj["Key"])["Body"].read().decode()
            for obj in listing
        }

    def put_item(self, **attributes: str) -> None:
        self.dynamodb.put_item(TableName=self.table, Item={k: {"S": v} for k, v in attributes.items()})
