"""The function end to end (S3 in moto; DynamoDB in moto, then in dynalite): S3 event in, table and summary out."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE
from csv_ingest_engine.ordering import STAMP_BYTES
from csv_ingest_engine.requests import MERGE_MAX_ATTRIBUTES
from csv_ingest_engine.rules import MAX_ITEM_BYTES
from handler import handler
from tests.support import BUCKET, Aws, DemoContext, DynamoDBBackend, json_logs, object_created_event

EVENTS = Path(__file__).parent / "events"
# The UTF-8 size of the upload's order stamp (its attribute's name and value), the key attribute ("customer_id" =
# "1") and the name "blob": an item of one blob column reaches DynamoDB's limit with a value of MAX_ITEM_BYTES -
# BLOB_ITEM_OVERHEAD bytes.
STAMP_OVERHEAD = len(DEFAULT_ORDER_ATTRIBUTE) + STAMP_BYTES
BLOB_ITEM_OVERHEAD = STAMP_OVERHEAD + len("customer_id") + len("1") + len("blob")


def test_sample_good_writes_its_five_customers(aws: Aws, lambda_context: DemoContext) -> None:
    """The brief's good sample ingests all five rows with every column as an attribute."""
    # given
    key, version = aws.upload_sample("sample-good.csv")
    # when
    summary = handler(aws.event(key, version), lambda_context)
    # then
    assert summary == {
        "files": [
            {
                "bucket": BUCKET,
                "key": key,
                "version_id": version,
                "status": "ingested",
                "rows_written": 5,
                "rows_rejected": 0,
                "rows_superseded": 0,
                "rows_unchanged": 0,
                "rows_deleted": 0,
            }
        ]
    }
    items = aws.items()
    assert sorted(items) == ["123456", "234567", "345678", "456789", "567890"]
    assert items["123456"] == {
        "customer_id": "123456",
        "name": "Tom",
        "age": "34",
        "date_of_birth": "17-04-1987",
        "favourite_colour": "Green",  # the CRLF line end is not part of the last cell
    }


def test_sample_bad_fails_naming_the_missing_key_column(aws: Aws, lambda_context: DemoContext) -> None:
    """The brief's bad sample fails with a message naming the object and `customer_id`; its header's cells are
    counted, not quoted (without the key column nothing shows that the row is not data)."""
    key, version = aws.upload_sample("sample-bad.csv")
    with pytest.raises(IngestError) as failure:
        handler(aws.event(key, version), lambda_context)
    message = str(failure.value)
    assert message.startswith(f"s3://{BUCKET}/sample-bad.csv: ")
    assert "no 'customer_id' column" in message
    assert "among its 4 columns (not quoted here" in message
    assert "date_of_birth" not in message
    assert aws.items() == {}


def test_odd_column_names_bom_padding_and_quoting_round_trip(aws: Aws, lambda_context: DemoContext) -> None:
    """BOM, padded header names, reserved words, odd characters, quoted commas/quotes/CRLF newlines all survive."""
    key, version = aws.upload_sample("edge-quoting-and-odd-columns.csv")
    summary = handler(aws.event(key, version), lambda_context)
    assert summary["files"][0]["rows_written"] == 3
    items = aws.items()
    assert items["101"] == {
        "customer_id": "101",
        "name": "Smith, Jane",
        "status": "active",
        "date": "2026-01-02",
        "first name": "Jane",
        "a.b": "dot",
        "x-y": "dash",
        "#tag": "hash",
        "café": "crème",
    }
    assert items["102"] == {
        "customer_id": "102",
        "name": 'She said "hi"',
        "status": "inactive",
        "date": "2026-02-03",
        "first name": "Multi\r\nline",
    }
    # Values are stored as written: leading zeros and padding inside a cell are data.
    assert items["103"] == {"customer_id": "103", "name": "00123", "status": "  padded  "}


