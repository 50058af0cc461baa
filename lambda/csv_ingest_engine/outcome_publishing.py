"""Where a file's outcome goes (see `outcome`): tags on the uploaded object version, then the event on the default
EventBridge bus, so that whoever the event wakes finds the tags in place. Neither may change the file's own result:
a refusal is logged (`"level":"ERROR"`) and counted (OutcomeTagsNotWritten, OutcomeEventsNotSent).

Tagging triggers no ingestion: the stack's notification is for ObjectCreated events, and S3 reports a tagging as
ObjectTagging:Put."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine.clients import EventsClient, events_client, s3_client
from csv_ingest_engine.constants import METRIC_OUTCOME_EVENTS_NOT_SENT, METRIC_OUTCOME_TAGS_NOT_WRITTEN
from csv_ingest_engine.outcome import FileOutcome, merged_tags
from csv_ingest_engine.telemetry import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectTaggingRequestTypeDef, PutObjectTaggingRequestTypeDef

# PutEvents can refuse an entry in a successful answer (FailedEntryCount: throttling, an internal failure), which
# botocore does not retry: the entry is sent again, this many times in all, the pauses doubling from EVENT_PAUSE_S.
EVENT_ATTEMPTS = 3
EVENT_PAUSE_S = 0.2


def publish_outcome(outcome: FileOutcome) -> None:
    """Tag the object version with `outcome`, then send its event."""
    tag_object(s3_client(), outcome)
    send_event(events_client(), outcome)


def tag_object(s3: S3Client, outcome: FileOutcome) -> None:
    """Put the outcome's tags on the object version in place of an earlier outcome's, keeping the user's own (see
    `merged_tags`: with too many of those, the last of ours are left out, and the log says which)."""
    obj = outcome.obj
    read: GetObjectTaggingRequestTypeDef = {"Bucket": obj.bucket, "Key": obj.key}
    write: PutObjectTaggingRequestTypeDef = {"Bucket": obj.bucket, "Key": obj.key, "Tagging": {"TagSet": []}}
    if obj.version_id:
        read["VersionId"] = write["VersionId"] = obj.version_id
    try:
        existing = s3.get_object_tagging(**read)["TagSet"]
        tag_set, left_out = merged_tags(existing, outcome.tags())
        if left_out:
            logger.warning(
                "the object has too many tags of its own for every tag of the outcome: these are left out",
                extra={"tags_left_out": left_out},
            )
        write["Tagging"] = {"TagSet": [{"Key": tag["Key"], "Value": tag["Value"]} for tag in tag_set]}
        s3.put_object_tagging(**write)
    except (BotoCoreError, ClientError) as exc:
        logger.error(
            "the outcome could not be tagged on the object: the function may need s3:GetObjectTagging and "
            "s3:PutObjectTagging (and their Version forms) on it",
            extra={"outcome": outcome.status, "error": str(exc)},
        )
        metrics.add_metric(name=METRIC_OUTCOME_TAGS_NOT_WRITTEN, unit=MetricUnit.Count, value=1)


def send_event(events: EventsClient, outcome: FileOutcome, *, pause_s: float = EVENT_PAUSE_S) -> None:
    """Send the outcome's event; an entry EventBridge refuses is sent again (EVENT_ATTEMPTS in all)."""
    entry = outcome.event_entry()
    problem: Any = None
    for attempt in range(EVENT_ATTEMPTS):
        if attempt:
            time.sleep(pause_s * 2 ** (attempt - 1))
        try:
            response = events.put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as exc:  # botocore retried what is worth retrying
            problem = str(exc)
            break
        if not response.get("FailedEntryCount"):
            return
        refused = response["Entries"][0]
        problem = f"{refused.get('ErrorCode')}: {refused.get('ErrorMessage')}"
    logger.error(
        "the outcome event could not be sent: the function may need events:PutEvents on the default bus",
        extra={"detail_type": outcome.detail_type, "error": problem},
    )
    metrics.add_metric(name=METRIC_OUTCOME_EVENTS_NOT_SENT, unit=MetricUnit.Count, value=1)
