"""S3 objects as local files: download one exact version to a private temporary file, always cleaned up."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from csv_ingest_engine.errors import IngestError

# For every client the engine uses. Standard mode retries throttling, 5xx and connection errors with exponential
# backoff and jitter.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10})


def dynamodb_config(concurrency: int) -> Config:
    """The DynamoDB client's settings for a writer with `concurrency` threads sharing it."""
    # One connection per writer thread. The engine builds every request itself, so botocore's parameter
    # validation is CPU spent proving what the rules already guarantee.
    return CLIENT_CONFIG.merge(Config(max_pool_connections=concurrency, parameter_validation=False))


@contextlib.contextmanager
def temporary_path(suffix: str = ".csv") -> Iterator[Path]:
    """A private temporary file's path, deleted on exit whatever happened (warm Lambdas keep /tmp)."""
    fd, name = tempfile.mkstemp(prefix="csv-ingest-", suffix=suffix)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def downloaded(s3: Any, bucket: str, key: str, version_id: str | None = None) -> Iterator[Path]:
    """Download `s3://bucket/key` (that version, if given) and yield the path; the file is deleted on exit."""
    with temporary_path() as path:
        try:
            s3.download_file(bucket, key, str(path), ExtraArgs={"VersionId": version_id} if version_id else None)
        except ClientError as exc:
            version = f" version {version_id}" if version_id else ""
            raise IngestError(
                f"s3://{bucket}/{key}",
                f"could not read the object{version} ({exc}); it may have been deleted, "
                "or the caller may lack s3:GetObject on it",
            ) from exc
        yield path


def rejects_report_key(key: str, version_id: str | None) -> str:
    """Where the rejected rows of `key` go in the reports bucket: beside a copy of its name, per version."""
    stem = key[:-4] if key.lower().endswith(".csv") else key
    return f"{stem}.{version_id}.rejected.csv" if version_id else f"{stem}.rejected.csv"
