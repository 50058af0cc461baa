"""The writer's tests' doubles: rows, a writer on table `t`, quick backoff, and credentials for local clients."""

from __future__ import annotations

from typing import Any, TypedDict

from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE, WRITE_PATIENCE_S, WriteMode
from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.rules import Row
from csv_ingest_engine.writing import CLOSE_GRACE_S, Backoff, TableWriter


class Credentials(TypedDict):
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


# For clients of a stub or a closed port on loopback: any credentials do, but botocore wants some.
CREDENTIALS = Credentials(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
# Throttled writes go out again within milliseconds, so a test of resending takes no time.
QUICK = Backoff(base_s=0.001, cap_s=0.01)
# An upload's order stamp (see `ordering`).
NEWER = Ordering(DEFAULT_ORDER_ATTRIBUTE, "2026-12-01T10:00:00.000000Z 000000000000000000000002")


def row(line: int, key: str, **attributes: str) -> Row:
    """A row as the rules make it, keyed on customer_id: its cells are the key, then the attributes' values."""
    return Row(
        line,
        key,
        {"customer_id": {"S": key}},
        {name: {"S": value} for name, value in attributes.items()},
        [key, *attributes.values()],
    )


def table_writer(
    client: Any,
    *,
    concurrency: int = 1,
    mode: WriteMode = "merge",
    patience_s: float = WRITE_PATIENCE_S,
    close_grace_s: float = CLOSE_GRACE_S,
    ordering: Ordering | None = None,
) -> TableWriter:
    """A writer to table `t` (keyed on customer_id, as `row` makes rows), with quick backoff; unstamped unless given
    an `ordering`."""
    return TableWriter(
        client,
        table_name="t",
        concurrency=concurrency,
        mode=mode,
        ordering=ordering,
        patience_s=patience_s,
        backoff=QUICK,
        close_grace_s=close_grace_s,
    )
