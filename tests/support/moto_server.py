"""The command line's AWS, reached over real HTTP on loopback: S3 on a moto server, DynamoDB on the backend."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from csv_ingest_engine.constants import DEFAULT_KEY_COLUMN
from tests.support.dynamodb import create_table, table_items


class MotoServer:
    """A moto server on 127.0.0.1 and a free port, in a thread of this process."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()


@dataclass
class Endpoint:
    """Where the command line's requests go: S3 to the moto server, DynamoDB to the backend under test."""

    s3_url: str
    dynamodb_url: str
    # A dynalite server outlives the test (one per session): a table of its own keeps each test's rows apart.
    table: str = field(default_factory=lambda: f"cli-customers-{uuid.uuid4().hex[:8]}")
    bucket: str = "cli-uploads"

    def __post_init__(self) -> None:
        self.s3: Any = boto3.client("s3", endpoint_url=self.s3_url)
        self.dynamodb: Any = boto3.client("dynamodb", endpoint_url=self.dynamodb_url)

    def create_resources(self) -> None:
        create_table(self.dynamodb, self.table, DEFAULT_KEY_COLUMN)
        self.s3.create_bucket(Bucket=self.bucket)

    def delete_resources(self) -> None:
        self.dynamodb.delete_table(TableName=self.table)
        for obj in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []):
            self.s3.delete_object(Bucket=self.bucket, Key=obj["Key"])
        self.s3.delete_bucket(Bucket=self.bucket)

    def items(self) -> dict[str, dict[str, str]]:
        """The table's contents: key -> {attribute: value}."""
        return table_items(self.dynamodb, self.table, DEFAULT_KEY_COLUMN)
