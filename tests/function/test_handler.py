"""The function end to end against moto: S3 event in, table contents and summary out."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from moto_account import BUCKET, Aws, EventFactory, FakeLambdaContext, json_logs

from csv_ingest_engine import IngestError
from handler import handler

pytestmark = pytest.mark.usefixtures("aws")


def test_sample_good_writes_its_five_customers(aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext):
    """The brief's good sample ingests all five rows with every column as an attribute."""
    # given
    key, version = aws.upload_sample("sample-good.csv")
    # when
    summary = handler(s3_event(key, version), lambda_context)
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


def test_sample_bad_fails_naming_the_missing_key_column(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext
):
    """The brief's bad sample fails with a message naming the object, `customer_id` and the columns found."""
    key, version = aws.upload_sample("sample-bad.csv")
    with pytest.raises(IngestError) as failure:
        handler(s3_event(key, version), lambda_context)
    message = str(failure.value)
    assert message.startswith(f"s3://{BUCKET}/sample-bad.csv: ")
    assert "no 'customer_id' column" in message
    assert "'name', 'age', 'date_of_birth', 'favourite_colour'" in message
    assert aws.items() == {}


def test_odd_column_names_bom_padding_and_quoting_round_trip(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext
):
    """BOM, padded header names, reserved words, odd characters, quoted commas/quotes/CRLF newlines all survive."""
    key, version = aws.upload_sample("edge-quoting-and-odd-columns.csv")
    summary = handler(s3_event(key, version), lambda_context)
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
def test_url_encoded_keys_are_decoded(aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, key: str):
    """Keys with spaces, plus signs, percent signs and non-ASCII arrive URL-encoded and are read decoded."""
    version = aws.upload(key, "customer_id,name\n7,Gus\n")
    summary = handler(s3_event(key, version), lambda_context)
    assert summary["files"][0]["key"] == key
    assert summary["files"][0]["rows_written"] == 1
    assert aws.items()["7"]["name"] == "Gus"


def test_rejected_rows_are_counted_logged_and_the_rest_written(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, stdout: pytest.CaptureFixture[str]
):
    """Blank and whitespace keys and extra fields are rejected, each logged with line, key and reason."""
    key, version = aws.upload_sample("edge-rejected-rows.csv")
    summary = handler(s3_event(key, version), lambda_context)
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


def test_oversize_row_is_rejected_before_it_reaches_dynamodb(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext
):
    """A row over DynamoDB's 400 KB item limit is rejected by our check (moto would accept it; DynamoDB does not)."""
    big = "x" * (400 * 1024)
    version = aws.upload("big.csv", f"customer_id,blob\n1,{big}\n2,small\n")
    summary = handler(s3_event("big.csv", version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (1, 1)
    assert sorted(aws.items()) == ["2"]


def test_cell_larger_than_pythons_default_field_limit_is_written(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext
):
    """A 300 KB cell is over Python's default 128 KiB csv field limit but within DynamoDB's item limit."""
    long_text = "y" * (300 * 1024)
    version = aws.upload("long.csv", f'customer_id,notes\n1,"{long_text}"\n')
    handler(s3_event("long.csv", version), lambda_context)
    assert aws.items()["1"]["notes"] == long_text


def test_empty_cells_keep_existing_attributes_and_absent_columns_are_kept(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext
):
    """An upsert: empty cells write nothing and remove nothing; attributes the CSV lacks stay on the item."""
    aws.put_item(customer_id="1", name="Old Name", city="Oslo", loyalty="gold")
    version = aws.upload("update.csv", "customer_id,name,city\n1,New Name,\n")
    handler(s3_event("update.csv", version), lambda_context)
    assert aws.items()["1"] == {"customer_id": "1", "name": "New Name", "city": "Oslo", "loyalty": "gold"}


def test_key_only_rows_create_missing_items_and_leave_existing_ones(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext
):
    """A row with only a key creates a bare item, and does not touch an item that exists."""
    aws.put_item(customer_id="1", name="Kept")
    version = aws.upload("keys.csv", "customer_id,name\n1,\n2,\n3\n")
    summary = handler(s3_event("keys.csv", version), lambda_context)
    assert summary["files"][0]["rows_written"] == 3
    assert aws.items() == {
        "1": {"customer_id": "1", "name": "Kept"},
        "2": {"customer_id": "2"},
        "3": {"customer_id": "3"},
    }


def test_rows_sharing_a_key_apply_in_file_order(aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext):
    """Hundreds of rows over a few keys: later non-empty cells win, earlier ones a later row leaves empty stay."""
    lines = ["customer_id,seq,even_only,first_only"]
    for seq in range(600):
        key = f"k{seq % 3}"
        even = str(seq) if seq % 2 == 0 else ""
        first = "first" if seq < 3 else ""
        lines.append(f"{key},{seq},{even},{first}")
    version = aws.upload("ordered.csv", "\n".join(lines) + "\n")
    summary = handler(s3_event("ordered.csv", version), lambda_context)
    assert summary["files"][0]["rows_written"] == 600
    items = aws.items()
    # k0 gets seq 0, 3, ..., 597; its last even seq is 594. k1: last 598 is even. k2: last 599, last even 596.
    assert items["k0"] == {"customer_id": "k0", "seq": "597", "even_only": "594", "first_only": "first"}
    assert items["k1"] == {"customer_id": "k1", "seq": "598", "even_only": "598", "first_only": "first"}
    assert items["k2"] == {"customer_id": "k2", "seq": "599", "even_only": "596", "first_only": "first"}


def test_non_utf8_file_fails_naming_the_line(aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext):
    """A Latin-1 file fails as not UTF-8, naming the first bad line."""
    key, version = aws.upload_sample("edge-not-utf8.csv")
    with pytest.raises(IngestError, match=r"not UTF-8 text \(invalid bytes on line 3\)"):
        handler(s3_event(key, version), lambda_context)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("customer_id,name,name\n1,A,B\n", "repeats column names 'name'"),
        ("customer_id,name,,age\n1,A,,3\n", "empty column names at position 3"),
        ("customer_id, name ,name\n1,A,B\n", "repeats column names 'name'"),
        ("", "the file is empty"),
    ],
)
def test_bad_headers_fail_and_write_nothing(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, body: str, expected: str
):
    """Duplicate (after trimming) or empty column names, or no header at all, fail the file before any write."""
    version = aws.upload("header.csv", body)
    with pytest.raises(IngestError, match=expected):
        handler(s3_event("header.csv", version), lambda_context)
    assert aws.items() == {}


