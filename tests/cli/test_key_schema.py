"""`load` into tables keyed in other ways: the key schema is read from the table (DescribeTable) and used, typed
columns are written as their types, and `validate` predicts `load`'s rejections without AWS."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE
from tests.cli.runner import SAMPLES, run
from tests.support import Endpoint, create_table

NUMBER_KEY = (
    [{"AttributeName": "customer_id", "KeyType": "HASH"}],
    [{"AttributeName": "customer_id", "AttributeType": "N"}],
)
ORDERS = (
    [{"AttributeName": "customer_id", "KeyType": "HASH"}, {"AttributeName": "order_date", "KeyType": "RANGE"}],
    [{"AttributeName": "customer_id", "AttributeType": "N"}, {"AttributeName": "order_date", "AttributeType": "S"}],
)


@pytest.fixture
def keyed_table(endpoint: Endpoint, request: pytest.FixtureRequest) -> Iterator[str]:
    """A table keyed as the param says (key schema, attribute definitions)."""
    key_schema, definitions = request.param
    name = f"keyed-{uuid.uuid4().hex[:8]}"
    create_table(endpoint.dynamodb, name, "customer_id", key_schema=key_schema, definitions=definitions)
    yield name
    endpoint.dynamodb.delete_table(TableName=name)


def scan(endpoint: Endpoint, table: str) -> list[dict[str, Any]]:
    return [
        item for page in endpoint.dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]
    ]


@pytest.mark.parametrize("keyed_table", [NUMBER_KEY], indirect=True)
def test_a_number_keyed_table_gets_number_keys(endpoint: Endpoint, keyed_table: str) -> None:
    """The table's partition key is N: each row's key cell is written as a number, no option needed."""
    result = run("load", SAMPLES / "sample-good.csv", "--table", keyed_table)
    assert result.exit_code == 0, result.output
    items = scan(endpoint, keyed_table)
    assert len(items) == 5
    assert all(set(item["customer_id"]) == {"N"} for item in items)


@pytest.mark.parametrize("keyed_table", [NUMBER_KEY], indirect=True)
def test_a_zero_key_with_an_exponent_is_the_item_0(endpoint: Endpoint, keyed_table: str, tmp_path: Path) -> None:
    """Zero is a DynamoDB number whatever its exponent: the keys `0E-200`, `-0e10` and `0` are one item, `0`, and
    `validate` agrees (nothing rejected)."""
    source = tmp_path / "zeros.csv"
    source.write_text("customer_id,name\n0E-200,Ann\n-0e10,Bob\n0,Cy\n")
    assert run("validate", source, "--key-type", "N").output.startswith(f"{source}: 3 rows valid, 0 rejected")
    result = run("load", source, "--table", keyed_table)
    assert result.exit_code == 0, result.output
    assert [(item["customer_id"], item["name"]) for item in scan(endpoint, keyed_table)] == [({"N": "0"}, {"S": "Cy"})]


BINARY_KEY = (
    [{"AttributeName": "customer_id", "KeyType": "HASH"}],
    [{"AttributeName": "customer_id", "AttributeType": "B"}],
)


@pytest.mark.parametrize("keyed_table", [BINARY_KEY], indirect=True)
def test_a_binary_keyed_table_gets_keys_decoded_from_base64(
    endpoint: Endpoint, keyed_table: str, tmp_path: Path
) -> None:
    """A B key cell is base64: `aGk=` is the item keyed by the bytes `hi`; a cell that is not base64 is rejected."""
    source = tmp_path / "binary.csv"
    source.write_text("customer_id,name\naGk=,first\nnot base64!,bad\naGk=,second\n")
    result = json.loads(run("load", source, "--table", keyed_table, "--json").output)
    assert [(r["line"], r["reason"].split(":")[0]) for r in result["rejected_rows"]] == [
        (3, "column 'customer_id' (B)")
    ]
    assert [(item["customer_id"]["B"], item["name"]["S"]) for item in scan(endpoint, keyed_table)] == [
        (b"hi", "second")
    ]


@pytest.mark.parametrize("keyed_table", [ORDERS], indirect=True)
def test_a_sort_keyed_table_keeps_rows_of_one_full_key_in_file_order(
    endpoint: Endpoint, keyed_table: str, tmp_path: Path
) -> None:
    """Rows sharing the full key are one item, the last row winning; rows sharing only the partition key are
    distinct items."""
    source = tmp_path / "orders.csv"
    source.write_text(
        "customer_id,order_date,total\n"
        "1,2024-01-01,10\n"
        "1,2024-01-02,20\n"
        "01.0,2024-01-01,30\n"  # the number 1 again: the first item, written after it
        "2,2024-01-01,40\n"
    )
    result = run("load", source, "--table", keyed_table, "--workers", "1")
    assert result.exit_code == 0, result.output
    items = {
        (item["customer_id"]["N"], item["order_date"]["S"]): item["total"]["S"] for item in scan(endpoint, keyed_table)
    }
    assert items == {("1", "2024-01-01"): "30", ("1", "2024-01-02"): "20", ("2", "2024-01-01"): "40"}


@pytest.mark.parametrize("keyed_table", [ORDERS], indirect=True)
def test_a_file_without_the_tables_sort_key_column_fails_listing_its_columns(
    endpoint: Endpoint, keyed_table: str
) -> None:
    """The table has a sort key the file lacks: the file fails before any write, naming the column."""
    result = run("load", SAMPLES / "sample-good.csv", "--table", keyed_table)
    assert result.exit_code == 1, result.output
    assert "the header has no 'order_date' column (columns found: 'customer_id', 'name'" in " ".join(
        result.output.split()
    )
    assert scan(endpoint, keyed_table) == []


def test_a_key_column_option_that_is_not_the_tables_key_is_a_usage_error(endpoint: Endpoint) -> None:
    """--key-column asserts the table's key: naming another column exits 64 and says what the table has."""
    result = run("load", SAMPLES / "sample-good.csv", "--table", endpoint.table, "--key-column", "name")
    assert result.exit_code == 64, result.output
    assert "the table's key is a string (S) partition key named 'customer_id', and no sort key" in " ".join(
        result.output.split()
    )


