"""Each upload's outcome in the template: exactly the functions that conclude a file may tag the uploads and put
events, on the default bus only; the upload notification is for created objects only, so a tagging starts nothing;
and a rule of another app subscribes to the events (the README's example, checked against real events)."""

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Capture, Template
from moto import mock_aws

from csv_ingest.infra import CsvIngestPipeline
from csv_ingest_engine.constants import HANDLER_FINISH, HANDLER_INGEST_PARTITION, HANDLER_PARTITION, HANDLER_TRIGGER
from csv_ingest_engine.outcome import FileOutcome, ObjectVersion
from tests.infra.logical_ids import UPLOAD_BUCKET_ID
from tests.infra.test_large_files import (
    OUTCOME_TAGGING,
    PUTS_OUTCOME_EVENTS,
    function_role_id,
    objects_of,
    role_statements,
    task_function_id,
)
from tests.infra.test_pipeline_template import as_list

PUBLISHERS = [HANDLER_TRIGGER, HANDLER_PARTITION, HANDLER_FINISH]


def statements_of(template: Template, handler: str) -> list[dict[str, Any]]:
    return role_statements(template, function_role_id(template, task_function_id(template, handler)))


@pytest.mark.parametrize("handler", PUBLISHERS)
def test_the_functions_that_conclude_a_file_put_events_on_the_default_bus_only(
    template: Template, handler: str
) -> None:
    """events:PutEvents on arn:<partition>:events:<region>:<account>:event-bus/default, in one statement, and no
    other EventBridge action or resource."""
    eventbridge = [
        s for s in statements_of(template, handler) if any(a.startswith("events:") for a in as_list(s["Action"]))
    ]
    assert eventbridge == [PUTS_OUTCOME_EVENTS]


@pytest.mark.parametrize("handler", PUBLISHERS)
def test_the_functions_that_conclude_a_file_tag_uploads_only(template: Template, handler: str) -> None:
    """Get and Put ObjectTagging, and their Version forms, on the upload bucket's objects and nowhere else; never a
    tag's deletion."""
    statements = statements_of(template, handler)
    tagging = {
        action: [r for s in statements if action in as_list(s["Action"]) for r in as_list(s["Resource"])]
        for action in OUTCOME_TAGGING
    }
    assert tagging == {action: [objects_of(UPLOAD_BUCKET_ID)] for action in OUTCOME_TAGGING}
    assert not [a for s in statements for a in as_list(s["Action"]) if "DeleteObjectTagging" in a or "*" in a]


def test_a_partition_worker_publishes_nothing(template: Template) -> None:
    """The worker never concludes a file: no tagging, no event."""
    actions = [a for s in statements_of(template, HANDLER_INGEST_PARTITION) for a in as_list(s["Action"])]
    assert not [a for a in actions if a.startswith("events:") or "Tagging" in a]


def test_no_other_role_may_put_events(template: Template) -> None:
    """Of every policy in the stack, only the three publishers' roles hold events:PutEvents."""
    roles = {
        role["Ref"]
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "events:PutEvents" in as_list(statement["Action"])
        for role in policy["Properties"]["Roles"]
    }
    assert roles == {function_role_id(template, task_function_id(template, handler)) for handler in PUBLISHERS}


def test_the_upload_notification_is_for_created_objects_only(template: Template) -> None:
    """Every notification of the upload bucket is s3:ObjectCreated:*, and nothing else: S3 reports the outcome's
    tagging as s3:ObjectTagging:Put, which invokes nothing."""
    configurations = Capture()
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {"NotificationConfiguration": {"LambdaFunctionConfigurations": configurations}},
    )
    kinds = [event for configuration in configurations.as_array() for event in configuration["Events"]]
    assert set(kinds) == {"s3:ObjectCreated:*"}
    notification = template.find_resources("Custom::S3BucketNotifications")
    assert "ObjectTagging" not in json.dumps(notification)


# -- subscribing, as the README shows it -------------------------------------------------------------------------


