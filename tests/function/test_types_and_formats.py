"""The function with the stack's schema and format settings (its environment): typed columns, a sort key and a
number key, semicolons, cp1252 and gzip, on one invocation and through the state machine."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from csv_ingest.local.lambdas import lambda_in_process
from csv_ingest.local.state_machine import MOTO_CONFIG
from csv_ingest_engine.config import schema_environment
from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE
from csv_ingest_engine.objects import rejects_report_key
from csv_ingest_engine.schema import CsvFormat, KeyAttribute, Schema
from handler import handler
from tests.support import Aws, DemoContext, create_table
from tests.support.large_files import create_flow, trigger_and_wait

ORDERS = Schema(
    KeyAttribute("customer_id", "N"),
    KeyAttribute("order_date"),
    {"total": "N", "paid": "BOOL", "items": "JSON", "coupon": "N"},
)
ORDERS_FILE = (
    "customer_id,order_date,total,paid,items,note\n"
    '42,2024-05-01,19.90,true,"[{""sku"": ""A-1"", ""qty"": 2}]",first\n'
    "42,2024-05-02,5,FALSE,,second\n"
    "042.0,2024-05-01,21.5,,,again\n"  # the number 42 again, same date: the first item, updated
    "43,2024-05-01,3O,true,,typo\n"  # not a number: rejected
    "44,,1,true,,no date\n"  # no sort key: rejected
)


@pytest.fixture(scope="module")
def moto_mock() -> Iterator[None]:
    """moto with its state machine interpreter on."""
    with mock_aws(config=MOTO_CONFIG):
        yield


@pytest.fixture
def orders_table(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    """A table keyed on a number customer_id and a string order_date, and the function told so (as the stack's
    context `key_type=N sort_key_column=order_date column_types=...` tells it)."""
    table = f"{aws.table}-orders"
    create_table(
        aws.dynamodb,
        table,
        "customer_id",
        key_schema=[
            {"AttributeName": "customer_id", "KeyType": "HASH"},
            {"AttributeName": "order_date", "KeyType": "RANGE"},
        ],
        definitions=[
            {"AttributeName": "customer_id", "AttributeType": "N"},
            {"AttributeName": "order_date", "AttributeType": "S"},
        ],
    )
    monkeypatch.setenv("TABLE_NAME", table)
    for name, value in schema_environment(ORDERS, CsvFormat()).items():
        monkeypatch.setenv(name, value)
    return table


def items(aws: Aws, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The orders table by (customer_id as a number's text, order_date); numbers compared by value; the upload order
    stamp left out (each path's upload has its own)."""
    found = {}
    for page in aws.dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            item.pop(DEFAULT_ORDER_ATTRIBUTE)
            found[(str(float(item["customer_id"]["N"])), item["order_date"]["S"])] = item
    return found


def test_typed_columns_and_a_composite_key_from_the_environment(
    aws: Aws, orders_table: str, lambda_context: DemoContext
) -> None:
    """Numbers, booleans and JSON land typed; rows of one full key apply in file order (42 and 042.0 are one
    number); a row sharing only the partition key is its own item; bad cells are rejected, the rest written."""
    version = aws.upload("orders.csv", ORDERS_FILE)
    (entry,) = handler(aws.event("orders.csv", version), lambda_context)["files"]
    assert (entry["rows_written"], entry["rows_rejected"]) == (3, 2)
    table = items(aws, orders_table)
    first = table[("42.0", "2024-05-01")]
    assert float(first["total"]["N"]) == 21.5 and first["note"] == {"S": "again"}
    assert first["paid"] == {"BOOL": True}  # an empty cell later keeps what was there
    assert first["items"] == {"L": [{"M": {"sku": {"S": "A-1"}, "qty": {"N": "2"}}}]}
    assert table[("42.0", "2024-05-02")]["paid"] == {"BOOL": False}
    assert set(table) == {("42.0", "2024-05-01"), ("42.0", "2024-05-02")}
    report = aws.reports()[rejects_report_key("orders.csv", version)]
    assert "column 'total' (N): '3O' is not a number" in report
    assert "the 'order_date' cell is empty" in report