@pytest.mark.parametrize(
    "key",
    ["uploads/march report.csv", "uploads/a+b=c.csv", "uploads/kunden-äöü/客户.csv", "uploads/100% done.csv"],
)
def test_url_encoded_keys_are_decoded(aws: Aws, lambda_context: DemoContext, key: str) -> None:
    """Keys with spaces, plus signs, percent signs and non-ASCII arrive URL-encoded and are read decoded."""
    version = aws.upload(key, "customer_id,name\n7,Gus\n")
    summary = handler(aws.event(key, version), lambda_context)
    assert summary["files"][0]["key"] == key
    assert summary["files"][0]["rows_written"] == 1
    assert aws.items()["7"]["name"] == "Gus"


def test_rejected_rows_are_counted_logged_and_the_rest_written(
    aws: Aws, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """Blank and whitespace keys and extra fields are rejected, each logged with line, key and reason."""
    key, version = aws.upload_sample("edge-rejected-rows.csv")
    summary = handler(aws.event(key, version), lambda_context)
    entry = summary["files"][0]
    assert (entry["rows_written"], entry["rows_rejected"]) == (3, 3)
    items = aws.items()
    assert sorted(items) == ["201", "203", "204"]
    assert items["203"] == {"customer_id": "203", "name": "Cid"}
    logged = [
        (log["line"], log.get("key"), log["reason"])
        for log in json_logs(stdout.readouterr().out)
        if log["message"] == "row rejected"
    ]
    assert logged == [
        (3, None, "the 'customer_id' cell is empty"),
        (4, None, "the 'customer_id' cell is empty"),
        (5, "202", "the row has 4 fields but the header has 3 columns (an unquoted comma in a cell?)"),
    ]


def test_cell_larger_than_pythons_default_field_limit_is_written(aws: Aws, lambda_context: DemoContext) -> None:
    """A 300 KB cell is over Python's default 128 KiB csv field limit but within DynamoDB's item limit."""
    long_text = "y" * (300 * 1024)
    version = aws.upload("long.csv", f'customer_id,notes\n1,"{long_text}"\n')
    handler(aws.event("long.csv", version), lambda_context)
    assert aws.items()["1"]["notes"] == long_text


def test_empty_cells_keep_existing_attributes_and_absent_columns_are_kept(
    aws: Aws, lambda_context: DemoContext
) -> None:
    """An upsert: empty cells write nothing and remove nothing; attributes the CSV lacks stay on the item."""
    aws.put_item(customer_id="1", name="Old Name", city="Oslo", loyalty="gold")
    version = aws.upload("update.csv", "customer_id,name,city\n1,New Name,\n")
    handler(aws.event("update.csv", version), lambda_context)
    assert aws.items()["1"] == {"customer_id": "1", "name": "New Name", "city": "Oslo", "loyalty": "gold"}


def test_key_only_rows_create_missing_items_and_leave_existing_ones(aws: Aws, lambda_context: DemoContext) -> None:
    """A row with only a key creates a bare item, and does not touch an item that exists."""
    aws.put_item(customer_id="1", name="Kept")
    version = aws.upload("keys.csv", "customer_id,name\n1,\n2,\n3\n")
    summary = handler(aws.event("keys.csv", version), lambda_context)
    assert summary["files"][0]["rows_written"] == 3
    assert aws.items() == {
        "1": {"customer_id": "1", "name": "Kept"},
        "2": {"customer_id": "2"},
        "3": {"customer_id": "3"},
    }


def test_rows_sharing_a_key_apply_in_file_order(aws: Aws, lambda_context: DemoContext) -> None:
    """Hundreds of rows over a few keys: later non-empty cells win, earlier ones a later row leaves empty stay."""
    lines = ["customer_id,seq,even_only,first_only"]
    for seq in range(600):
        key = f"k{seq % 3}"
        even = str(seq) if seq % 2 == 0 else ""
        first = "first" if seq < 3 else ""
        lines.append(f"{key},{seq},{even},{first}")
    version = aws.upload("ordered.csv", "\n".join(lines) + "\n")
    summary = handler(aws.event("ordered.csv", version), lambda_context)
    assert summary["files"][0]["rows_written"] == 600
    items = aws.items()
    # k0 gets seq 0, 3, ..., 597; its last even seq is 594. k1: last 598 is even. k2: last 599, last even 596.
    assert items["k0"] == {"customer_id": "k0", "seq": "597", "even_only": "594", "first_only": "first"}
    assert items["k1"] == {"customer_id": "k1", "seq": "598", "even_only": "598", "first_only": "first"}
    assert items["k2"] == {"customer_id": "k2", "seq": "599", "even_only": "596", "first_only": "first"}


def test_non_utf8_file_fails_naming_the_line(aws: Aws, lambda_context: DemoContext) -> None:
    """A Latin-1 file fails as not UTF-8, naming the first bad line."""
    key, version = aws.upload_sample("edge-not-utf8.csv")
    with pytest.raises(IngestError, match=r"not UTF-8 text \(invalid bytes on line 3\)"):
        handler(aws.event(key, version), lambda_context)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("customer_id,name,name\n1,A,B\n", "repeats column names 'name'"),
        ("customer_id,name,,age\n1,A,,3\n", "empty column names at position 3"),
        ("customer_id, name ,name\n1,A,B\n", "repeats column names 'name'"),
        ("", "the file is empty"),
    ],
)
def test_bad_headers_fail_and_write_nothing(aws: Aws, lambda_context: DemoContext, body: str, expected: str) -> None:
    """Duplicate (after trimming) or empty column names, or no header at all, fail the file before any write."""
    version = aws.upload("header.csv", body)
    with pytest.raises(IngestError, match=expected):
        handler(aws.event("header.csv", version), lambda_context)
    assert aws.items() == {}


