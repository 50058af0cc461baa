"""The demo's tables: the items in the emulated table, the rejected rows' report, the state machine's partitions,
why an execution failed, and the file's outcome (the event caught, the object's tags)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from csv_ingest.local.demo_account import TABLE, table_items
from csv_ingest.local.lambdas import InProcessLambda
from csv_ingest_engine import words
from csv_ingest_engine.constants import HANDLER_INGEST_PARTITION

if TYPE_CHECKING:  # the stubs are a development dependency
    from mypy_boto3_dynamodb import DynamoDBClient

# Items (and rejected rows) printed: a file of 20,000 rows must not print 80,000 lines.
SHOWN_ITEMS = 20


def items_table(dynamodb: DynamoDBClient, keys: Sequence[str], *, bookkeeping: bool = False) -> Table:
    """The first items by key (`keys`: the key columns), with the file's columns (and the pipeline's bookkeeping
    attributes if asked)."""
    items = table_items(dynamodb, TABLE, keys, bookkeeping=bookkeeping)
    shown = items[:SHOWN_ITEMS]
    columns = [*keys, *dict.fromkeys(name for item in shown for name in item if name not in keys)]
    title = f"DynamoDB table {TABLE} ({len(items):,} {'item' if len(items) == 1 else 'items'})"
    more = len(items) - len(shown)
    by = " and ".join(escape(key) for key in keys)
    caption = f"… and {more:,} more (the first {len(shown)} by {by} shown)" if more else None
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for column in columns:
        table.add_column(escape(column))
    for item in shown:
        table.add_row(*(escape(item.get(column, "")) for column in columns))
    return table


def report_table(report: str, uri: str) -> Table:
    header, *rows = csv.reader(io.StringIO(report))
    more = len(rows) - SHOWN_ITEMS
    caption = f"… and {more:,} more, in the report" if more > 0 else None
    table = Table(
        title=f"Rejected rows, reported in {uri}", title_justify="left", caption=caption, caption_justify="left"
    )
    for column in header:
        table.add_column(escape(column))
    for row in rows[:SHOWN_ITEMS]:
        table.add_row(*map(escape, row))
    return table


def partitions_table(partitioned: dict[str, Any], lambdas: InProcessLambda) -> Table:
    """The Partition task's partitions (the manifest's entries, as the Map gave them to its workers), with what each
    worker made of its own (or why it did not report)."""
    workers = [call for call in lambdas.calls if call.entry_point == HANDLER_INGEST_PARTITION]
    results = {call.event["partition"]["index"]: call.returned for call in workers if call.raised is None}
    crashes = {call.event["partition"]["index"]: call.raised for call in workers if call.raised is not None}
    entries = {call.event["partition"]["index"]: call.event["partition"] for call in workers}
    partitions = [entries[index] for index in sorted(entries)]
    count = partitioned["partitions"]
    table = Table(
        title=f"Partitions ({words.count(partitioned['rows'], 'row')} in {count:,})",
        title_justify="left",
        caption=f"… and {count - SHOWN_ITEMS:,} more" if count > SHOWN_ITEMS else None,
        caption_justify="left",
    )
    for column in ("partition", "chunks", "rows", "written", "rejected", "outcome"):
        table.add_column(column, justify="left" if column == "outcome" else "right")
    for entry in partitions[:SHOWN_ITEMS]:
        result = results.get(entry["index"])
        if result is None:
            crash = crashes.get(entry["index"])
            counts = ("", "")
            outcome = f"did not report ({type(crash).__name__}: {crash})" if crash else "did not report"
        else:
            counts = (f"{result['rows_written']:,}", f"{result['rows_rejected']:,}")
            outcome = "ok" if result["error"] is None else f"failed: {result['error']}"
        table.add_row(str(entry["index"]), f"{entry['chunks']:,}", f"{entry['rows']:,}", *counts, escape(outcome))
    return table


def failure_cause(execution: dict[str, Any]) -> str:
    """The error an execution failed with: the failing task's message (Lambda's error payload is the cause)."""
    cause = execution.get("cause")
    if not cause:
        return f"the execution ended {execution['status']} without the Finish task's verdict"
    try:
        message = json.loads(cause).get("errorMessage")
    except (ValueError, AttributeError):
        message = None
    return message if isinstance(message, str) else cause


def outcome_event_text(caught: Sequence[dict[str, Any]]) -> str:
    """The outcome event a rule on the default bus caught (its detail type, then its detail as JSON), or that none
    was."""
    if not caught:
        return "Outcome event: none was caught (the function's log says why it was not sent)."
    lines = []
    for event in caught:
        lines.append(
            f"Outcome event on the default EventBridge bus, caught by a rule on source {escape(event['source'])}: "
            f"{escape(event['detail-type'])}"
        )
        lines.append(escape(json.dumps(event["detail"], indent=2, ensure_ascii=False)))
    return "\n".join(lines)


def tags_table(bucket: str, key: str, version_id: str | None, tags: dict[str, str]) -> Table:
    """The object version's tags, as `aws s3api get-object-tagging` lists them (and `csv-ingest status` reads)."""
    version = f" (version {escape(version_id)})" if version_id else ""
    status = f"csv-ingest status s3://{escape(bucket)}/{escape(key)}" + (
        f" --version-id {escape(version_id)}" if version_id else ""
    )
    table = Table(
        title=f"Tags of s3://{escape(bucket)}/{escape(key)}{version}",
        title_justify="left",
        caption=f"On a deployed stack, `{status}` reads them.",
        caption_justify="left",
    )
    table.add_column("tag")
    table.add_column("value")
    for name, value in tags.items():
        table.add_row(escape(name), escape(value))
    return table