def test_the_state_machine_writes_the_same_typed_table(
    aws: Aws, orders_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The large-file path partitions by the full key and converts as one invocation does: the same items."""
    body = ORDERS_FILE + "".join(f"{i % 7},2024-06-{i % 28 + 1:02d},{i}.5,true,,n{i}\n" for i in range(300))
    single_version = aws.upload("single.csv", body)
    handler(aws.event("single.csv", single_version), DemoContext())
    single = items(aws, orders_table)
    for key in single:  # empty the table for the second path
        customer, date = single[key]["customer_id"], single[key]["order_date"]
        aws.dynamodb.delete_item(TableName=orders_table, Key={"customer_id": customer, "order_date": date})
    monkeypatch.setenv("STATE_MACHINE_ARN", create_flow(aws, partition_bytes=2048, schema=ORDERS, table=orders_table))
    monkeypatch.setenv("LARGE_FILE_BYTES", "0")
    with lambda_in_process() as lambdas:
        version = aws.upload("large.csv", body)
        _, execution = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    assert execution.partitioned["partitions"] > 2
    assert execution.verdict is not None and execution.verdict["rows_rejected"] == 2
    assert items(aws, orders_table) == single


def test_a_gzipped_semicolon_cp1252_file_and_its_report_round_trip(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`.csv.gz` is decompressed as it is read, in the configured delimiter and encoding; the rejects report uses
    the file's delimiter and starts with UTF-8's byte-order mark, so, fixed, it uploads again as it is."""
    monkeypatch.setenv("CSV_DELIMITER", ";")
    monkeypatch.setenv("CSV_ENCODING", "cp1252")
    text = "customer_id;name;city\n1;Zoë;Genève\n2;Ann;Köln;extra\n"
    version = aws.upload("customers.csv.gz", gzip.compress(text.encode("cp1252")))
    (entry,) = handler(aws.event("customers.csv.gz", version), lambda_context)["files"]
    assert (entry["rows_written"], entry["rows_rejected"]) == (1, 1)
    assert aws.items()["1"] == {"customer_id": "1", "name": "Zoë", "city": "Genève"}
    report = aws.reports()[rejects_report_key("customers.csv.gz", version)]
    assert report.startswith("\ufeffcustomer_id;name;city;rejected_line;rejected_reason\r\n2;Ann;Köln;3;")
    header = report.split("\r\n")[0]
    fixed_version = aws.upload("fixed.csv", f"{header}\r\n2;Ann;Köln;;\r\n".encode())
    (again,) = handler(aws.event("fixed.csv", fixed_version), lambda_context)["files"]
    assert (again["rows_written"], again["rows_rejected"]) == (1, 0)
    assert aws.items()["2"] == {"customer_id": "2", "name": "Ann", "city": "Köln"}


def test_types_for_columns_a_file_lacks_are_a_logged_warning(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch, stdout: pytest.CaptureFixture[str]
) -> None:
    """One configuration serves many files: the file goes in, and the log names the columns it does not have."""
    monkeypatch.setenv("COLUMN_TYPES", json.dumps({"age": "N", "agee": "N"}))
    version = aws.upload("people.csv", "customer_id,age\n1,34\n")
    (entry,) = handler(aws.event("people.csv", version), lambda_context)["files"]
    assert entry["rows_written"] == 1
    warnings = [json.loads(line) for line in stdout.readouterr().out.splitlines() if '"WARNING"' in line]
    assert [w["columns"] for w in warnings if "column types name columns" in w["message"]] == [["agee"]]


def test_the_number_and_boolean_edges_through_the_handler(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same edges as the command line's test: what the rules accept the table takes, the rest is reported."""
    monkeypatch.setenv("COLUMN_TYPES", json.dumps({"n": "N", "b": "BOOL", "j": "JSON"}))
    cells = {  # n, b, j -> rejected?
        ("1" * 38, "true", '{"a": [1, 2.50]}'): False,
        ("1" * 39, "", ""): True,
        ("1E-131", "", ""): True,
        ("-0", "FALSE", ""): False,
        ("1e5", "", "[]"): False,
        (" 42 ", "", ""): False,
        ("1,000", "", ""): True,
        ("NaN", "", ""): True,
        ("", "1", ""): True,
        ("", "", "{bad"): True,
        ("", "", "[" * 32 + "]" * 32): True,
    }
    body = "customer_id,n,b,j\n" + "".join(
        f'{i},"{n}",{b},"{j.replace(chr(34), chr(34) * 2)}"\n' for i, (n, b, j) in enumerate(cells)
    )
    version = aws.upload("edges.csv", body)
    (entry,) = handler(aws.event("edges.csv", version), lambda_context)["files"]
    rejected = [i for i, reject in enumerate(cells.values()) if reject]
    assert (entry["rows_written"], entry["rows_rejected"]) == (len(cells) - len(rejected), len(rejected))
    report = aws.reports()[rejects_report_key("edges.csv", version)]
    assert [int(line.split(",")[0]) for line in report.splitlines()[1:]] == rejected
    written = {
        item["customer_id"]["S"]: item
        for page in aws.dynamodb.get_paginator("scan").paginate(TableName=aws.table)
        for item in page["Items"]
    }
    assert written["0"]["j"] == {"M": {"a": {"L": [{"N": "1"}, {"N": "2.5"}]}}} or written["0"]["j"] == {
        "M": {"a": {"L": [{"N": "1"}, {"N": "2.50"}]}}
    }  # moto keeps a number as sent, DynamoDB (and dynalite) as its value
    assert written["3"]["b"] == {"BOOL": False} and written["0"]["b"] == {"BOOL": True}
