"""An S3 object version read to its end through dropped connections: a read that fails mid-stream reopens the same
version with a ranged GET from the first byte not yet read, so a network blip costs a reconnect, not the pass."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import IncompleteRead, ProtocolError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError

from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.jobs import AGAIN
from csv_ingest_engine.telemetry import logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef, GetObjectRequestTypeDef

# What a connection that drops or stalls mid-body raises: botocore wraps most of urllib3's errors (a cut stream, a
# read timeout, a body shorter than its Content-Length), and a reset socket can come through as the OSError it is.
DROPPED = (
    ResponseStreamingError,
    ReadTimeoutError,
    IncompleteReadError,
    ProtocolError,
    IncompleteRead,
    Urllib3ReadTimeoutError,
    ConnectionError,
)
# Reopened at most this many times in a row (a read that returns bytes starts the count again), waiting 0.5 s, 1 s,
# 2 s... before each: ~15 s of waiting in all, inside the 30 s the task keeps before its timeout. Each reopen is one
# GET, which the S3 client itself tries up to 3 times.
RESUME_ATTEMPTS = 5
RESUME_BACKOFF_S = 0.5
# What S3 answers a ranged GET of a version that is gone, or of a key whose object is no longer the one being read.
_CHANGED = {"PreconditionFailed", "NoSuchKey", "NoSuchVersion"}


class ResumingBody:
    """The body of `response` (S3's answer to `request`, for the object `source`), whose reads go on through dropped
    connections: each drop reopens the same version (VersionId, and IfMatch its ETag, so that an object replaced in
    an unversioned bucket is not read on as if it were the same file) from the next byte. A drop `RESUME_ATTEMPTS`
    times in a row, or at the deadline (`should_stop`), fails the file, as does any other read error."""

    def __init__(
        self,
        s3: S3Client,
        request: GetObjectRequestTypeDef,
        response: GetObjectOutputTypeDef,
        *,
        source: str,
        should_stop: Callable[[], bool],
    ) -> None:
        self._s3 = s3
        self._request = request
        self._body: Any = response["Body"]
        self._etag = response["ETag"]
        self._size = response["ContentLength"]
        self._source = source
        self._should_stop = should_stop
        self._version = f" version {request['VersionId']}" if "VersionId" in request else ""
        self._position = 0
        self._drops = 0

    def read(self, size: int = -1, /) -> bytes:
        while True:
            try:
                data: bytes = self._body.read(size)
            except DROPPED as exc:
                self._resume(exc)
                continue
            except BotoCoreError as exc:
                raise IngestError(
                    self._source,
                    f"the object{self._version} could not be read to its end ({exc}). Nothing was written to the "
                    f"table; {AGAIN}",
                ) from exc
            self._position += len(data)
            if data:
                self._drops = 0
            return data

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a dropped connection may fail its own closing too
            self._body.close()

    def _resume(self, dropped: Exception) -> None:
        """Reopen the version from the first byte not read yet, or fail the file."""
        self.close()
        error = dropped
        while True:
            self._drops += 1
            if self._drops > RESUME_ATTEMPTS:
                raise IngestError(
                    self._source,
                    f"the object{self._version} could not be read to its end: the connection to S3 dropped "
                    f"{RESUME_ATTEMPTS + 1} times in a row at byte {self._position:,} of {self._size:,} ({error}). "
                    f"Nothing was written to the table; {AGAIN}",
                ) from error
            if self._should_stop():
                raise IngestError(
                    self._source,
                    f"the connection to S3 dropped at byte {self._position:,} of {self._size:,} of the object"
                    f"{self._version} ({error}) as the partition task was about to time out. Nothing was written to "
                    f"the table; {AGAIN}",
                ) from error
            logger.warning(
                "the object's stream dropped: reading on from where it stopped",
                extra={"position": self._position, "size": self._size, "attempt": self._drops, "error": str(error)},
            )
            time.sleep(RESUME_BACKOFF_S * 2 ** (self._drops - 1))
            if self._position >= self._size:  # it dropped after the last byte: nothing is left to ask for
                self._body = io.BytesIO()
                return
            try:
                ranged: GetObjectRequestTypeDef = {
                    **self._request,
                    "Range": f"bytes={self._position}-",
                    "IfMatch": self._etag,
                }
                response = self._s3.get_object(**ranged)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in _CHANGED:
                    raise IngestError(
                        self._source,
                        f"the object{self._version} was replaced or deleted while the partition task read it (S3 "
                        f"answered {exc} when the read resumed at byte {self._position:,}). Nothing was written to "
                        "the table; an object uploaded in its place is ingested on its own",
                    ) from exc
                error = exc
                continue
            except (BotoCoreError, *DROPPED) as exc:
                error = exc
                continue
            self._body = response["Body"]
            return