@pytest.mark.parametrize(
    ("sample", "found"), [("edge-semicolon.csv", "'customer_id;name;age'"), ("edge-tab-separated.csv", "'customer_id")]
)
def test_semicolon_and_tab_files_fail_as_missing_key_column(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, sample: str, found: str
):
    """Non-comma separators fail as a missing key column; the message shows the one column found and why."""
    key, version = aws.upload_sample(sample)
    with pytest.raises(IngestError) as failure:
        handler(s3_event(key, version), lambda_context)
    assert "no 'customer_id' column" in str(failure.value)
    assert f"columns found: {found}" in str(failure.value)
    assert "separated by something other than commas" in str(failure.value)


def test_header_only_file_is_a_success_with_no_rows(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext
):
    """A file with just a header ingests nothing and does not fail."""
    key, version = aws.upload_sample("edge-header-only.csv")
    summary = handler(s3_event(key, version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (0, 0)
    assert aws.items() == {}


def test_reads_the_version_named_in_the_event(aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext):
    """A quick overwrite does not make the first event ingest the second upload's content."""
    first = aws.upload("customers.csv", "customer_id,name\n1,First upload\n")
    aws.upload("customers.csv", "customer_id,name\n1,Second upload\n")
    summary = handler(s3_event("customers.csv", first), lambda_context)
    assert summary["files"][0]["version_id"] == first
    assert aws.items()["1"]["name"] == "First upload"


def test_every_record_of_an_event_is_ingested(aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext):
    """Several records in one event: each object is ingested and has its own summary entry."""
    one = aws.upload("one.csv", "customer_id,name\n1,One\n")
    two = aws.upload("two.csv", "customer_id,name\n2,Two\n")
    event = {"Records": [s3_event.record("one.csv", one), s3_event.record("two.csv", two)]}
    summary = handler(event, lambda_context)
    assert [f["key"] for f in summary["files"]] == ["one.csv", "two.csv"]
    assert sorted(aws.items()) == ["1", "2"]


def test_a_failed_record_does_not_stop_the_others_but_fails_the_invocation(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext
):
    """One bad file in an event: the good one is still ingested, and the invocation raises naming the bad one."""
    bad = aws.upload("bad.csv", "name\nNo key\n")
    good = aws.upload("good.csv", "customer_id,name\n2,Two\n")
    event = {"Records": [s3_event.record("bad.csv", bad), s3_event.record("good.csv", good)]}
    with pytest.raises(IngestError, match=f"s3://{BUCKET}/bad.csv"):
        handler(event, lambda_context)
    assert sorted(aws.items()) == ["2"]


def test_non_csv_and_non_created_records_are_skipped(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext
):
    """Records for other keys or other event types are skipped, not failed; `.CSV` in capitals is ingested."""
    upper = aws.upload("EXPORT.CSV", "customer_id,name\n1,Upper\n")
    event = {
        "Records": [
            s3_event.record("notes.txt", None),
            s3_event.record("gone.csv", None, event_name="ObjectRemoved:Delete"),
            s3_event.record("EXPORT.CSV", upper),
        ]
    }
    summary = handler(event, lambda_context)
    assert [f["status"] for f in summary["files"]] == ["skipped", "skipped", "ingested"]
    assert aws.items()["1"]["name"] == "Upper"


def test_same_event_twice_leaves_the_same_table(aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext):
    """S3 delivers at least once: a repeated event changes nothing."""
    key, version = aws.upload_sample("edge-quoting-and-odd-columns.csv")
    handler(s3_event(key, version), lambda_context)
    first = aws.items()
    handler(s3_event(key, version), lambda_context)
    assert aws.items() == first


def test_missing_object_fails_with_a_clear_message(aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext):
    """An object deleted before the function ran fails naming the object, not with a bare 404."""
    with pytest.raises(IngestError, match=f"s3://{BUCKET}/deleted.csv: could not read the object"):
        handler(s3_event("deleted.csv", None), lambda_context)


@pytest.mark.parametrize("body", ["customer_id,name\n1,A\n", "name\nno key\n", b"customer_id\n\xff\n"])
def test_downloaded_file_is_deleted_after_success_and_failure(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, tmp_downloads: Path, body: str | bytes
):
    """Warm Lambdas keep /tmp: the download is removed whether the file ingests or fails."""
    version = aws.upload("tmp.csv", body)
    with contextlib.suppress(IngestError):
        handler(s3_event("tmp.csv", version), lambda_context)
    assert list(tmp_downloads.iterdir()) == []


def test_missing_table_name_is_a_clear_configuration_error(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
):
    """Without TABLE_NAME the function says what is missing instead of failing on a None table."""
    monkeypatch.delenv("TABLE_NAME")
    with pytest.raises(RuntimeError, match="TABLE_NAME is not set"):
        handler(s3_event("x.csv", None), lambda_context)


def test_key_column_comes_from_the_environment(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
):
    """KEY_COLUMN changes which column is required (the table's key is then that column)."""
    monkeypatch.setenv("KEY_COLUMN", "account")
    version = aws.upload("accounts.csv", "customer_id,name\n1,A\n")
    with pytest.raises(IngestError, match="no 'account' column"):
        handler(s3_event("accounts.csv", version), lambda_context)


def test_missing_table_fails_the_file_naming_the_table(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
):
    """A write error that is not about the row (here: no such table) fails the file with the table's name."""
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    key, version = aws.upload_sample("sample-good.csv")
    with pytest.raises(
        IngestError, match=r"writing line \d to DynamoDB table 'no-such-table' failed.*ResourceNotFound"
    ):
        handler(s3_event(key, version), lambda_context)


def test_replace_mode_puts_whole_items(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
):
    """WRITE_MODE=replace: each row replaces its item (attributes absent from the row are gone); last row wins."""
    monkeypatch.setenv("WRITE_MODE", "replace")
    aws.put_item(customer_id="1", name="Old", loyalty="gold")
    version = aws.upload("load.csv", "customer_id,name,city\n1,Ann,Oslo\n2,Bob,\n2,Bea,Rome\n")
    summary = handler(s3_event("load.csv", version), lambda_context)
    assert summary["files"][0]["rows_written"] == 3
    assert aws.items() == {
        "1": {"customer_id": "1", "name": "Ann", "city": "Oslo"},
        "2": {"customer_id": "2", "name": "Bea", "city": "Rome"},
    }


@pytest.mark.parametrize(("name", "value"), [("WRITE_MODE", "upsert"), ("WRITE_CONCURRENCY", "0")])
def test_bad_write_settings_are_clear_configuration_errors(
    aws: Aws, s3_event: EventFactory, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch, name, value
):
    """A mistyped WRITE_MODE or WRITE_CONCURRENCY names the variable instead of failing somewhere deeper."""
    monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=name):
        handler(s3_event("x.csv", None), lambda_context)