def test_typed_columns_are_written_as_their_types(endpoint: Endpoint, tmp_path: Path) -> None:
    """--type and --types-file: numbers, booleans and JSON land as DynamoDB numbers, booleans and maps (beside the
    load's order stamp, a string)."""
    source = tmp_path / "people.csv"
    source.write_text('customer_id,age,active,profile\n7,34,true,"{""city"": ""Porto"", ""score"": 0.5}"\n')
    types = tmp_path / "types.json"
    types.write_text(json.dumps({"age": "N", "profile": "JSON"}))
    options = ("--types-file", types, "--type", "active=BOOL", "--as-of", "2026-12-01T18:30:00Z")
    result = run("load", source, "--table", endpoint.table, *options)
    assert result.exit_code == 0, result.output
    (item,) = scan(endpoint, endpoint.table)
    assert item == {
        "customer_id": {"S": "7"},
        "age": {"N": "34"},
        "active": {"BOOL": True},
        "profile": {"M": {"city": {"S": "Porto"}, "score": {"N": "0.5"}}},
        DEFAULT_ORDER_ATTRIBUTE: {"S": "2026-12-01T18:30:00.000000Z 000000000000000000000000"},
    }


def test_validate_reports_the_rejections_load_gets(endpoint: Endpoint, tmp_path: Path) -> None:
    """Same reasons, same lines, with types given by flags; validate makes no AWS call for a local file."""
    source = tmp_path / "people.csv"
    source.write_text("customer_id,age,active\n1,34,true\n2,3O,false\n3,1e-131,yes\n4,1,FALSE\n")
    options = ("--type", "age=N", "--type", "active=BOOL", "--json")
    validated = json.loads(run("validate", source, *options).output)
    loaded = json.loads(run("load", source, "--table", endpoint.table, *options).output)
    assert validated["rejected_rows"] == loaded["rejected_rows"]
    assert [(r["line"], r["reason"].split(":")[0]) for r in loaded["rejected_rows"]] == [
        (3, "column 'age' (N)"),
        (4, "column 'age' (N)"),
    ]
    assert loaded["rows_written"] == 2


