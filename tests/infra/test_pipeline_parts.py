"""The pipeline's parts, as a stack extending the pipeline reaches them: each names a resource the template deploys."""

from pathlib import Path

from aws_cdk.assertions import Template

from app import STACK_ID, build_app
from csv_ingest.infra import CsvIngestStack
from tests.infra.logical_ids import (
    ACCESS_LOGS_BUCKET_ID,
    ALARM_TOPIC_ID,
    FAILED_EVENTS_QUEUE_ID,
    REJECTS_BUCKET_ID,
    TABLE_ID,
    UPLOAD_BUCKET_ID,
)
from tests.infra.synth import cli_context
from tests.infra.test_pipeline_template import function_logical_id, single_resource


def test_parts_hand_out_the_deployed_resources(template: Template, tmp_path: Path) -> None:
    """pipeline.storage, .ingestion and .monitoring give the buckets, table, queue, function, topic and dashboard."""
    # given
    stack = build_app(cli_context(), outdir=str(tmp_path)).node.find_child(STACK_ID)
    assert isinstance(stack, CsvIngestStack)
    storage, ingestion, monitoring = stack.pipeline.storage, stack.pipeline.ingestion, stack.pipeline.monitoring
    # when
    handed_out = {
        "upload bucket": stack.resolve(storage.upload_bucket.bucket_name),
        "access logs bucket": stack.resolve(storage.access_logs_bucket.bucket_name),
        "rejects bucket": stack.resolve(storage.rejects_bucket.bucket_name),
        "table": stack.resolve(storage.table.table_name),
        "failed events queue": stack.resolve(storage.failed_events_queue.queue_url),
        "function": stack.resolve(ingestion.function.function_name),
        "alarm topic": stack.resolve(monitoring.alarm_topic.topic_arn),
        "dashboard": stack.resolve(monitoring.dashboard.dashboard_name),
    }
    # then
    assert handed_out == {
        "upload bucket": {"Ref": UPLOAD_BUCKET_ID},
        "access logs bucket": {"Ref": ACCESS_LOGS_BUCKET_ID},
        "rejects bucket": {"Ref": REJECTS_BUCKET_ID},
        "table": {"Ref": TABLE_ID},
        "failed events queue": {"Ref": FAILED_EVENTS_QUEUE_ID},
        "function": {"Ref": function_logical_id(template)},
        "alarm topic": {"Ref": ALARM_TOPIC_ID},
        "dashboard": {"Ref": single_resource(template, "AWS::CloudWatch::Dashboard")[0]},
    }
