"""Helpers for the function's tests: the moto account, S3 events shaped like AWS's, a fake Lambda context."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3

EVENTS = Path(__file__).parent / "events"
SAMPLES = Path(__file__).parents[2] / "sample-csvs"
BUCKET = "csv-ingest-uploads"
TABLE = "csv-ingest-customers"
REJECTS_BUCKET = "csv-ingest-rejects"
KEY_COLUMN = "customer_id"


@dataclass
class FakeLambdaContext:
    """The attributes of `LambdaContext` the function and Powertools read."""

    function_name: str = "csv-ingest-test"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:csv-ingest-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def json_logs(out: str) -> list[dict[str, Any]]:
    """The JSON log lines (Powertools Logger) in captured stdout, in order; EMF metric blobs excluded."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" not in line]


def emf_metrics(out: str) -> dict[str, list[float]]:
    """The values of every EMF metric in captured stdout, by metric name."""
    values: dict[str, list[float]] = {}
    for line in out.splitlines():
        blob = json.loads(line) if line.startswith("{") else {}
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return values


class Aws:
    """The moto account a test works in, with helpers that say what a user would do or look at."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3")
        self.dynamodb = boto3.client("dynamodb")

    def create_resources(self) -> None:
        """The stack's bucket (versioned) and table (keyed on the key column, string)."""
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.s3.create_bucket(Bucket=REJECTS_BUCKET)
        self.dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": KEY_COLUMN, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": KEY_COLUMN, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def upload(self, key: str, body: bytes | str) -> str:
        """Put an object and return its version id."""
        data = body.encode() if isinstance(body, str) else body
        return self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)["VersionId"]

    def upload_sample(self, name: str) -> tuple[str, str]:
        """Upload a file of sample-csvs/ under its own name; return (key, version id)."""
        return name, self.upload(name, (SAMPLES / name).read_bytes())

    def items(self) -> dict[str, dict[str, str]]:
        """The table's contents: key -> {attribute: string value}, key included."""
        items: dict[str, dict[str, str]] = {}
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=TABLE):
            for item in page["Items"]:
                plain = {name: value["S"] for name, value in item.items()}
                items[plain[KEY_COLUMN]] = plain
        return items

    def reports(self) -> dict[str, str]:
        """The rejects bucket's objects: key -> text."""
        listing = self.s3.list_objects_v2(Bucket=REJECTS_BUCKET).get("Contents", [])
        return {
            obj["Key"]: self.s3.get_object(Bucket=REJECTS_BUCKET, Key=obj["Key"])["Body"].read().decode()
            for obj in listing
        }

    def put_item(self, **attributes: str) -> None:
        self.dynamodb.put_item(TableName=TABLE, Item={k: {"S": v} for k, v in attributes.items()})


class EventFactory:
    """S3 events built from the recorded `ObjectCreated:Put` fixture, keys URL-encoded the way S3 encodes them."""

    def __init__(self) -> None:
        self._template = json.loads((EVENTS / "s3-object-created-put.json").read_text())["Records"][0]

    def record(self, key: str, version_id: str | None, *, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
        record = copy.deepcopy(self._template)
        record["eventName"] = event_name
        record["s3"]["bucket"]["name"] = BUCKET
        record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{BUCKET}"
        record["s3"]["object"]["key"] = quote_plus(key, safe="/")
        if version_id is None:
            del record["s3"]["object"]["versionId"]
        else:
            record["s3"]["object"]["versionId"] = version_id
        return record

    def __call__(self, key: str, version_id: str | None, **kwargs: Any) -> dict[str, Any]:
        """An event with the one record AWS sends for one upload."""
        return {"Records": [self.record(key, version_id, **kwargs)]}
