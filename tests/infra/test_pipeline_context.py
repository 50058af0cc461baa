"""CDK context reaches the template: `cdk synth -c retain_data=true -c alarm_email=... -c key_column=...` etc."""

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration
from aws_cdk.assertions import Match, Template

from app import STACK_ID, build_app, props_from_context
from csv_ingest.infra import CsvIngestStack, PipelineProps
from tests.infra.logical_ids import (
    ACCESS_LOGS_BUCKET_ID,
    FAILED_EVENTS_QUEUE_ID,
    REJECTS_BUCKET_ID,
    TABLE_ID,
    UPLOAD_BUCKET_ID,
    WORK_BUCKET_ID,
)
from tests.infra.synth import cli_context
from tests.infra.test_pipeline_template import as_list, function_logical_id, function_policy_statements, properties

# -- the custom template (see CUSTOM_CONTEXT in conftest.py) ---------------------------------------------------


@pytest.mark.parametrize(
    ("logical_id", "type_"),
    [
        (UPLOAD_BUCKET_ID, "AWS::S3::Bucket"),
        (ACCESS_LOGS_BUCKET_ID, "AWS::S3::Bucket"),
        (REJECTS_BUCKET_ID, "AWS::S3::Bucket"),
        (TABLE_ID, "AWS::DynamoDB::Table"),
        (FAILED_EVENTS_QUEUE_ID, "AWS::SQS::Queue"),
    ],
)
def test_retain_data_keeps_buckets_table_and_queue(custom_template: Template, logical_id: str, type_: str) -> None:
    """With retain_data=true, deleting the stack (or replacing the resource) leaves the data in place."""
    retained = custom_template.find_resources(type_, {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    assert logical_id in retained


def test_retain_data_does_not_empty_the_buckets(custom_template: Template) -> None:
    """With retain_data=true only the work bucket (copies of uploads, for an hour or so) is emptied with the stack."""
    emptied = [
        r["Properties"]["BucketName"] for r in custom_template.find_resources("Custom::S3AutoDeleteObjects").values()
    ]
    assert emptied == [{"Ref": WORK_BUCKET_ID}]


def test_alarm_email_subscribes_the_address_to_the_topic(custom_template: Template) -> None:
    """With alarm_email set, the address is subscribed to the alarm topic by e-mail."""
    custom_template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": "ops@example.com",
            "TopicArn": {"Ref": Match.string_like_regexp("AlarmTopic")},
        },
    )


def test_key_column_sets_the_table_key_and_the_function_environment(custom_template: Template) -> None:
    """key_column=account_id becomes the table's partition key and the function's KEY_COLUMN."""
    custom_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "account_id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "account_id", "AttributeType": "S"}],
        },
    )
    custom_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like({"KEY_COLUMN": "account_id", "TABLE_NAME": {"Ref": TABLE_ID}})
            }
        },
    )


def test_sizing_context_sets_memory_timeout_and_storage(custom_template: Template) -> None:
    """memory_size_mb, timeout_minutes and ephemeral_storage_mib reach the function."""
    custom_template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "handler.handler", "MemorySize": 2048, "Timeout": 300, "EphemeralStorage": {"Size": 1024}},
    )


def test_noncurrent_version_expiration_days_context(custom_template: Template) -> None:
    """noncurrent_version_expiration_days=7 shortens how long old versions are kept."""
    custom_template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": [Match.object_like({"NoncurrentVersionExpiration": {"NoncurrentDays": 7}})]
            }
        },
    )


def test_rejects_expiration_days_context(custom_template: Template) -> None:
    """rejects_expiration_days=14 changes how long rejects reports are kept."""
    rules = properties(custom_template, REJECTS_BUCKET_ID)["LifecycleConfiguration"]["Rules"]
    assert [rule["ExpirationInDays"] for rule in rules] == [14]


def test_write_mode_and_concurrency_reach_the_function(custom_template: Template) -> None:
    """write_mode=replace and write_concurrency=32 become WRITE_MODE and WRITE_CONCURRENCY."""
    custom_template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"WRITE_MODE": "replace", "WRITE_CONCURRENCY": "32"})}},
    )


def test_replace_mode_puts_items_one_by_one(custom_template: Template) -> None:
    """With write_mode=replace (and ordering on) the function puts each row with its condition: PutItem only, on the
    table only (a CDK grant: no Sid); no BatchWriteItem, which takes no conditions."""
    assert {
        "Effect": "Allow",
        "Action": "dynamodb:PutItem",
        "Resource": {"Fn::GetAtt": [TABLE_ID, "Arn"]},
    } in function_policy_statements(custom_template)
    actions = {a for s in function_policy_statements(custom_template) for a in as_list(s["Action"])}
    assert "dynamodb:BatchWriteItem" not in actions


def test_trigger_reserved_concurrency_none_reserves_nothing(custom_template: Template) -> None:
    """trigger_reserved_concurrency=none leaves the trigger on the account's unreserved concurrency (for accounts
    whose quota cannot spare a reservation)."""
    assert "ReservedConcurrentExecutions" not in properties(custom_template, function_logical_id(custom_template))


