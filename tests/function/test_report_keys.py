"""A rejects report's key fits S3's 1,024 bytes whatever the upload's key: a longer one is shortened the same way
every time, keeping the key's start, the version and a hash of what was cut (issue 19, item 5)."""

from __future__ import annotations

import hashlib

import pytest

from csv_ingest_engine.objects import CUT_HASH_CHARS, MAX_KEY_BYTES, rejects_report_key
from handler import handler
from tests.support import REJECTS_BUCKET, Aws, DemoContext

# An S3 version id as S3 writes them (32 characters).
VERSION = "3HL4kqtJlcpXroDTDmJ.rVSLwaa5pyEu"


def longest_key(stem: str = "uploads/") -> str:
    """A `.csv` key of 1,023 bytes (S3 allows 1,024), starting with `stem`."""
    return stem + "k" * (1023 - len(stem.encode()) - len(".csv")) + ".csv"


@pytest.mark.parametrize("version_id", [VERSION, None])
def test_a_report_key_past_s3s_limit_is_cut_to_1024_bytes_keeping_the_start_and_version(version_id: str | None) -> None:
    """The 1,023-byte key's report key is 1,024 bytes: the key's start, `~`, 16 hex digits of the SHA-256 of the
    part cut, then the version and `.rejected.csv`."""
    key = longest_key()
    report_key = rejects_report_key(key, version_id)
    ending = f".{version_id}.rejected.csv" if version_id else ".rejected.csv"
    assert len(report_key.encode()) == MAX_KEY_BYTES
    kept, _, rest = report_key.partition("~")
    assert key.startswith(kept) and rest.endswith(ending)
    cut = key[len(kept) : -len(".csv")]
    assert rest == hashlib.sha256(cut.encode()).hexdigest()[:CUT_HASH_CHARS] + ending


def test_keys_that_differ_only_past_the_cut_get_reports_of_their_own() -> None:
    """Two long keys that share their first 1,000 bytes are reported under different keys, each the same every time."""
    first, second = longest_key(), longest_key()[:-5] + "z.csv"
    assert rejects_report_key(first, VERSION) != rejects_report_key(second, VERSION)
    assert rejects_report_key(first, VERSION) == rejects_report_key(first, VERSION)


def test_a_multibyte_key_is_cut_between_characters() -> None:
    """A key of two-byte characters is cut on a character boundary: the report key is valid UTF-8 and fits."""
    key = "uploads/" + "é" * 506 + ".csv"
    report_key = rejects_report_key(key, VERSION)
    assert len(report_key.encode()) <= MAX_KEY_BYTES
    assert report_key.startswith("uploads/éé") and "\ufffd" not in report_key


def test_a_report_key_that_fits_is_left_as_it_was() -> None:
    """A key whose report key fits is reported beside a copy of its name, as before."""
    key = "uploads/" + "k" * (MAX_KEY_BYTES - len(f"uploads/.{VERSION}.rejected.csv")) + ".csv"
    assert rejects_report_key(key, VERSION) == key[: -len(".csv")] + f".{VERSION}.rejected.csv"
    assert len(rejects_report_key(key, VERSION).encode()) == MAX_KEY_BYTES


def test_a_file_under_s3s_longest_key_has_its_rejected_row_reported(aws: Aws, lambda_context: DemoContext) -> None:
    """A 1,023-byte key with one rejected row: the file goes in, and the summary names a report key S3 can hold,
    where the report is. (moto accepts longer keys; S3 refuses them, and the file used to fail there.)"""
    key = longest_key()
    version = aws.upload(key, "customer_id,name\n,nameless\n7,Gus\n")
    (entry,) = handler(aws.event(key, version), lambda_context)["files"]
    report_key = rejects_report_key(key, version)
    assert entry["status"] == "ingested" and entry["rows_rejected"] == 1
    assert entry["rejects_report"] == f"s3://{REJECTS_BUCKET}/{report_key}"
    assert len(report_key.encode()) <= MAX_KEY_BYTES
    assert "nameless" in aws.reports()[report_key]