@pytest.mark.parametrize(
    ("sample", "found", "separated"),
    [
        ("edge-semicolon.csv", "'customer_id;name;age'", "semicolons (;)"),
        ("edge-tab-separated.csv", "'customer_id\\tname\\tage'", "tabs"),
    ],
)
def test_semicolon_and_tab_files_fail_as_missing_key_column(
    aws: Aws, lambda_context: DemoContext, sample: str, found: str, separated: str
) -> None:
    """Non-comma separators fail as a missing key column; the message shows the one column found and why."""
    key, version = aws.upload_sample(sample)
    with pytest.raises(IngestError) as failure:
        handler(aws.event(key, version), lambda_context)
    assert "no 'customer_id' column" in str(failure.value)
    assert f"columns found: {found}" in str(failure.value)
    assert f"separated by {separated}, not commas (,)" in str(failure.value)


def test_header_only_file_is_a_success_with_no_rows(aws: Aws, lambda_context: DemoContext) -> None:
    """A file with just a header ingests nothing and does not fail."""
    key, version = aws.upload_sample("edge-header-only.csv")
    summary = handler(aws.event(key, version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (0, 0)
    assert aws.items() == {}


def test_reads_the_version_named_in_the_event(aws: Aws, lambda_context: DemoContext) -> None:
    """A quick overwrite does not make the first event ingest the second upload's content."""
    first = aws.upload("customers.csv", "customer_id,name\n1,First upload\n")
    aws.upload("customers.csv", "customer_id,name\n1,Second upload\n")
    summary = handler(aws.event("customers.csv", first), lambda_context)
    assert summary["files"][0]["version_id"] == first
    assert aws.items()["1"]["name"] == "First upload"


def test_every_record_of_an_event_is_ingested(aws: Aws, lambda_context: DemoContext) -> None:
    """Several records in one event: each object is ingested and has its own summary entry."""
    one = aws.upload("one.csv", "customer_id,name\n1,One\n")
    two = aws.upload("two.csv", "customer_id,name\n2,Two\n")
    event = {"Records": [aws.record("one.csv", one), aws.record("two.csv", two)]}
    summary = handler(event, lambda_context)
    assert [f["key"] for f in summary["files"]] == ["one.csv", "two.csv"]
    assert sorted(aws.items()) == ["1", "2"]


def test_a_failed_record_does_not_stop_the_others_but_fails_the_invocation(
    aws: Aws, lambda_context: DemoContext
) -> None:
    """One bad file in an event: the good one is still ingested, and the invocation raises naming the bad one."""
    bad = aws.upload("bad.csv", "name\nNo key\n")
    good = aws.upload("good.csv", "customer_id,name\n2,Two\n")
    event = {"Records": [aws.record("bad.csv", bad), aws.record("good.csv", good)]}
    with pytest.raises(IngestError, match=f"s3://{BUCKET}/bad.csv"):
        handler(event, lambda_context)
    assert sorted(aws.items()) == ["2"]


def test_non_csv_and_non_created_records_are_skipped(aws: Aws, lambda_context: DemoContext) -> None:
    """Records for other keys or other event types are skipped, not failed; `.CSV` in capitals is ingested."""
    upper = aws.upload("EXPORT.CSV", "customer_id,name\n1,Upper\n")
    event = {
        "Records": [
            aws.record("notes.txt", None),
            aws.record("gone.csv", None, event_name="ObjectRemoved:Delete"),
            aws.record("EXPORT.CSV", upper),
        ]
    }
    summary = handler(event, lambda_context)
    assert [f["status"] for f in summary["files"]] == ["skipped", "skipped", "ingested"]
    assert aws.items()["1"]["name"] == "Upper"


def test_an_event_that_is_not_an_s3_event_fails_instead_of_being_skipped(aws: Aws, lambda_context: DemoContext) -> None:
    """A record without S3's fields is a wiring mistake: the invocation fails loudly, nothing is skipped silently."""
    with pytest.raises(KeyError):
        handler({"Records": [{"eventName": "ObjectCreated:Put", "body": "{}"}]}, lambda_context)
    assert aws.items() == {}


def test_same_event_twice_leaves_the_same_table(aws: Aws, lambda_context: DemoContext) -> None:
    """S3 delivers at least once: a repeated event changes nothing."""
    key, version = aws.upload_sample("edge-quoting-and-odd-columns.csv")
    handler(aws.event(key, version), lambda_context)
    first = aws.items()
    handler(aws.event(key, version), lambda_context)
    assert aws.items() == first


def test_missing_object_fails_with_a_clear_message(aws: Aws, lambda_context: DemoContext) -> None:
    """An object deleted before the function ran fails naming the object, not with a bare 404."""
    with pytest.raises(IngestError, match=f"s3://{BUCKET}/deleted.csv: could not read the object"):
        handler(aws.event("deleted.csv", None), lambda_context)


@pytest.mark.parametrize("body", ["customer_id,name\n1,A\n", "name\nno key\n", b"customer_id\n\xff\n"])
def test_downloaded_file_is_deleted_after_success_and_failure(
    aws: Aws, lambda_context: DemoContext, tmp_downloads: Path, body: str | bytes
) -> None:
    """Warm Lambdas keep /tmp: the download is removed whether the file ingests or fails."""
    version = aws.upload("tmp.csv", body)
    with contextlib.suppress(IngestError):
        handler(aws.event("tmp.csv", version), lambda_context)
    assert list(tmp_downloads.iterdir()) == []


def test_missing_table_name_is_a_clear_configuration_error(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without TABLE_NAME the function says what is missing instead of failing on a None table."""
    monkeypatch.delenv("TABLE_NAME")
    with pytest.raises(RuntimeError, match="TABLE_NAME is not set"):
        handler(aws.event("x.csv", None), lambda_context)


def test_key_column_comes_from_the_environment(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KEY_COLUMN changes which column is required (the table's key is then that column)."""
    monkeypatch.setenv("KEY_COLUMN", "account")
    version = aws.upload("accounts.csv", "customer_id,name\n1,A\n")
    with pytest.raises(IngestError, match="no 'account' column"):
        handler(aws.event("accounts.csv", version), lambda_context)


def test_missing_table_fails_the_file_naming_the_table(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write error that is not about the row (here: no such table) fails the file with the table's name."""
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    key, version = aws.upload_sample("sample-good.csv")
    with pytest.raises(
        IngestError, match=r"writing line \d to DynamoDB table 'no-such-table' failed.*ResourceNotFound"
    ):
        handler(aws.event(key, version), lambda_context)


def test_replace_mode_puts_whole_items(aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """WRITE_MODE=replace: each row replaces its item (attributes absent from the row are gone); last row wins."""
    monkeypatch.setenv("WRITE_MODE", "replace")
    aws.put_item(customer_id="1", name="Old", loyalty="gold")
    version = aws.upload("load.csv", "customer_id,name,city\n1,Ann,Oslo\n2,Bob,\n2,Bea,Rome\n")
    summary = handler(aws.event("load.csv", version), lambda_context)
    assert summary["files"][0]["rows_written"] == 3
    assert aws.items() == {
        "1": {"customer_id": "1", "name": "Ann", "city": "Oslo"},
        "2": {"customer_id": "2", "name": "Bea", "city": "Rome"},
    }


@pytest.mark.parametrize(("name", "value"), [("WRITE_MODE", "upsert"), ("WRITE_CONCURRENCY", "0")])
def test_bad_write_settings_are_clear_configuration_errors(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """A mistyped WRITE_MODE or WRITE_CONCURRENCY names the variable instead of failing somewhere deeper."""
    monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=name):
        handler(aws.event("x.csv", None), lambda_context)


def test_the_event_builder_gives_every_field_of_s3s_own_event() -> None:
    """The one S3 event builder (the demo's) has the fields and types of AWS's example `ObjectCreated:Put` event."""
    example = json.loads((EVENTS / "s3-object-created-put.json").read_text())
    built = object_created_event(BUCKET, "customers.csv", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", 163, "0123456789abcdef")
    assert _shape(built) == _shape(example)


def _shape(value: Any) -> Any:
    """The structure of a JSON value: its keys, nesting and the type of each leaf, without the values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_dynamodb_requests_reach_the_backend_under_test(
    aws: Aws, dynamodb_backend: DynamoDBBackend, lambda_context: DemoContext
) -> None:
    """AWS_ENDPOINT_URL_DYNAMODB takes the handler's writes past moto's mock to dynalite; unset, they stay in moto."""
    key, version = aws.upload_sample("sample-good.csv")
    handler(aws.event(key, version), lambda_context)
    in_moto = boto3.client("dynamodb", endpoint_url="https://dynamodb.us-east-1.amazonaws.com").list_tables()
    assert (aws.table in in_moto["TableNames"]) == (dynamodb_backend.name == "moto")
    assert len(aws.items()) == 5


# DynamoDB's limits where moto or dynalite differ from DynamoDB: each test codes to DynamoDB's documented behaviour
# and skips the backend that cannot show it.


@pytest.mark.skip_backend("moto", reason="moto refuses items over 405,000 bytes; DynamoDB's limit is 409,600")
def test_an_item_of_exactly_400_kb_is_written(aws: Aws, lambda_context: DemoContext) -> None:
    """An item of exactly 409,600 UTF-8 bytes is within DynamoDB's limit (skipped on moto: it refuses over 405,000)."""
    blob = "x" * (MAX_ITEM_BYTES - BLOB_ITEM_OVERHEAD)
    version = aws.upload("limit.csv", f"customer_id,blob\n1,{blob}\n")
    summary = handler(aws.event("limit.csv", version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (1, 0)
    assert aws.items()["1"]["blob"] == blob


def test_an_item_one_byte_over_400_kb_is_rejected_by_the_rules(aws: Aws, lambda_context: DemoContext) -> None:
    """One byte over 409,600 and the row is rejected before any request, by our rule, not by the table."""
    blob = "x" * (MAX_ITEM_BYTES - BLOB_ITEM_OVERHEAD + 1)
    version = aws.upload("over.csv", f"customer_id,blob\n1,{blob}\n2,small\n")
    summary = handler(aws.event("over.csv", version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (1, 1)
    assert sorted(aws.items()) == ["2"]
    (report,) = aws.reports().values()
    assert (
        f"the item would be 409,601 bytes ({STAMP_OVERHEAD} of them the upload's order stamp), over DynamoDB's 400 KB "
        "item limit"
    ) in report


def test_an_item_over_400_kb_only_in_utf8_is_rejected_by_the_rules(aws: Aws, lambda_context: DemoContext) -> None:
    """Sizes are UTF-8 bytes, as DynamoDB counts them, not UTF-16 units, as dynalite does (it would store this row)."""
    blob = "é" * ((MAX_ITEM_BYTES - BLOB_ITEM_OVERHEAD) // 2 + 1)  # 2 bytes in UTF-8, 1 unit in UTF-16
    size = BLOB_ITEM_OVERHEAD + 2 * len(blob)  # one or two bytes over
    version = aws.upload("accents.csv", f"customer_id,blob\n1,{blob}\n")
    summary = handler(aws.event("accents.csv", version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (0, 1)
    assert aws.items() == {}
    (report,) = aws.reports().values()
    assert f"the item would be {size:,} bytes" in report


@pytest.mark.skip_backend("moto", reason="moto crashes (RecursionError) on an update with more than ~156 SET actions")
def test_a_merge_row_as_wide_as_one_update_allows_is_written(aws: Aws, lambda_context: DemoContext) -> None:
    """A row filling the most columns one 4 KB update expression can set is written (skipped on moto: it crashes)."""
    columns = [f"c{i}" for i in range(MERGE_MAX_ATTRIBUTES)]
    version = aws.upload("wide.csv", f"customer_id,{','.join(columns)}\n1,{','.join(columns)}\n")
    summary = handler(aws.event("wide.csv", version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (1, 0)
    assert aws.items()["1"] == {"customer_id": "1", **{column: column for column in columns}}


@pytest.mark.skip_backend("moto", reason="moto leaves the refused update's attributes behind on the item")
def test_an_update_that_would_outgrow_the_item_is_rejected_and_changes_nothing(
    aws: Aws, lambda_context: DemoContext
) -> None:
    """The table refuses a row that takes its item over 400 KB; the item stays as it was (skipped on moto: partial)."""
    aws.put_item(customer_id="1", notes="n" * 300_000)
    version = aws.upload("grow.csv", f"customer_id,name,extra\n1,Ann,{'e' * 200_000}\n")
    summary = handler(aws.event("grow.csv", version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (0, 1)
    assert aws.items()["1"] == {"customer_id": "1", "notes": "n" * 300_000}


@pytest.mark.skip_backend("moto", reason="moto counts an overwritten value's old and new size toward the item")
def test_overwriting_a_large_value_with_one_as_large_is_written(aws: Aws, lambda_context: DemoContext) -> None:
    """A 300 KB value replaced by another leaves a 300 KB item, which fits (skipped on moto: it counts 600 KB)."""
    aws.put_item(customer_id="1", notes="old " * 75_000)
    version = aws.upload("rewrite.csv", f"customer_id,notes\n1,{'new ' * 75_000}\n")
    summary = handler(aws.event("rewrite.csv", version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (1, 0)
    assert aws.items()["1"]["notes"] == "new " * 75_000


def test_replace_batches_stay_under_dynamodbs_16_mb_request_limit(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """25 rows of 300 KB accented text are ~23 MB as escaped JSON; all are written (moto has no 16 MB limit)."""
    monkeypatch.setenv("WRITE_MODE", "replace")
    monkeypatch.setenv("WRITE_CONCURRENCY", "1")  # one writer: all 25 rows are candidates for one batch
    text = "é" * 150_000
    version = aws.upload("accented.csv", "customer_id,text\n" + "".join(f"{i},{text}\n" for i in range(25)))
    summary = handler(aws.event("accented.csv", version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (25, 0)
    assert len(aws.items()) == 25
