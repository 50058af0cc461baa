"""Sends `Write` requests to DynamoDB through a client it is given; turns per-row refusals into rejections."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ingest_engine.errors import WriteFailed
from ingest_engine.rules import Rejection, Write

# The client's retry mode already retries throttling and transient errors; what reaches us is final for the row.
_ROW_ERRORS = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})


class TableWriter:
    """Applies writes in the order given, so rows that share a key land in file order."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def write(self, write: Write, cells: list[str]) -> Rejection | None:
        """Send one request; return a rejection when DynamoDB refuses this row, raise `WriteFailed` otherwise."""
        try:
            if write.operation == "update_item":
                self._client.update_item(**write.params)
            else:
                self._client.put_item(**write.params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                return None  # a key-only row whose item already exists: nothing to change
            if code in _ROW_ERRORS:
                message = exc.response.get("Error", {}).get("Message", code)
                return Rejection(write.line, write.key, f"DynamoDB refused the row: {message}", cells)
            raise WriteFailed(write.line, str(exc)) from exc
        return None