def subscriber_app() -> cdk.App:
    """The README's example: a pipeline, and a queue that gets an event for every file of `customers/` loaded into
    it (with rejected rows or without)."""
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Customers")
    pipeline = CsvIngestPipeline(stack, "Pipeline")
    loaded = sqs.Queue(stack, "CustomersLoaded", enforce_ssl=True)
    rule = events.Rule(
        stack,
        "OnCustomersLoaded",
        event_pattern=events.EventPattern(
            source=["csv-ingest"],
            detail_type=["CSV file loaded", "CSV file loaded with rejected rows"],
            detail={
                "bucket": [pipeline.storage.upload_bucket.bucket_name],
                "key": [{"prefix": "customers/"}],
            },
        ),
    )
    rule.add_target(targets.SqsQueue(loaded))
    return app


@pytest.fixture(scope="module")
def subscriber_template() -> Template:
    stack = subscriber_app().node.find_child("Customers")
    assert isinstance(stack, cdk.Stack)
    return Template.from_stack(stack)


def test_a_rule_subscribes_to_the_outcomes_of_one_pipelines_bucket(subscriber_template: Template) -> None:
    """The rule matches csv-ingest's loaded events of the pipeline's upload bucket, under customers/, and sends them
    to the queue."""
    subscriber_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["csv-ingest"],
                "detail-type": ["CSV file loaded", "CSV file loaded with rejected rows"],
                "detail": {
                    "bucket": [{"Ref": _upload_bucket_id(subscriber_template)}],
                    "key": [{"prefix": "customers/"}],
                },
            },
            "State": "ENABLED",
            "Targets": [{"Arn": {"Fn::GetAtt": [_queue_id(subscriber_template), "Arn"]}, "Id": "Target0"}],
        },
    )


@pytest.mark.parametrize(
    ("key", "status", "matches"),
    [
        ("customers/2026-12.csv", "loaded", True),
        ("customers/2026-12.csv", "loaded-with-rejected-rows", True),
        ("customers/2026-12.csv", "failed", False),
        ("orders/2026-12.csv", "loaded", False),
    ],
)
def test_the_rule_catches_the_events_the_functions_send(
    subscriber_template: Template, key: str, status: str, matches: bool
) -> None:
    """The synthesized pattern (the bucket's name filled in), as a rule of moto's EventBridge with a queue as its
    target, and the entry the functions put: loaded files under customers/ reach the queue; a failure or another
    prefix does not."""
    pattern = json.dumps(_pattern(subscriber_template)).replace(
        json.dumps({"Ref": _upload_bucket_id(subscriber_template)}), json.dumps("uploads")
    )
    counts = {"rows_written": 5, "rows_rejected": 0 if status == "loaded" else 1}
    outcome = FileOutcome(
        obj=ObjectVersion("uploads", key, "v1"),
        status=status,  # type: ignore[arg-type]
        path="one-invocation",
        counts=counts,
        rejects_report=None,
        seconds=1.0,
    )
    with mock_aws():
        import boto3

        bus, queues = boto3.client("events", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        queue_url = queues.create_queue(QueueName="customers-loaded")["QueueUrl"]
        queue_arn = queues.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        bus.put_rule(Name="on-customers-loaded", EventPattern=pattern)
        bus.put_targets(Rule="on-customers-loaded", Targets=[{"Id": "queue", "Arn": queue_arn["QueueArn"]}])
        assert bus.put_events(Entries=[outcome.event_entry()])["FailedEntryCount"] == 0
        caught = queues.receive_message(QueueUrl=queue_url).get("Messages", [])
    assert len(caught) == (1 if matches else 0)
    if matches:
        assert json.loads(caught[0]["Body"])["detail"]["key"] == key


def _pattern(template: Template) -> dict[str, Any]:
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    return dict(rule["Properties"]["EventPattern"])


def _upload_bucket_id(template: Template) -> str:
    (bucket_id,) = [
        logical_id
        for logical_id, bucket in template.find_resources("AWS::S3::Bucket").items()
        if "VersioningConfiguration" in bucket["Properties"]
    ]
    return bucket_id


def _queue_id(template: Template) -> str:
    (queue_id,) = [
        logical_id for logical_id in template.find_resources("AWS::SQS::Queue") if "CustomersLoaded" in logical_id
    ]
    return queue_id
