"""S3 objects and the clients' settings: a download that cannot reach S3 is the file's error, and no call can
outlast the function's deadline margin."""

from __future__ import annotations

import functools
import socket
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from csv_ingest_engine import IngestError
from csv_ingest_engine.constants import DEADLINE_MARGIN_MS
from csv_ingest_engine.objects import CLIENT_CONFIG, downloaded, dynamodb_config
from csv_ingest_engine.tasks.trigger import handler
from tests.support import BUCKET, Aws, DemoContext
from tests.support.writing import CREDENTIALS


def unreachable_s3() -> Any:
    """An S3 client whose endpoint is a loopback port nothing listens on, with one attempt (the test need not wait
    out botocore's backoff)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", config=config, **CREDENTIALS)


def test_an_unreachable_s3_is_the_files_error_naming_the_object(tmp_downloads: Path) -> None:
    """A connection error on download becomes the file's IngestError, and no temporary file is left behind."""
    with pytest.raises(IngestError) as failure, downloaded(unreachable_s3(), "uploads", "data.csv", "v1"):
        pytest.fail("nothing was downloaded")
    message = str(failure.value)
    assert message.startswith("s3://uploads/data.csv: could not download the object version v1 (Could not connect")
    assert "ingesting the file again is safe" in message
    assert list(tmp_downloads.iterdir()) == []


def test_an_unreachable_s3_fails_its_record_and_the_events_other_records_are_ingested(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One record's download cannot reach S3: the next record is still ingested, and the invocation names the first."""
    # given: the first object's download goes to an unreachable endpoint, the second's to S3 (moto)
    lost = aws.upload("lost.csv", "customer_id,name\n1,One\n")
    good = aws.upload("good.csv", "customer_id,name\n2,Two\n")
    s3, nowhere = aws.s3, unreachable_s3()

    class OneKeyUnreachable:
        def download_file(self, bucket: str, key: str, filename: str, ExtraArgs: Any = None) -> None:
            (nowhere if key == "lost.csv" else s3).download_file(bucket, key, filename, ExtraArgs=ExtraArgs)

        def __getattr__(self, name: str) -> Any:
            return getattr(s3, name)

    # the handler's `s3_client()` is cached per process (the fixtures clear it): keep that shape
    monkeypatch.setattr("csv_ingest_engine.one_invocation.s3_client", functools.cache(OneKeyUnreachable))
    event = {"Records": [aws.record("lost.csv", lost), aws.record("good.csv", good)]}
    # when
    with pytest.raises(IngestError, match=f"s3://{BUCKET}/lost.csv: could not download the object"):
        handler(event, lambda_context)
    # then
    assert sorted(aws.items()) == ["2"]


@pytest.mark.parametrize("client", ["s3", "dynamodb"])
def test_a_stuck_call_cannot_outlast_the_deadline_margin(client: str) -> None:
    """Connect and read timeouts, times the attempts botocore makes, fit in the time the function keeps at the end.

    botocore's defaults (60 s + 60 s, 10 attempts) let one stuck write run for many minutes past the deadline.
    """
    made: Any  # botocore's Config: its options are set dynamically
    if client == "s3":
        made = boto3.client("s3", config=CLIENT_CONFIG, **CREDENTIALS).meta.config
    else:
        made = boto3.client("dynamodb", config=dynamodb_config(16), **CREDENTIALS).meta.config
    per_attempt = made.connect_timeout + made.read_timeout
    assert per_attempt < DEADLINE_MARGIN_MS / 1000
    if client == "dynamodb":  # the writer: one attempt per call, its own resending watches the deadline
        assert made.retries["total_max_attempts"] == 1
    else:  # an unreachable S3 (connect timeouts) gives up within the margin too
        assert made.retries["total_max_attempts"] * made.connect_timeout < DEADLINE_MARGIN_MS / 1000
