"""An existing upload bucket with a key prefix (`-c upload_bucket_name=acme-incoming -c upload_prefix=customers/`):
not a resource of the stack, its notifications added beside the bucket's others (CDK's handler, run on moto), and
read by the functions under the prefix only."""

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Match, Template
from moto import mock_aws

from app import STACK_ID, build_app, existing_from_context, props_from_context
from csv_ingest.infra import CsvIngestStack, PipelineProps
from csv_ingest.infra.ingestion import TRIGGER_SUFFIXES
from csv_ingest.infra.pipeline import OUTCOME_TAGGING_ACTIONS
from csv_ingest_engine.constants import HANDLER_FINISH, HANDLER_INGEST_PARTITION, HANDLER_PARTITION, HANDLER_TRIGGER
from tests.infra.conftest import BUCKET_KEY_ARN, EXISTING_BUCKET, EXISTING_CONTEXT, EXISTING_PREFIX
from tests.infra.logical_ids import ACCESS_LOGS_BUCKET_ID, REJECTS_BUCKET_ID, UPLOAD_BUCKET_ID, WORK_BUCKET_ID
from tests.infra.synth import REPO_ROOT, Synthesized, cli_context
from tests.infra.test_encryption import kms_statements, via
from tests.infra.test_large_files import function_role_id, role_statements, task_function_id
from tests.infra.test_pipeline_template import as_list, function_logical_id, single_resource
from tests.infra.test_synth_gates import EXPECTED_ACKNOWLEDGEMENTS, nag_report

BUCKET_ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{EXISTING_BUCKET}"]]}
PREFIX_OBJECTS = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{EXISTING_BUCKET}/{EXISTING_PREFIX}*"]]}
READERS = (HANDLER_TRIGGER, HANDLER_PARTITION)
STACK_ARN = "arn:aws:cloudformation:us-east-1:123456789012:stack/CsvIngest/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
OTHER_APP_FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:invoices-loader"
TRIGGER_FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:CsvIngest-PipelineFunction"


def upload_statements(template: Template, handler: str) -> list[dict[str, Any]]:
    """The statements of `handler`'s function's role on the existing bucket's objects (or the bucket)."""
    role_id = function_role_id(template, task_function_id(template, handler))
    return [s for s in role_statements(template, role_id) if EXISTING_BUCKET in str(s["Resource"])]


# -- the bucket stays its owner's -----------------------------------------------------------------------------


def test_an_existing_upload_bucket_is_not_a_resource_of_the_stack(existing_template: Template) -> None:
    """The stack's buckets are its own access-logs, rejects and work buckets: no upload bucket, so no policy,
    lifecycle or auto-delete of the stack's reaches the existing one."""
    assert set(existing_template.find_resources("AWS::S3::Bucket")) == {
        ACCESS_LOGS_BUCKET_ID,
        REJECTS_BUCKET_ID,
        WORK_BUCKET_ID,
    }
    assert UPLOAD_BUCKET_ID not in existing_template.to_json()["Resources"]
    for kind in ("AWS::S3::BucketPolicy", "Custom::S3AutoDeleteObjects"):
        for resource in existing_template.find_resources(kind).values():
            assert EXISTING_BUCKET not in str(resource["Properties"])


def test_the_prefixed_csv_uploads_trigger_the_function_beside_the_buckets_other_notifications(
    existing_template: Template,
) -> None:
    """One notification per suffix, each filtered on the prefix too, in a configuration CDK's handler merges with
    the bucket's others (Managed: false)."""
    function_arn = {"Fn::GetAtt": [function_logical_id(existing_template), "Arn"]}
    existing_template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "BucketName": EXISTING_BUCKET,
            "Managed": False,
            "NotificationConfiguration": {
                "LambdaFunctionConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": [
                                    {"Name": "suffix", "Value": suffix},
                                    {"Name": "prefix", "Value": EXISTING_PREFIX},
                                ]
                            }
                        },
                        "LambdaFunctionArn": function_arn,
                    }
                    for suffix in TRIGGER_SUFFIXES
                ]
            },
        },
    )


