"""Files as people really have them (Excel exports, joined exports, padded keys, wrong formats), through the handler."""

from __future__ import annotations

import csv
import gzip
import io
import unicodedata

import pytest

from csv_ingest_engine import IngestError
from handler import handler
from tests.support import Aws, DemoContext


def report_rows(aws: Aws) -> list[list[str]]:
    (report,) = aws.reports().values()
    return list(csv.reader(io.StringIO(report)))


def test_keys_that_differ_only_by_surrounding_whitespace_are_one_item(aws: Aws, lambda_context: DemoContext) -> None:
    """`42`, ` 42`, `42 ` and a tab before 42 update one item, in file order."""
    version = aws.upload("padded.csv", "customer_id,seq\n42,1\n 42,2\n42 ,3\n\t42,4\n")
    summary = handler(aws.event("padded.csv", version), lambda_context)
    assert summary["files"][0]["rows_written"] == 4
    assert aws.items() == {"42": {"customer_id": "42", "seq": "4"}}


def test_nfc_and_nfd_spellings_of_a_key_are_one_item(aws: Aws, lambda_context: DemoContext) -> None:
    """`café` from a Mac (NFD) and from Windows (NFC) is one item, stored in NFC."""
    nfd = unicodedata.normalize("NFD", "café")
    version = aws.upload("accents.csv", f"customer_id,seq\ncafé,1\n{nfd},2\n")
    handler(aws.event("accents.csv", version), lambda_context)
    assert aws.items() == {"café": {"customer_id": "café", "seq": "2"}}


def test_a_key_over_dynamodbs_limit_is_rejected_before_it_is_sent(aws: Aws, lambda_context: DemoContext) -> None:
    """A 2,049-byte key is rejected by the rules with DynamoDB's limit; the other rows go in."""
    long_key = "k" * 2049
    version = aws.upload("long-key.csv", f"customer_id,name\n{long_key},Ann\n1,Bob\n")
    summary = handler(aws.event("long-key.csv", version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (1, 1)
    assert sorted(aws.items()) == ["1"]
    assert report_rows(aws)[1][3].startswith("the key is 2,049 bytes long in UTF-8")


def test_an_excel_export_with_empty_rows_and_columns_loads(aws: Aws, lambda_context: DemoContext) -> None:
    """Empty rows skipped, nameless trailing columns dropped, a padded key trimmed; a value with no column rejected."""
    key, version = aws.upload_sample("edge-excel-export.csv")
    summary = handler(aws.event(key, version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (3, 1)
    assert aws.items() == {
        "301": {"customer_id": "301", "name": "Ann", "city": "Oslo"},
        "302": {"customer_id": "302", "name": "Bob", "city": "Paris"},
        "304": {"customer_id": "304", "name": "Dee"},
    }
    reason = "the row has a value in column 5, which has no name in the header; name the column, or remove the value"
    assert report_rows(aws)[1] == ["303", "Cid", "Rome", "5", reason, "", "note"]


def test_a_fixed_report_of_a_file_with_nameless_columns_loads_as_is(aws: Aws, lambda_context: DemoContext) -> None:
    """The report drops the nameless columns; the empty cells left after its annotations do not reject the rows."""
    version = aws.upload("export.csv", "customer_id,name,,\r\n,Ann,,\r\n")
    handler(aws.event("export.csv", version), lambda_context)
    rows = report_rows(aws)
    assert rows == [
        ["customer_id", "name", "rejected_line", "rejected_reason"],
        ["", "Ann", "2", "the 'customer_id' cell is empty", "", ""],
    ]
    rows[1][0] = "7"  # the user fills in the key
    fixed = io.StringIO()
    csv.writer(fixed).writerows(rows)
    fixed_version = aws.upload("fixed.csv", fixed.getvalue())
    summary = handler(aws.event("fixed.csv", fixed_version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (1, 0)
    assert aws.items() == {"7": {"customer_id": "7", "name": "Ann"}}


def test_two_exports_joined_with_cat_load_without_a_header_item(aws: Aws, lambda_context: DemoContext) -> None:
    """The second export's header (BOM and all) is rejected as a repeated header, never written as an item."""
    key, version = aws.upload_sample("edge-concatenated-exports.csv")
    summary = handler(aws.event(key, version), lambda_context)
    assert (summary["files"][0]["rows_written"], summary["files"][0]["rows_rejected"]) == (3, 1)
    assert sorted(aws.items()) == ["401", "402", "403"]
    (_, rejected) = report_rows(aws)
    assert rejected[:3] == ["\ufeffcustomer_id", "name", "4"]  # the cells as written, BOM included
    assert rejected[3].startswith("repeated header row")


def test_a_gzip_file_fails_saying_it_is_compressed(aws: Aws, lambda_context: DemoContext) -> None:
    """An `export.csv` that is really gzip data is named as such, and nothing is written."""
    version = aws.upload("export.csv", gzip.compress(b"customer_id,name\n1,Ann\n"))
    with pytest.raises(IngestError, match="this is a gzip-compressed file"):
        handler(aws.event("export.csv", version), lambda_context)
    assert aws.items() == {}


def test_a_utf16_file_fails_saying_it_is_utf16(aws: Aws, lambda_context: DemoContext) -> None:
    """Excel's "Unicode Text" (UTF-16 with a byte-order mark) is named as such, with the format to save as."""
    version = aws.upload("export.csv", "customer_id,name\r\n1,Ann\r\n".encode("utf-16"))
    with pytest.raises(
        IngestError, match=r"this is UTF-16 text, not UTF-8; save it as 'CSV UTF-8 \(comma delimited\)'"
    ):
        handler(aws.event("export.csv", version), lambda_context)


def test_a_near_miss_key_column_fails_naming_it_and_the_key_column_setting(
    aws: Aws, lambda_context: DemoContext
) -> None:
    """`Customer_ID` instead of `customer_id`: the message names the column and how to deploy or load with it."""
    version = aws.upload("export.csv", "Customer_ID,name\n1,Ann\n")
    with pytest.raises(IngestError) as failure:
        handler(aws.event("export.csv", version), lambda_context)
    message = str(failure.value)
    assert "Column 'Customer_ID' nearly matches: rename it to 'customer_id'" in message
    assert "deploy with `-c key_column=Customer_ID`" in message
    assert "`csv-ingest load --key-column Customer_ID`" in message


def test_a_space_before_a_quoted_header_name_does_not_put_quotes_in_the_attribute_name(
    aws: Aws, lambda_context: DemoContext
) -> None:
    """`customer_id, "name"` writes an attribute `name`, not `"name"`."""
    version = aws.upload("spaced.csv", 'customer_id, "name", "city, country"\n1,Ann,"Oslo, Norway"\n')
    handler(aws.event("spaced.csv", version), lambda_context)
    assert aws.items() == {"1": {"customer_id": "1", "name": "Ann", "city, country": "Oslo, Norway"}}