def test_a_bad_type_option_is_a_usage_error_before_anything_is_read(endpoint: Endpoint) -> None:
    """`--type age=NUM` exits 64 naming the entry and the types there are."""
    result = run("load", SAMPLES / "sample-good.csv", "--table", endpoint.table, "--type", "age=NUM")
    assert result.exit_code == 64, result.output
    assert "'NUM' is not a column type; use one of S, N, BOOL, JSON" in result.output
    assert scan(endpoint, endpoint.table) == []


NUMBERS = {  # cell -> rejected?
    "1" * 38: False,
    "1" * 39: True,
    "0.000" + "1" * 38 + "000": False,  # zeros around the digits do not count
    "1E-130": False,
    "1E-131": True,
    "9.9999999999999999999999999999999999999E+125": False,
    "1E+126": True,
    "-0": False,
    "0E-200": False,  # zero whatever its exponent
    "0.000E+500": False,
    "-0e10": False,
    "1e5": False,
    " 42 ": False,
    "-.5": False,
    "1,000": True,
    "NaN": True,
    "Infinity": True,
    "1_000": True,
    "0x10": True,
}


def test_numbers_the_rules_accept_are_numbers_the_table_takes(endpoint: Endpoint, tmp_path: Path) -> None:
    """Each edge of DynamoDB's number type through `load`: the accepted ones are written (the table does not refuse
    them), the others rejected client-side at their lines, and `validate` says the same."""
    cells = list(NUMBERS)
    source = tmp_path / "numbers.csv"
    source.write_text("customer_id,n\n" + "".join(f'{i},"{cell}"\n' for i, cell in enumerate(cells)))
    loaded = json.loads(run("load", source, "--table", endpoint.table, "--type", "n=N", "--json").output)
    validated = json.loads(run("validate", source, "--type", "n=N", "--json").output)
    expected = [i + 2 for i, cell in enumerate(cells) if NUMBERS[cell]]
    assert [r["line"] for r in loaded["rejected_rows"]] == expected
    assert validated["rejected_rows"] == loaded["rejected_rows"]
    assert all(r["reason"].startswith("column 'n' (N): ") for r in loaded["rejected_rows"])
    written = {item["customer_id"]["S"]: item["n"]["N"] for item in scan(endpoint, endpoint.table)}
    assert len(written) == len(cells) - len(expected) == loaded["rows_written"]


def test_booleans_and_json_through_load(endpoint: Endpoint, tmp_path: Path) -> None:
    """true/false in any case; other words rejected; JSON kept exactly, invalid or too deep JSON rejected."""
    deep = "[" * 32 + "]" * 32
    source = tmp_path / "values.csv"
    source.write_text(
        "customer_id,flag,doc\n"
        '1,TRUE,"{""price"": 19.99, ""tags"": [""a"", null, false], ""n"": {""m"": 1}}"\n'
        "2,,\n"
        "2,yes,\n"
        "3,false,{not json}\n"
        f"4,False,{deep}\n"
        f"5,,{deep[1:-1]}\n"
    )
    result = json.loads(
        run("load", source, "--table", endpoint.table, "--type", "flag=BOOL", "--type", "doc=JSON", "--json").output
    )
    assert [(r["line"], r["reason"].split(":")[0]) for r in result["rejected_rows"]] == [
        (4, "column 'flag' (BOOL)"),
        (5, "column 'doc' (JSON)"),
        (6, "column 'doc' (JSON)"),
    ]
    items = {item["customer_id"]["S"]: item for item in scan(endpoint, endpoint.table)}
    assert items["1"]["flag"] == {"BOOL": True}
    assert items["1"]["doc"]["M"]["price"] == {"N": "19.99"}
    assert items["1"]["doc"]["M"]["tags"] == {"L": [{"S": "a"}, {"NULL": True}, {"BOOL": False}]}
    assert set(items) == {"1", "2", "5"}  # 31 arrays inside one another: within DynamoDB's 32 levels
