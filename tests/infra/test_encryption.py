"""Encryption at rest: the services' own keys by default, or with `-c encryption=kms` one customer-managed key the
stack creates (its policy, who may use it and how, and how long it lives); the alarm topic's key in both."""

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template

from app import STACK_ID, build_app, props_from_context
from csv_ingest.infra import PipelineProps
from csv_ingest_engine.constants import HANDLER_FINISH, HANDLER_INGEST_PARTITION, HANDLER_PARTITION, HANDLER_TRIGGER
from tests.infra.logical_ids import (
    ACCESS_LOGS_BUCKET_ID,
    ALARM_TOPIC_ID,
    DATA_KEY_ID,
    FAILED_EVENTS_QUEUE_ID,
    REJECTS_BUCKET_ID,
    STATE_MACHINE_ID,
    TABLE_ID,
    UPLOAD_BUCKET_ID,
    WORK_BUCKET_ID,
)
from tests.infra.synth import cli_context
from tests.infra.test_large_files import function_role_id, role_statements, task_function_id
from tests.infra.test_pipeline_template import properties, single_resource

ACCOUNT = {"Ref": "AWS::AccountId"}
DECRYPT_AND_DATA_KEY = ["kms:Decrypt", "kms:GenerateDataKey"]
TABLE_WRITES = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]


def key_arn(template: Template) -> dict[str, Any]:
    """The ARN of the template's one KMS key."""
    key_id, _ = single_resource(template, "AWS::KMS::Key")
    return {"Fn::GetAtt": [key_id, "Arn"]}


def key_statements(template: Template) -> list[dict[str, Any]]:
    _, key = single_resource(template, "AWS::KMS::Key")
    return list(key["Properties"]["KeyPolicy"]["Statement"])