def test_cdks_handler_may_read_and_write_the_buckets_notifications_only(existing_template: Template) -> None:
    """The notification handler's policy names the existing bucket and the two calls it makes on it."""
    existing_template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetBucketNotification", "s3:PutBucketNotification"],
                        "Resource": BUCKET_ARN,
                    }
                ]
            },
            "Roles": [{"Ref": Match.string_like_regexp("^BucketNotificationsHandler")}],
        },
    )


@dataclass(frozen=True)
class NotificationsHandler:
    """CDK's handler for Custom::S3BucketNotifications: `handle` an event, and the `replies` it sent CloudFormation."""

    handle: Callable[[dict[str, Any], Any], None]
    replies: list[str]


@pytest.fixture
def notifications_handler(existing_template: Template) -> Iterator[NotificationsHandler]:
    """CDK's BucketNotifications handler, its code as the template deploys it, run against moto's S3; its reply to
    CloudFormation is kept instead of sent."""
    _, function = single_resource(
        existing_template,
        "AWS::Lambda::Function",
        {"Description": Match.string_like_regexp("Custom::S3BucketNotifications")},
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=EXISTING_BUCKET)
        namespace: dict[str, Any] = {}
        exec(function["Properties"]["Code"]["ZipFile"], namespace)  # CDK's own handler code, from the template
        replies: list[str] = []
        namespace["submit_response"] = lambda _event, _context, status, error: replies.append(status + error)
        yield NotificationsHandler(namespace["handler"], replies)


def _notification_event(template: Template, request_type: str) -> dict[str, Any]:
    """The custom resource's event, as CloudFormation sends it: its properties as strings, tokens resolved."""
    _, resource = single_resource(template, "Custom::S3BucketNotifications")
    configurations = resource["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    return {
        "RequestType": request_type,
        "StackId": STACK_ARN,
        "ResourceProperties": {
            "BucketName": EXISTING_BUCKET,
            "Managed": str(resource["Properties"]["Managed"]).lower(),
            "SkipDestinationValidation": "true",
            "NotificationConfiguration": {
                "LambdaFunctionConfigurations": [
                    {**configuration, "LambdaFunctionArn": TRIGGER_FUNCTION} for configuration in configurations
                ]
            },
        },
    }


def _prefixes(s3: Any) -> dict[str, list[str]]:
    """The bucket's Lambda notifications: each function's filters, as prefix + suffix."""
    configuration = s3.get_bucket_notification_configuration(Bucket=EXISTING_BUCKET)
    by_function: dict[str, list[str]] = {}
    for notification in configuration.get("LambdaFunctionConfigurations", []):
        rules = {rule["Name"].lower(): rule["Value"] for rule in notification["Filter"]["Key"]["FilterRules"]}
        matches = rules.get("prefix", "") + rules.get("suffix", "")
        by_function.setdefault(notification["LambdaFunctionArn"], []).append(matches)
    return by_function


def test_deploying_and_deleting_leaves_the_buckets_other_notifications(
    existing_template: Template, notifications_handler: NotificationsHandler
) -> None:
    """CDK's handler, on moto: creating the stack adds the pipeline's notifications to another app's, updating it
    keeps them once each, and deleting it removes the pipeline's only."""
    # given: the bucket already notifies another application of its invoices
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_notification_configuration(
        Bucket=EXISTING_BUCKET,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "invoices-loader",
                    "LambdaFunctionArn": OTHER_APP_FUNCTION,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "invoices/"}]}},
                }
            ]
        },
        SkipDestinationValidation=True,
    )
    others = {OTHER_APP_FUNCTION: ["invoices/"]}
    # when the stack is created
    notifications_handler.handle(_notification_event(existing_template, "Create"), None)
    # then
    ours = {TRIGGER_FUNCTION: [EXISTING_PREFIX + suffix for suffix in TRIGGER_SUFFIXES]}
    assert notifications_handler.replies == ["SUCCESS"]
    assert _prefixes(s3) == {**others, **ours}
    # when it is updated (deployed again)
    update = _notification_event(existing_template, "Update")
    notifications_handler.handle({**update, "OldResourceProperties": update["ResourceProperties"]}, None)
    # then: the same notifications, none twice
    assert _prefixes(s3) == {**others, **ours}
    # when it is deleted
    notifications_handler.handle(_notification_event(existing_template, "Delete"), None)
    # then
    assert notifications_handler.replies == ["SUCCESS"] * 3
    assert _prefixes(s3) == others


