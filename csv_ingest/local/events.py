"""What Lambda hands a function in the emulator: S3 event notifications as S3 sends them, and the context object.

The demo, the benchmark and the tests all build their events and contexts here.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext

# The ETag S3 gives an empty object. The handler never reads the ETag, and reads the size only to choose between
# one invocation and the state machine: an event may leave both at an empty object's for the one-invocation path.
EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"


class DemoContext(LambdaContext):
    """Lambda's context object as the handler and Powertools read it, with as much time left as the caller says.

    The one fake context in the repository: the demo, the benchmark and the tests all use it.
    """

    def __init__(
        self,
        *,
        function_name: str = "csv-ingest-demo",
        aws_request_id: str | None = None,
        remaining_ms: int = 15 * 60 * 1000,  # Lambda's longest timeout
    ) -> None:
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self._memory_limit_in_mb = 1769
        self._aws_request_id = aws_request_id or str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.remaining_ms = remaining_ms

    # Powertools declares this static (its class is for type hints and returns 0); Lambda's own object answers for
    # the invocation it belongs to, as this one does.
    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return self.remaining_ms


# S3's sequencers grow with each event about a key (events built here are given one from this count, so that an
# upload built later is the newer one, as S3 would say).
_sequencers = itertools.count(time.time_ns())


def s3_record(
    bucket: str,
    key: str,
    version_id: str | None,
    size: int = 0,
    etag: str = EMPTY_ETAG,
    *,
    event_name: str = "ObjectCreated:Put",
    request_id: str | None = None,
    event_time: datetime | None = None,
    sequencer: str | None = None,
) -> dict[str, Any]:
    """One record of an S3 event notification (event structure version 2.1), key URL-encoded as S3 does.

    The one S3 event builder in the repository. `version_id` None is a bucket without versioning (S3 leaves the
    field out); `request_id` is S3's `x-amz-request-id`, which the handler logs as the correlation id; `event_time`
    (default: now) and `sequencer` (default: the next of a growing count) order the uploads.
    """
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag}
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer if sequencer is not None else f"{next(_sequencers):018X}"
    moment = event_time or datetime.now(UTC)
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "eventTime": moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": request_id or f"{uuid.uuid4().int % 16**16:016X}",
            "x-amz-id-2": str(uuid.uuid4()),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "csv-ingest-demo",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def object_created_event(
    bucket: str,
    key: str,
    version_id: str | None,
    size: int = 0,
    etag: str = EMPTY_ETAG,
    *,
    request_id: str | None = None,
    event_time: datetime | None = None,
) -> dict[str, Any]:
    """The event S3 sends for one `PutObject`; an event for several objects is `{"Records": [s3_record(...), ...]}`."""
    record = s3_record(bucket, key, version_id, size, etag, request_id=request_id, event_time=event_time)
    return {"Records": [record]}
