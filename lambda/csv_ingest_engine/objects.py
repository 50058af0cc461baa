"""S3 objects as local files: download one exact version to a private temporary file, always cleaned up."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine.constants import CSV_SUFFIXES
from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.schema import gzipped

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectRequestTypeDef, HeadObjectRequestTypeDef

# Sized to the function's deadline margin (DEADLINE_MARGIN_MS, 30 s): with botocore's default timeouts (60 s to
# connect, 60 s per read) and ten retries, one stuck call outlives the margin, and Lambda kills the invocation
# before the rejects report, the metrics and the summary are written. DynamoDB answers a write in milliseconds, and
# S3 starts a download or takes a report about as fast, so 5 s to connect and 10 s of silence on a read only cut
# off a call that has gone wrong, and one attempt (15 s at worst) fits the margin with room to spare.
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 10
# S3 (download, rejects report): standard mode retries throttling, 5xx and connection errors with exponential
# backoff and jitter. Three attempts ride out a blip, and an unreachable S3 fails the call in about 20 s, inside the
# margin (only a server that takes the connection and then stays silent every time could hold it for 45 s).
CLIENT_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    retries={"mode": "standard", "total_max_attempts": 3},
)

# EventBridge (a file's outcome event) answers in milliseconds: 2 s to connect and 5 s of silence cut off a call gone
# wrong, and two attempts (about 15 s at worst) keep an outcome that cannot be sent from eating the deadline margin.
OUTCOME_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 2},
)

# S3's longest object key, in UTF-8 bytes; a rejects report's name longer than that is shortened (see
# `rejects_report_key`) by putting CUT_MARK and CUT_HASH_CHARS hex digits of a hash where the cut part was.
MAX_KEY_BYTES = 1024
CUT_MARK = "~"
CUT_HASH_CHARS = 16


def dynamodb_config(concurrency: int) -> Config:
    """The DynamoDB client's settings for a writer with `concurrency` threads sharing it."""
    # One connection per writer thread. The engine builds every request itself, so botocore's parameter
    # validation is CPU spent proving what the rules already guarantee. One attempt per call: the writer sends
    # throttled and failed writes again itself, for as long as the table makes progress and never past the
    # deadline; botocore's retries would sleep where the deadline cannot reach, and give up once their quota is
    # spent, however well the table is doing. (botocore's adaptive mode, client-side rate limiting, was measured
    # against the stub refusing 60% of writes: it had not loaded 300 rows after 5 minutes; standard took 14 s.)
    return CLIENT_CONFIG.merge(
        Config(
            max_pool_connections=concurrency,
            parameter_validation=False,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
    )


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
def downloaded(s3: S3Client, bucket: str, key: str, version_id: str | None = None) -> Iterator[Path]:
    """Download `s3://bucket/key` (that version, if given) and yield the path; the file is deleted on exit.

    The path ends as the key does (`.csv` or `.csv.gz`), so the reader knows to decompress it."""
    with temporary_path(suffix=".csv.gz" if gzipped(key) else ".csv") as path:
        version = f" version {version_id}" if version_id else ""
        try:
            s3.download_file(bucket, key, str(path), ExtraArgs={"VersionId": version_id} if version_id else None)
        except ClientError as exc:
            raise IngestError(
                f"s3://{bucket}/{key}",
                f"could not read the object{version} ({exc}); it may have been deleted, "
                "or the caller may lack s3:GetObject on it",
            ) from exc
        except (BotoCoreError, Boto3Error) as exc:  # unreachable endpoint, timeouts, a download cut short
            raise IngestError(
                f"s3://{bucket}/{key}",
                f"could not download the object{version} ({exc}); S3 could not be reached or stopped answering. "
                "Nothing was written, and ingesting the file again is safe",
            ) from exc
        yield path


def last_bytes(s3: S3Client, bucket: str, key: str, version_id: str | None, size: int, count: int = 4) -> bytes | None:
    """The object version's last `count` bytes (a gzip file's trailer), or None when they cannot be read: the caller
    then goes by the object's size alone."""
    if size < count:
        return None
    request: GetObjectRequestTypeDef = {"Bucket": bucket, "Key": key, "Range": f"bytes={size - count}-{size - 1}"}
    if version_id:
        request["VersionId"] = version_id
    try:
        response = s3.get_object(**request)
        data: bytes = response["Body"].read()
    except (BotoCoreError, ClientError):
        return None
    return data if len(data) == count else None


def created_at(s3: S3Client, bucket: str, key: str, version_id: str | None) -> datetime | None:
    """When S3 created the object version (its Last-Modified, to the second), or None when it cannot be asked."""
    request: HeadObjectRequestTypeDef = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    try:
        return s3.head_object(**request)["LastModified"]
    except (BotoCoreError, ClientError):
        return None


def rejects_report_key(key: str, version_id: str | None) -> str:
    """Where the rejected rows of `key` go in the reports bucket: beside a copy of its name, per version.

    A name longer than S3's MAX_KEY_BYTES is shortened, the same way every time: the key's start, as much of it as
    fits, then `~` and CUT_HASH_CHARS hex digits of the SHA-256 of the part cut, then the version and the ending
    (`<start>~<hash>.<version id>.rejected.csv`), so that reports of keys that differ only past the cut stay apart.
    """
    # `orders.csv.gz` is reported in `orders.rejected.csv`: the report is plain CSV.
    for suffix in sorted(CSV_SUFFIXES, key=len, reverse=True):
        if key.lower().endswith(suffix):
            stem = key[: -len(suffix)]
            break
    else:
        stem = key
    ending = f".{version_id}.rejected.csv" if version_id else ".rejected.csv"
    if len(stem.encode()) + len(ending.encode()) <= MAX_KEY_BYTES:
        return stem + ending
    room = MAX_KEY_BYTES - len(ending.encode()) - len(CUT_MARK) - CUT_HASH_CHARS
    # Cut on a character's boundary: the key is UTF-8 in S3.
    kept = stem.encode()[: max(room, 0)].decode(errors="ignore")
    digest = hashlib.sha256(stem[len(kept) :].encode()).hexdigest()[:CUT_HASH_CHARS]
    return f"{kept}{CUT_MARK}{digest}{ending}"