# -- the functions read under the prefix only ------------------------------------------------------------------


@pytest.mark.parametrize("handler", READERS)
def test_the_readers_may_read_and_tag_uploads_under_the_prefix_only(existing_template: Template, handler: str) -> None:
    """The trigger and Partition may get the objects (and versions) whose key starts with the prefix, and tag them
    with a file's outcome, nothing else of the bucket."""
    assert upload_statements(existing_template, handler) == [
        {
            "Effect": "Allow",
            "Action": sorted(["s3:GetObject", "s3:GetObjectVersion", *OUTCOME_TAGGING_ACTIONS]),
            "Resource": PREFIX_OBJECTS,
        }
    ]


def test_finish_may_only_tag_uploads_under_the_prefix(existing_template: Template) -> None:
    """Finish tags a large file with its outcome: the tagging actions under the prefix, no read."""
    assert upload_statements(existing_template, HANDLER_FINISH) == [
        {"Effect": "Allow", "Action": list(OUTCOME_TAGGING_ACTIONS), "Resource": PREFIX_OBJECTS}
    ]


def test_the_workers_may_not_touch_the_existing_bucket(existing_template: Template) -> None:
    """The workers read partitions from the work bucket, never the uploads."""
    assert upload_statements(existing_template, HANDLER_INGEST_PARTITION) == []


@pytest.mark.parametrize("handler", READERS)
def test_the_readers_may_decrypt_with_the_buckets_key_through_s3_only(
    existing_kms_template: Template, handler: str
) -> None:
    """With `upload_bucket_key_arn`, the readers may decrypt with it, through S3 only."""
    role_id = function_role_id(existing_kms_template, task_function_id(existing_kms_template, handler))
    assert [s for s in kms_statements(existing_kms_template, role_id) if s["Resource"] == BUCKET_KEY_ARN] == [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": BUCKET_KEY_ARN, "Condition": via("s3")}
    ]


def test_the_outputs_name_the_bucket_and_the_prefix(existing_template: Template) -> None:
    """UploadBucketName is the existing bucket (its description names the prefix); UploadPrefix is the prefix."""
    outputs = existing_template.to_json()["Outputs"]
    by_name = {key.rstrip("0123456789ABCDEF"): output for key, output in outputs.items()}
    assert by_name["PipelineUploadBucketName"]["Value"] == EXISTING_BUCKET
    assert EXISTING_PREFIX in by_name["PipelineUploadBucketName"]["Description"]
    assert by_name["PipelineUploadPrefix"]["Value"] == EXISTING_PREFIX


def test_the_storage_hands_out_the_key_pattern_of_its_grants(tmp_path: Path) -> None:
    """`storage.upload_keys` is the object-key pattern every grant on the upload bucket uses: the prefix then *, or
    every key without one."""
    # given
    default = build_app(cli_context(), outdir=str(tmp_path / "default")).node.find_child(STACK_ID)
    prefixed = build_app(cli_context(**EXISTING_CONTEXT), outdir=str(tmp_path / "prefixed")).node.find_child(STACK_ID)
    assert isinstance(default, CsvIngestStack)
    assert isinstance(prefixed, CsvIngestStack)
    # then
    assert default.pipeline.storage.upload_keys == "*"
    assert prefixed.pipeline.storage.upload_keys == f"{EXISTING_PREFIX}*"


# -- gates -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("synth_name", ["existing_synth", "existing_kms_synth"])
def test_cdk_nag_acknowledges_the_grants_under_the_prefix(synth_name: str, request: pytest.FixtureRequest) -> None:
    """cdk-nag finds nothing unacknowledged; the readers' grants are acknowledged on the prefix, not the bucket."""
    report = nag_report(request.getfixturevalue(synth_name))
    assert report["violations"] == []
    under_prefix = f"arn:<AWS::Partition>:s3:::{EXISTING_BUCKET}/{EXISTING_PREFIX}*"
    expected = {
        (rule.replace(f"<{UPLOAD_BUCKET_ID}.Arn>/*", under_prefix), path) for rule, path in EXPECTED_ACKNOWLEDGEMENTS
    }
    assert {(v["ruleName"], v["acknowledgedAt"]) for v in report["suppressedViolations"]} == expected


