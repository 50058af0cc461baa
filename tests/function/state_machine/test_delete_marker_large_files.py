"""Deletes on the large-file path: a file of writes and deletes of recurring keys through the state machine leaves the
table, the counts and the report one invocation leaves, and an older upload's deletes do not remove a newer upload's
items there either."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from csv_ingest.local.lambdas import InProcessLambda
from csv_ingest_engine.constants import ENV_DELETE_COLUMN
from csv_ingest_engine.objects import rejects_report_key
from csv_ingest_engine.schema import KeyAttribute, Schema
from handler import handler
from tests.support import KEY_COLUMN, Aws, DemoContext, create_table, emf_metrics
from tests.support.dynamodb import table_items
from tests.support.large_files import create_flow, trigger_and_wait

MARKER = "_deleted"
HEADER = f"customer_id,name,city,{MARKER}"
EARLIER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(minutes=5)
# Lines whose marker is neither true, false nor empty: rejected.
UNKNOWN_MARKERS = {57: "yes", 222: "1"}


def rows() -> Iterator[tuple[int, str, str, str, str]]:
    """(line, key, name, city, marker): 360 rows over 29 keys, each key's rows spread over the whole file; every
    seventh row deletes its item (in one of three spellings), some rows after it write the key again."""
    for i in range(360):
        line = i + 2
        key = f"c{(i * 11) % 29:03d}"
        if line in UNKNOWN_MARKERS:
            marker = UNKNOWN_MARKERS[line]
        elif i % 7 == 3:
            marker = ("true", "TRUE", " True ")[i % 3]
        else:
            marker = ""
        yield line, key, f"name {i}" if i % 4 else "", f"city {i % 5}", marker


def spread_file() -> str:
    return "\n".join([HEADER, *(f"{key},{name},{city},{marker}" for _, key, name, city, marker in rows())]) + "\n"


def expected(base: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The table the file must leave over `base`: each key's rows in file order, a delete removing the item, empty
    cells keeping what is there, the marker never stored."""
    items = {key: dict(item) for key, item in base.items()}
    for line, key, name, city, marker in rows():
        if line in UNKNOWN_MARKERS:
            continue
        if marker.strip().lower() == "true":
            items.pop(key, None)
            continue
        item = items.setdefault(key, {KEY_COLUMN: key})
        item.update({name_: value for name_, value in (("name", name), ("city", city)) if value})
    return items


# Items there before the file: some of the file's keys, one it never names.
BASE = {key: {KEY_COLUMN: key, "extra": f"from before, {key}"} for key in ("c000", "c003", "c011", "z999")}


@pytest.fixture
def deleting_flow(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    """The stack deployed with `-c delete_column=_deleted`: the trigger and the flow's tasks told the column, the
    flow cutting ~2 KB partitions, every file sent to it."""
    schema = Schema(KeyAttribute(KEY_COLUMN), delete_column=MARKER)
    arn = create_flow(aws, partition_bytes=2048, schema=schema)
    monkeypatch.setenv(ENV_DELETE_COLUMN, MARKER)
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("LARGE_FILE_BYTES", "0")
    return arn


def put_base(aws: Aws, table: str) -> None:
    for item in BASE.values():
        aws.dynamodb.put_item(TableName=table, Item={name: {"S": value} for name, value in item.items()})


def test_the_state_machine_deletes_as_one_invocation_does(
    aws: Aws, deleting_flow: str, lambdas: InProcessLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same table (deletes and writes of each key in file order, across partitions), the same counts and the
    same report as the trigger's own ingestion of the file into another table."""
    # given
    body = spread_file()
    single_table = f"{aws.table}-single"
    create_table(aws.dynamodb, single_table, KEY_COLUMN)
    put_base(aws, single_table)
    put_base(aws, aws.table)
    single_version = aws.upload("single.csv", body)
    with monkeypatch.context() as env:
        env.setenv("TABLE_NAME", single_table)
        (single,) = handler(aws.event("single.csv", single_version), DemoContext())["files"]
    version = aws.upload("large.csv", body)
    # when
    _, execution = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    # then
    assert single["status"] == "ingested"
    assert execution.verdict is not None
    assert {name: execution.verdict[name] for name in ("rows_written", "rows_deleted", "rows_rejected")} == {
        name: single[name] for name in ("rows_written", "rows_deleted", "rows_rejected")
    }
    deletes = sum(1 for line, *_, marker in rows() if line not in UNKNOWN_MARKERS and marker)
    assert (execution.verdict["rows_deleted"], execution.verdict["rows_rejected"]) == (deletes, len(UNKNOWN_MARKERS))
    assert len(execution.partitions) > 3
    assert aws.items() == table_items(aws.dynamodb, single_table, KEY_COLUMN) == expected(BASE)
    reports = aws.reports()
    assert (
        reports[rejects_report_key("large.csv", version)] == reports[rejects_report_key("single.csv", single_version)]
    )


def test_an_older_uploads_deletes_on_the_state_machine_leave_a_newer_uploads_items(
    aws: Aws, deleting_flow: str, lambdas: InProcessLambda, stdout: pytest.CaptureFixture[str]
) -> None:
    """A newer upload (one invocation) wrote some keys; the older file's deletes of them are superseded, its deletes
    of other items apply; Finish counts both and publishes RowsDeleted."""
    # given
    newer = aws.upload("new.csv", "customer_id,name\nc001,new\nc002,new\n")
    (entry,) = handler(aws.event("new.csv", newer, event_time=LATER), DemoContext())["files"]
    assert entry["status"] == "ingested"
    put_base(aws, aws.table)
    lines = [f"customer_id,{MARKER}", *(f"{key},true" for key in ("c001", "c002", "c000", "c003", "absent"))]
    older = aws.upload("old.csv", "\n".join([*lines, *(f"k{i:03d}," for i in range(200))]) + "\n")
    stdout.readouterr()
    # when
    _, execution = trigger_and_wait(aws, handler, lambdas, "old.csv", older, DemoContext(), event_time=EARLIER)
    # then
    assert execution.verdict is not None
    assert (execution.verdict["rows_written"], execution.verdict["rows_deleted"]) == (200, 3)
    assert (execution.verdict["rows_superseded"], execution.verdict["rows_rejected"]) == (2, 0)
    items = aws.items()
    assert {key: items[key] for key in ("c001", "c002")} == {
        "c001": {KEY_COLUMN: "c001", "name": "new"},
        "c002": {KEY_COLUMN: "c002", "name": "new"},
    }
    assert {"c000", "c003", "absent"}.isdisjoint(items)
    assert items["z999"] == BASE["z999"]
    assert emf_metrics(stdout.readouterr().out)["RowsDeleted"] == [3.0]