def test_duration_alarm_follows_the_timeout(custom_template: Template) -> None:
    """timeout_minutes=5 puts the duration alarm at 240,000 ms, 80% of 5 minutes."""
    custom_template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"Namespace": "AWS/Lambda", "MetricName": "Duration", "Threshold": 240_000}
    )


# -- parsing context values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("false", False), ("TRUE", True), (True, True)])
def test_retain_data_accepts_cli_strings_and_json_booleans(raw: object, expected: bool) -> None:
    """`-c retain_data=true` arrives as a string; cdk.json may hold a JSON boolean."""
    assert props_from_context({"retain_data": raw}).retain_data is expected


@pytest.mark.parametrize("raw", ["yes", "1", "", "ture", 1])
def test_retain_data_rejects_anything_but_true_or_false(raw: object) -> None:
    """A typo such as retain_data=ture fails the synth instead of silently meaning false."""
    with pytest.raises(ValueError, match="context retain_data must be true or false"):
        props_from_context({"retain_data": raw})


@pytest.mark.parametrize(
    "key",
    [
        "memory_size_mb",
        "rejects_expiration_days",
        "logged_rejections",
        "write_concurrency",
        "large_file_bytes",
        "partition_bytes",
        "max_workers",
    ],
)
@pytest.mark.parametrize("raw", ["2GB", "1.5", "-1", "", True, 2.0])
def test_number_context_rejects_non_integers(key: str, raw: object) -> None:
    """memory_size_mb=2GB (or any non-integer, for any number key) fails with the key name in the message."""
    with pytest.raises(ValueError, match=f"context {key} must be a whole number"):
        props_from_context({key: raw})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("merge", "merge"), ("replace", "replace"), (" replace ", "replace"), ("changed", "changed")],
)
def test_write_mode_accepts_merge_replace_or_changed(raw: str, expected: str) -> None:
    """`-c write_mode=replace` selects the batched whole-item puts, `changed` the read-back of merge's rows."""
    assert props_from_context({"write_mode": raw}).write_mode == expected


@pytest.mark.parametrize("raw", ["upsert", "Replace", "", True])
def test_write_mode_rejects_anything_but_merge_replace_or_changed(raw: object) -> None:
    """A typo such as write_mode=upsert fails the synth, naming the key and the choices."""
    with pytest.raises(ValueError, match="context write_mode must be one of merge, replace, changed"):
        props_from_context({"write_mode": raw})


@pytest.mark.parametrize("raw", ["0", "65"])
def test_write_concurrency_context_is_range_checked(raw: str) -> None:
    """write_concurrency outside 1..64 fails with the key name in the message."""
    with pytest.raises(ValueError, match="write_concurrency must be between 1 and 64"):
        props_from_context({"write_concurrency": raw})


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), (" 5 ", 5), (1000, 1000)])
def test_logged_rejections_context_accepts_0_to_1000(raw: object, expected: int) -> None:
    """`-c logged_rejections=5` sets how many rejected rows a file's log names; 0 names none."""
    assert props_from_context({"logged_rejections": raw}).logged_rejections == expected


def test_logged_rejections_context_over_1000_fails_naming_the_key() -> None:
    """logged_rejections=1001 fails the synth: a file's log is to stay small."""
    with pytest.raises(ValueError, match="logged_rejections must be between 0 and 1000"):
        props_from_context({"logged_rejections": "1001"})


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [("large_file_bytes", "1048576", 1048576), ("partition_bytes", " 4096 ", 4096), ("max_workers", 16, 16)],
)
def test_large_file_context_accepts_whole_numbers(key: str, raw: object, expected: int) -> None:
    """`-c large_file_bytes=1048576` arrives as a string, cdk.json may hold a JSON number."""
    assert getattr(props_from_context({key: raw}), key) == expected


@pytest.mark.parametrize(
    ("context", "trigger", "workers"),
    [
        ({}, 2, 4),
        ({"max_workers": "8"}, 2, 8),
        ({"trigger_reserved_concurrency": "5", "worker_reserved_concurrency": 12}, 5, 12),
        ({"trigger_reserved_concurrency": "none", "worker_reserved_concurrency": " None "}, None, None),
        ({"worker_reserved_concurrency": "max_workers", "max_workers": 6}, 2, 6),
    ],
)
def test_reserved_concurrency_context_takes_numbers_or_none(
    context: dict[str, object], trigger: int | None, workers: int | None
) -> None:
    """The trigger reserves 2 and the workers max_workers by default; a number sets a reservation, none removes it."""
    props = props_from_context(context)
    assert (props.trigger_reserved_concurrency, props.worker_reservation) == (trigger, workers)


@pytest.mark.parametrize("key", ["trigger_reserved_concurrency", "worker_reserved_concurrency"])
@pytest.mark.parametrize("raw", ["off", "", "1.5", "-2", True])
def test_reserved_concurrency_context_rejects_anything_but_a_number_or_none(key: str, raw: object) -> None:
    """A typo such as trigger_reserved_concurrency=off fails the synth, naming the key and `none`."""
    with pytest.raises(ValueError, match=f"context {key} must be a whole number, or none to reserve no concurrency"):
        props_from_context({key: raw})


