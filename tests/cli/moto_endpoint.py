"""A moto server on a free loopback port, reached over real HTTP, for the command line's tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TABLE = "cli-customers"
BUCKET = "cli-uploads"


@dataclass
class Endpoint:
    url: str
    dynamodb: Any
    s3: Any

    def items(self, table: str = TABLE) -> dict[str, dict[str, str]]:
        """The table's contents: key -> {attribute: value}."""
        found: dict[str, dict[str, str]] = {}
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                plain = {name: value["S"] for name, value in item.items()}
                found[plain["customer_id"]] = plain
        return found
