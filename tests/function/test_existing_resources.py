"""The function on resources it did not create (S3 in moto; DynamoDB in moto, then in dynalite): a bucket without
versioning, where S3's events carry no version id, and a table keyed otherwise than the deployment says."""

from __future__ import annotations

import uuid

import pytest

from csv_ingest_engine import IngestError
from handler import handler
from tests.support import REJECTS_BUCKET, Aws, DemoContext, create_table, object_created_event

UNVERSIONED_BUCKET = "acme-incoming"


def test_an_upload_to_a_bucket_without_versioning_is_ingested(aws: Aws, lambda_context: DemoContext) -> None:
    """No version id in the event (S3 sends none without versioning): the object as it is is read, its rows written,
    and its rejected rows reported under the upload's key without a version."""
    # given: an existing bucket, never versioned, and a file under the pipeline's prefix
    aws.s3.create_bucket(Bucket=UNVERSIONED_BUCKET)
    key = "customers/2024-06.csv"
    aws.s3.put_object(Bucket=UNVERSIONED_BUCKET, Key=key, Body=b"customer_id,name\n1,Ann\n,nobody\n2,Bo\n")
    # when
    summary = handler(object_created_event(UNVERSIONED_BUCKET, key, None), lambda_context)
    # then
    assert summary["files"] == [
        {
            "bucket": UNVERSIONED_BUCKET,
            "key": key,
            "version_id": None,
            "status": "ingested",
            "rows_written": 2,
            "rows_rejected": 1,
            "rows_superseded": 0,
            "rows_unchanged": 0,
            "rows_deleted": 0,
            "rejects_report": f"s3://{REJECTS_BUCKET}/customers/2024-06.rejected.csv",
        }
    ]
    assert {key: item["name"] for key, item in aws.items().items()} == {"1": "Ann", "2": "Bo"}
    assert list(aws.reports()) == ["customers/2024-06.rejected.csv"]


def test_a_table_keyed_otherwise_fails_the_file_naming_its_key_schema_and_the_fix(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing table whose key is not the deployment's (here `id`, the stack's `customer_id`): every write would
    be refused, so the file fails, saying what the rows are keyed on, how to see the table's key, and the context keys
    that fix the deployment."""
    # given: the functions are pointed at a table keyed on another column
    other = f"accounts-{uuid.uuid4().hex[:8]}"
    create_table(aws.dynamodb, other, "id")
    monkeypatch.setenv("TABLE_NAME", other)
    key, version = aws.upload_sample("sample-good.csv")
    # when / then
    try:
        with pytest.raises(IngestError) as failure:
            handler(aws.event(key, version), lambda_context)
    finally:
        aws.dynamodb.delete_table(TableName=other)
    message = str(failure.value)
    assert f"DynamoDB table '{other}' failed" in message
    assert "'customer_id' column as the item's key" in message
    assert f"aws dynamodb describe-table --table-name {other} --query Table.KeySchema" in message
    assert "-c key_column=... -c key_type=..." in message
    assert "sort_key_column and sort_key_type" in message
