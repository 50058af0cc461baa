"""Each upload's outcome in the emulated account, looked at as a subscriber and a person would: the events caught by a
rule on the default bus (csv-ingest's source) whose target is an SQS queue (moto 5.2.5 delivers PutEvents to SQS
and CloudWatch Logs targets, synchronously), and the tags on the object version."""

from __future__ import annotations

import json
from typing import Any

from csv_ingest_engine.constants import OUTCOME_EVENT_SOURCE

# What a subscriber to every outcome matches (the README's rule narrows it by detail type, bucket or key).
OUTCOME_EVENT_PATTERN = {"source": [OUTCOME_EVENT_SOURCE]}
OUTCOME_RULE = "csv-ingest-outcomes"
OUTCOME_QUEUE = "csv-ingest-outcomes"


def catch_outcome_events(events: Any, sqs: Any) -> str:
    """A rule on the default bus sending every csv-ingest event to a queue of its own; returns the queue's URL."""
    queue_url: str = sqs.create_queue(QueueName=OUTCOME_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=OUTCOME_RULE, EventPattern=json.dumps(OUTCOME_EVENT_PATTERN), State="ENABLED")
    events.put_targets(Rule=OUTCOME_RULE, Targets=[{"Id": "outcomes", "Arn": queue_arn}])
    return queue_url


def caught_outcome_events(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """The events the queue holds, as the queue gives them (moto's: in the order sent), each as EventBridge delivers
    it (`detail-type`, `detail`...), taken off the queue."""
    caught: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            caught.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return caught


def object_tags(s3: Any, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
    """The object version's tags, key -> value."""
    version = {"VersionId": version_id} if version_id else {}
    tag_set = s3.get_object_tagging(Bucket=bucket, Key=key, **version)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}
