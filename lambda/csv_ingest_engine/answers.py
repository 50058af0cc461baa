"""What one call to DynamoDB came to: done, its condition not met, a refusal about the row, too large, worth sending
again, or fatal."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

# A refusal about this row: reject it and go on.
_ROW_ERRORS = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})
# ValidationExceptions that are about the table, not the row: every row would get them, so the file fails.
_SCHEMA_MISMATCH = (
    "does not match the schema",
    "required keys was not given a value",
    "Missing the key",
    "Type mismatch for key",
)
# Worth sending again (botocore's standard retry mode's lists, for what DynamoDB's writes can answer): the client
# makes one attempt per call and the writer does the resending, with backoff, patience and the deadline in view.
_TRANSIENT_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "ReplicatedWriteConflictException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_TRANSIENT_TRANSPORT = (BotoConnectionError, HTTPClientError)
# Anything else from botocore (no credentials, no region, a bad endpoint URL) is the same for every row: fatal.


class Answer(enum.Enum):
    """What one call to DynamoDB came to."""

    DONE = enum.auto()
    # The request's condition did not hold: the item holds a newer upload's stamp (the row is superseded), or, for a
    # key-only row written without stamps, the item exists (nothing to change).
    CONDITION_FAILED = enum.auto()
    ROW_REFUSED = enum.auto()  # about the row itself: reject it, go on
    TOO_LARGE = enum.auto()  # HTTP 413: the request is over DynamoDB's size limit
    TRANSIENT = enum.auto()  # throttled, busy or unreachable: send it again
    FATAL = enum.auto()  # about the table or the caller: every row would get it, the file fails


def call(send: Callable[..., Any], params: dict[str, Any]) -> tuple[Answer, dict[str, Any], str]:
    """Make one call; say what it came to, with the response (when done) or a detail for the reason."""
    try:
        response: dict[str, Any] = send(**params)
    except ClientError as exc:
        code, message = _error(exc)
        if code == "ConditionalCheckFailedException":
            return Answer.CONDITION_FAILED, {}, ""
        if _is_too_large(exc, code):
            return Answer.TOO_LARGE, {}, message
        if _is_row_refusal(code, message):
            return Answer.ROW_REFUSED, {}, message
        if _is_transient(exc, code):
            return Answer.TRANSIENT, {}, code
        return Answer.FATAL, {}, str(exc)
    except _TRANSIENT_TRANSPORT as exc:
        return Answer.TRANSIENT, {}, str(exc)
    except BotoCoreError as exc:  # no credentials, no region, bad endpoint URL: the same for every row
        return Answer.FATAL, {}, str(exc)
    return Answer.DONE, response or {}, ""


def _error(exc: ClientError) -> tuple[str, str]:
    """DynamoDB's error code and message."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    return code, error.get("Message", code)


def _status(exc: ClientError) -> int | None:
    status: int | None = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status


def _is_row_refusal(code: str, message: str) -> bool:
    """A refusal about this row (reject it, go on), as opposed to one about the table (fail the file)."""
    return code in _ROW_ERRORS and not any(text in message for text in _SCHEMA_MISMATCH)


def _is_transient(exc: ClientError, code: str) -> bool:
    return code in _TRANSIENT_ERRORS or _status(exc) in _TRANSIENT_STATUS


def _is_too_large(exc: ClientError, code: str) -> bool:
    """HTTP 413: the request is over DynamoDB's size limit (botocore names a bodiless error by its status)."""
    return _status(exc) == 413 or code in ("413", "RequestEntityTooLarge", "RequestEntityTooLargeException")