def _synth_notes(tmp_path: Path, **context: str) -> list[str]:
    """The info messages `cdk synth` prints for the pipeline (read before synthesizing, as CDK collects them)."""
    stack = build_app(cli_context(**context), outdir=str(tmp_path)).node.find_child(STACK_ID)
    assert isinstance(stack, CsvIngestStack)
    return [str(entry.data) for entry in stack.pipeline.node.metadata if entry.type == "aws:cdk:info"]


def test_synth_says_what_the_reservations_take_and_how_to_do_without(tmp_path: Path) -> None:
    """By default 6 invocations are reserved: the synth names the 100 Lambda keeps unreserved and the keys to turn
    the reservations off."""
    (note,) = _synth_notes(tmp_path)
    assert note.startswith(
        "Reserves 6 of the account's Lambda concurrency (trigger_reserved_concurrency=2, "
        "worker_reserved_concurrency=4). Lambda refuses a reservation that leaves less than 100 unreserved"
    )
    assert "must be at least 106" in note
    assert "-c trigger_reserved_concurrency=none -c worker_reserved_concurrency=none" in note


def test_synth_without_reservations_says_nothing_of_them(tmp_path: Path) -> None:
    """With both reservations off there is nothing to warn about."""
    assert _synth_notes(tmp_path, trigger_reserved_concurrency="none", worker_reserved_concurrency="none") == []


def test_timeout_minutes_become_a_duration() -> None:
    """timeout_minutes=5 becomes a 5-minute function timeout."""
    assert props_from_context({"timeout_minutes": "5"}).timeout.to_seconds() == 300


def test_absent_context_keeps_the_defaults() -> None:
    """No context at all gives the documented defaults."""
    props = props_from_context({})
    assert (props.key_column, props.retain_data, props.alarm_email) == ("customer_id", False, None)
    assert (props.memory_size_mb, props.timeout.to_minutes(), props.ephemeral_storage_mib) == (1769, 15, 4096)
    assert props.noncurrent_version_expiration_days == 30
    assert (props.rejects_expiration_days, props.write_mode, props.write_concurrency) == (30, "merge", 16)
    assert (props.large_file_bytes, props.partition_bytes, props.max_workers) == (8 * 1024 * 1024, 8 * 1024 * 1024, 4)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"memory_size_mb": 64}, "memory_size_mb must be between 128 and 10240"),
        ({"timeout": Duration.minutes(16)}, "timeout must be between 1 second and 15 minutes"),
        ({"ephemeral_storage_mib": 20000}, "ephemeral_storage_mib must be between 512 and 10240"),
        ({"noncurrent_version_expiration_days": 0}, "noncurrent_version_expiration_days must be between 1"),
        ({"rejects_expiration_days": 0}, "rejects_expiration_days must be between 1"),
        ({"write_mode": "upsert"}, "write_mode must be one of merge, replace, changed"),
        (
            {"consistent_reads": True},
            r"consistent_reads applies to write_mode changed only \(write_mode is merge\)",
        ),
        ({"write_concurrency": 65}, "write_concurrency must be between 1 and 64"),
        ({"key_column": " customer_id"}, "key_column must be a non-empty name"),
        ({"alarm_email": "ops"}, "alarm_email must be an e-mail address"),
        (
            {"large_file_bytes": 0},
            r"large_file_bytes must be between 1 and 5497558138880 \(5 TiB, S3's largest object\)",
        ),
        (
            {"partition_bytes": 1000},
            r"partition_bytes must be between 1024 and 1073741824 \(a partition is one invocation's work",
        ),
        ({"partition_bytes": 2 * 1024**3}, "partition_bytes must be between 1024 and 1073741824"),
        ({"max_workers": 0}, r"max_workers must be between 1 and 10000 \(Step Functions' Distributed Map limit\)"),
        ({"max_workers": 10_001}, "max_workers must be between 1 and 10000"),
        (
            {"trigger_reserved_concurrency": 0},
            r"trigger_reserved_concurrency must be at least 1 \(0 would stop every invocation of the function\), "
            "or none to reserve nothing, got 0",
        ),
        ({"worker_reserved_concurrency": 0}, "worker_reserved_concurrency must be at least 1"),
        (
            {"worker_reserved_concurrency": 3},
            r"worker_reserved_concurrency \(3\) must be at least max_workers \(4\): one execution's Map would start "
            "more workers than may run. Lower max_workers to 3, or raise worker_reserved_concurrency",
        ),
    ],
)
def test_props_reject_values_lambda_s3_or_dynamodb_would_refuse(props: dict[str, Any], message: str) -> None:
    """Out-of-range props fail at synth with the prop's name, not later in a failed deployment."""
    with pytest.raises(ValueError, match=message):
        PipelineProps(**props)