def via(service: str) -> dict[str, Any]:
    return {
        "StringEquals": {
            "kms:ViaService": {"Fn::Join": ["", [f"{service}.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
        }
    }


def kms_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    """The statements of `role_id`'s policies that allow a KMS action."""
    return [s for s in role_statements(template, role_id) if any(a.startswith("kms:") for a in _actions(s))]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


# -- the alarm topic's key, in both modes --------------------------------------------------------------------


@pytest.mark.parametrize("template_name", ["template", "kms_template"])
def test_only_this_accounts_cloudwatch_alarms_may_use_the_topic_key(
    template_name: str, request: pytest.FixtureRequest
) -> None:
    """CloudWatch may encrypt alarm notifications with the topic's key only for alarms of the stack's own account."""
    template: Template = request.getfixturevalue(template_name)
    (statement,) = [
        s for s in key_statements_of_topic(template) if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]


def key_statements_of_topic(template: Template) -> list[dict[str, Any]]:
    key_id = properties(template, ALARM_TOPIC_ID)["KmsMasterKeyId"]["Fn::GetAtt"][0]
    return list(properties(template, key_id)["KeyPolicy"]["Statement"])


# -- the default: each service's own keys --------------------------------------------------------------------


def test_encryption_defaults_to_the_services_own_keys() -> None:
    """Without the context key the deployment keeps each service's own keys (`aws`)."""
    assert props_from_context({}).encryption == "aws"


def test_default_grants_no_role_any_key(template: Template) -> None:
    """With the services' own keys no role needs (or has) a KMS permission."""
    kms_actions = [
        action
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in _actions(statement)
        if action.startswith("kms:")
    ]
    assert kms_actions == []


def test_default_has_no_data_key_output(template: Template) -> None:
    """The DataKeyArn output exists with encryption=kms only."""
    assert template.find_outputs("*", {"Description": Match.string_like_regexp("^KMS key")}) == {}


# -- encryption=kms: the key -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("kms", "kms"), (" aws ", "aws")])
def test_encryption_context_takes_aws_or_kms(raw: str, expected: str) -> None:
    """`-c encryption=kms` selects the stack's own key."""
    assert props_from_context({"encryption": raw}).encryption == expected


@pytest.mark.parametrize("raw", ["KMS", "cmk", "", True])
def test_encryption_context_rejects_anything_else(raw: object) -> None:
    """A typo such as encryption=cmk fails the synth, naming the key and the choices."""
    with pytest.raises(ValueError, match="context encryption must be one of aws, kms"):
        props_from_context({"encryption": raw})


def test_encryption_prop_is_checked() -> None:
    """The construct's prop is checked as the context key is."""
    with pytest.raises(ValueError, match="encryption must be one of aws, kms"):
        PipelineProps(encryption="customer")  # type: ignore[arg-type]


def test_kms_creates_one_rotating_key_deleted_with_the_data(kms_template: Template) -> None:
    """One key (the topic's too), rotated yearly; without retain_data deleted with the stack after 30 days' wait."""
    _, key = single_resource(kms_template, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["PendingWindowInDays"] == 30
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Delete", "Delete")


def test_kms_key_keeps_its_logical_id(kms_template: Template) -> None:
    """The key keeps the ID it was first deployed with: a new key could not read what the old one encrypted."""
    assert DATA_KEY_ID in kms_template.find_resources("AWS::KMS::Key")


def test_kms_key_is_kept_with_retained_data(tmp_path: Path) -> None:
    """With retain_data the key outlives the stack, as the data it encrypts does (retained data needs its key)."""
    app = build_app(cli_context(encryption="kms", retain_data="true"), outdir=str(tmp_path))
    stack = app.node.find_child(STACK_ID)
    assert isinstance(stack, Stack)
    _, key = single_resource(Template.from_stack(stack), "AWS::KMS::Key")
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_kms_key_policy_lets_the_account_cloudwatch_logs_and_alarms_use_it_and_no_one_else(
    kms_template: Template,
) -> None:
    """The account (through IAM), CloudWatch Logs for this account's log groups, and this account's alarms."""
    arn_prefix = ["arn:", {"Ref": "AWS::Partition"}]
    assert sorted(key_statements(kms_template), key=lambda s: str(s["Principal"])) == [
        {
            "Action": "kms:*",
            "Effect": "Allow",
            "Principal": {"AWS": {"Fn::Join": ["", [*arn_prefix, ":iam::", ACCOUNT, ":root"]]}},
            "Resource": "*",
        },
        {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Resource": "*",
            "Sid": "AllowCloudWatchAlarmsToUseTheKey",
        },
        {
            "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": {
                        "Fn::Join": [
                            "",
                            [*arn_prefix, ":logs:", {"Ref": "AWS::Region"}, ":", ACCOUNT, ":log-group:*"],
                        ]
                    }
                }
            },
            "Effect": "Allow",
            "Principal": {"Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}},
            "Resource": "*",
            "Sid": "AllowCloudWatchLogsForThisAccountsLogGroups",
        },
    ]


def test_kms_outputs_the_key_arn(kms_template: Template) -> None:
    """Whoever reads the data needs kms:Decrypt on the key: the stack says which key."""
    assert len(kms_template.find_outputs("*", {"Value": key_arn(kms_template)})) == 1


# -- encryption=kms: what the key encrypts ---------------------------------------------------------------------


@pytest.mark.parametrize("bucket_id", [UPLOAD_BUCKET_ID, REJECTS_BUCKET_ID, WORK_BUCKET_ID])
def test_kms_encrypts_the_data_buckets_with_a_bucket_key(kms_template: Template, bucket_id: str) -> None:
    """Uploads, reports and work objects are SSE-KMS under the key, with an S3 Bucket Key (few KMS calls)."""
    assert properties(kms_template, bucket_id)["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {"KMSMasterKeyID": key_arn(kms_template), "SSEAlgorithm": "aws:kms"},
            }
        ]
    }


def test_kms_leaves_the_access_logs_bucket_on_sse_s3(kms_template: Template) -> None:
    """S3 server access logs are delivered to SSE-S3 buckets only (AWS's documentation)."""
    assert properties(kms_template, ACCESS_LOGS_BUCKET_ID)["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }


def test_kms_encrypts_the_table(kms_template: Template) -> None:
    """The table (and with it its point-in-time backups) is encrypted under the key."""
    assert properties(kms_template, TABLE_ID)["SSESpecification"] == {
        "KMSMasterKeyId": key_arn(kms_template),
        "SSEEnabled": True,
        "SSEType": "KMS",
    }


def test_kms_encrypts_the_failed_events_queue(kms_template: Template) -> None:
    """The failed events (S3 event records: bucket and object names) are encrypted under the key, not SSE-SQS."""
    queue = properties(kms_template, FAILED_EVENTS_QUEUE_ID)
    assert queue["KmsMasterKeyId"] == key_arn(kms_template)
    assert "SqsManagedSseEnabled" not in queue


def test_kms_encrypts_the_alarm_topic(kms_template: Template) -> None:
    """The topic uses the same key (the template has no other)."""
    assert properties(kms_template, ALARM_TOPIC_ID)["KmsMasterKeyId"] == key_arn(kms_template)


def test_kms_encrypts_every_log_group(kms_template: Template) -> None:
    """The four functions' log groups and the state machine's."""
    log_groups = kms_template.find_resources("AWS::Logs::LogGroup")
    assert len(log_groups) == 5
    assert {str(g["Properties"].get("KmsKeyId")) for g in log_groups.values()} == {str(key_arn(kms_template))}


@pytest.mark.parametrize("handler", [HANDLER_TRIGGER, HANDLER_PARTITION, HANDLER_INGEST_PARTITION, HANDLER_FINISH])
def test_kms_encrypts_each_functions_environment(kms_template: Template, handler: str) -> None:
    """Lambda encrypts the function's variables under the key."""
    assert properties(kms_template, task_function_id(kms_template, handler))["KmsKeyArn"] == key_arn(kms_template)


# -- encryption=kms: who may use the key -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "uses"),
    [
        # reads uploads, writes reports; writes rows; Lambda sends its failed events to the queue as its role
        (HANDLER_TRIGGER, [("dynamodb", TABLE_WRITES), ("s3", DECRYPT_AND_DATA_KEY), ("sqs", DECRYPT_AND_DATA_KEY)]),
        (HANDLER_PARTITION, [("s3", DECRYPT_AND_DATA_KEY)]),  # reads the upload, writes chunks and manifests
        (HANDLER_INGEST_PARTITION, [("dynamodb", TABLE_WRITES), ("s3", DECRYPT_AND_DATA_KEY)]),
        (HANDLER_FINISH, [("s3", DECRYPT_AND_DATA_KEY)]),  # reads results, writes reports and verdicts
    ],
)
def test_kms_each_function_uses_the_key_only_through_the_services_it_calls(
    kms_template: Template, handler: str, uses: list[tuple[str, list[str]]]
) -> None:
    """Each function's role may use the key for its calls to S3, DynamoDB or SQS, never by calling KMS itself."""
    role_id = function_role_id(kms_template, task_function_id(kms_template, handler))
    expected = [
        {"Action": actions, "Condition": via(service), "Effect": "Allow", "Resource": key_arn(kms_template)}
        for service, actions in uses
    ]
    assert sorted(kms_statements(kms_template, role_id), key=str) == sorted(expected, key=str)


def test_kms_state_machine_uses_the_key_only_through_s3(kms_template: Template) -> None:
    """The Map reads its manifest from, and writes its results to, the (now SSE-KMS) work bucket."""
    role_id = properties(kms_template, STATE_MACHINE_ID)["RoleArn"]["Fn::GetAtt"][0]
    assert kms_statements(kms_template, role_id) == [
        {"Action": DECRYPT_AND_DATA_KEY, "Condition": via("s3"), "Effect": "Allow", "Resource": key_arn(kms_template)}
    ]