@pytest.mark.parametrize("synth_name", ["existing_synth", "existing_kms_synth"])
def test_the_template_passes_cfn_lint(synth_name: str, request: pytest.FixtureRequest) -> None:
    """cfn-lint (with the repository's .cfnlintrc.yaml) reports nothing."""
    synth: Synthesized = request.getfixturevalue(synth_name)
    assert_cfn_lint_passes(synth.template_file)


def assert_cfn_lint_passes(template_file: Path) -> None:
    """cfn-lint, run as the synth gates run it, exits 0 on `template_file`."""
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), str(template_file)], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- what is refused -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("/customers/", "not start with /"),
        ("customers/*", "IAM reads \\* as a wildcard"),
        ("customers ?/", "must be made of letters, digits"),
        ("kunden/ä/", "must be made of letters, digits"),
        ("x" * 1021, "at most 1,020 characters"),
    ],
)
def test_a_prefix_s3_or_iam_would_misread_is_refused(prefix: str, message: str) -> None:
    """A prefix needing URL-encoding in the filter, with IAM wildcards, starting with / or too long stops the synth."""
    with pytest.raises(ValueError, match=message):
        PipelineProps(upload_prefix=prefix)


@pytest.mark.parametrize("prefix", ["customers/", "incoming/customers_", "a!b-c_d.e'f(g)/", "x" * 1020])
def test_a_prefix_of_safe_characters_is_taken(prefix: str) -> None:
    """Letters, digits and ! - _ . ' ( ) / make a prefix, up to 1,020 characters."""
    assert PipelineProps(upload_prefix=prefix).upload_prefix == prefix


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"upload_bucket_name": "Acme-Incoming"}, "upload_bucket_name must be an S3 bucket's name"),
        ({"upload_bucket_name": "acme..incoming"}, "upload_bucket_name must be an S3 bucket's name"),
        ({"upload_bucket_name": "192.168.10.12"}, "upload_bucket_name must be an S3 bucket's name"),
        ({"upload_bucket_name": "ab"}, "upload_bucket_name must be an S3 bucket's name"),
        ({"upload_bucket_name": "-acme"}, "upload_bucket_name must be an S3 bucket's name"),
        (
            {"upload_bucket_key_arn": BUCKET_KEY_ARN},
            "upload_bucket_key_arn is the key of an existing resource, upload_bucket_name: set",
        ),
        (
            {"upload_bucket_name": EXISTING_BUCKET, "upload_bucket_key_arn": "1234abcd-12ab-34cd-56ef-1234567890ab"},
            "upload_bucket_key_arn must be a KMS key's ARN",
        ),
    ],
)
def test_a_bad_bucket_context_names_the_key_and_the_rule(context: dict[str, str], message: str) -> None:
    """A bucket name or key S3 or KMS would refuse stops the synth, naming the context key and the rule."""
    with pytest.raises(ValueError, match=message):
        existing_from_context(context)


@pytest.mark.parametrize("name", ["acme-incoming", "acme.incoming.eu", "a1b", "x" * 63])
def test_a_bucket_name_s3_takes_is_taken(name: str) -> None:
    """3 to 63 lowercase letters, digits, dots and hyphens."""
    assert existing_from_context({"upload_bucket_name": name}).upload_bucket_name == name


def test_the_prefix_context_key_reaches_the_props() -> None:
    """`-c upload_prefix=customers/` is the pipeline's upload_prefix; an empty one is refused."""
    assert props_from_context({"upload_prefix": "customers/"}).upload_prefix == "customers/"
    with pytest.raises(ValueError, match="context upload_prefix must be a non-empty string"):
        props_from_context({"upload_prefix": " "})


def test_reads_of_the_existing_bucket_go_through_the_object_keys_only(existing_template: Template) -> None:
    """No role may call anything on the bucket itself (listing, policy) but CDK's notification handler."""
    bucket_statements = [
        (statement, policy_id)
        for policy_id, policy in existing_template.find_resources("AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Resource"] == BUCKET_ARN
    ]
    assert [sorted(as_list(statement["Action"])) for statement, _ in bucket_statements] == [
        ["s3:GetBucketNotification", "s3:PutBucketNotification"]
    ]
