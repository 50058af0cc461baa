"""The default deployment's template: storage, function, trigger, least-privilege IAM, failure handling, alarms,
dashboard and outputs (the large-file state machine's own resources: test_large_files.py)."""

import json
from collections.abc import Callable, Mapping
from typing import Any, cast

import pytest
from aws_cdk.assertions import Capture, Match, Template

from tests.infra.logical_ids import (
    ACCESS_LOGS_BUCKET_AUTO_DELETE_ID,
    ACCESS_LOGS_BUCKET_ID,
    ACCESS_LOGS_BUCKET_POLICY_ID,
    ALARM_TOPIC_ID,
    DASHBOARD_ID,
    FAILED_EVENTS_QUEUE_ID,
    FAILED_EVENTS_QUEUE_POLICY_ID,
    FUNCTION_ID,
    FUNCTION_LOG_GROUP_ID,
    REJECTS_BUCKET_AUTO_DELETE_ID,
    REJECTS_BUCKET_ID,
    REJECTS_BUCKET_POLICY_ID,
    STATE_MACHINE_ID,
    TABLE_ID,
    UPLOAD_BUCKET_AUTO_DELETE_ID,
    UPLOAD_BUCKET_ID,
    UPLOAD_BUCKET_NOTIFICATIONS_ID,
    UPLOAD_BUCKET_POLICY_ID,
    WORK_BUCKET_ID,
)

FUNCTION_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "dynamodb:UpdateItem",
    "s3:PutObject",
    "s3:DeleteObject",
    "sqs:SendMessage",
    "states:StartExecution",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "events:PutEvents",
}
REJECTS_OBJECTS = {"Fn::Join": ["", [{"Fn::GetAtt": [REJECTS_BUCKET_ID, "Arn"]}, "/*"]]}
FAILED_EVENTS_QUEUE_ARN = {"Fn::GetAtt": [FAILED_EVENTS_QUEUE_ID, "Arn"]}
ALARM_METRICS = ["Errors", "RowsRejected", "ApproximateNumberOfMessagesVisible", "Duration", "ExecutionsFailed"]


def single_resource(template: Template, type_: str, props: Any = None) -> tuple[str, Mapping[str, Any]]:
    resources = template.find_resources(type_, {"Properties": props} if props else None)
    assert len(resources) == 1, f"expected one {type_}, found {sorted(resources)}"
    return next(iter(resources.items()))


def function_logical_id(template: Template) -> str:
    return single_resource(template, "AWS::Lambda::Function", {"Handler": "handler.handler"})[0]


def function_policy_statements(template: Template) -> list[dict[str, Any]]:
    """Every statement of every IAM policy attached to the ingest function's role.

    The statements come from CDK's action-level grants, which write no Sid and add them in the order the grants are
    made; a Sid only labels a statement, so the tests compare actions and resources and ignore order.
    """
    role = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "handler.handler", "Role": {"Fn::GetAtt": [role, "Arn"]}}
    )
    policies = template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": Match.array_with([{"Ref": role.as_string()}])}}
    )
    assert policies, "the function's role has no policy"
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def properties(template: Template, logical_id: str) -> dict[str, Any]:
    return cast(dict[str, Any], template.to_json()["Resources"][logical_id]["Properties"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def alarm_logical_id(template: Template, metric_name: str) -> str:
    return single_resource(template, "AWS::CloudWatch::Alarm", {"MetricName": metric_name})[0]


def cfn_text(value: Any) -> str:
    """A CloudFormation string expression as text, each token written as ${LogicalId} or ${LogicalId.Attribute}."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(cfn_text(part) for part in parts)
    if "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(map(str, value["Fn::GetAtt"])) + "}"
    raise AssertionError(f"unexpected token {value}")


def dashboard_widgets(template: Template) -> list[dict[str, Any]]:
    """The dashboard's widgets, from its body with the tokens (function name, queue name...) written as ${...}."""
    body = Capture()
    template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardBody": body})
    return cast(list[dict[str, Any]], json.loads(cfn_text(body.as_object()))["widgets"])


# -- stateful resources keep their identity -------------------------------------------------------------------


STATEFUL_RESOURCES = [
    (UPLOAD_BUCKET_ID, "AWS::S3::Bucket"),
    (ACCESS_LOGS_BUCKET_ID, "AWS::S3::Bucket"),
    (REJECTS_BUCKET_ID, "AWS::S3::Bucket"),
    (TABLE_ID, "AWS::DynamoDB::Table"),
    (FAILED_EVENTS_QUEUE_ID, "AWS::SQS::Queue"),
]


@pytest.mark.parametrize(("logical_id", "type_"), STATEFUL_RESOURCES)
def test_stateful_resources_keep_their_logical_ids(template: Template, logical_id: str, type_: str) -> None:
    """The buckets, table and queue keep the logical IDs they were first deployed with, so they are never replaced."""
    assert logical_id in template.find_resources(type_)


ATTACHED_RESOURCES = [
    (UPLOAD_BUCKET_POLICY_ID, "AWS::S3::BucketPolicy", {"Bucket": {"Ref": UPLOAD_BUCKET_ID}}),
    (ACCESS_LOGS_BUCKET_POLICY_ID, "AWS::S3::BucketPolicy", {"Bucket": {"Ref": ACCESS_LOGS_BUCKET_ID}}),
    (REJECTS_BUCKET_POLICY_ID, "AWS::S3::BucketPolicy", {"Bucket": {"Ref": REJECTS_BUCKET_ID}}),
    (FAILED_EVENTS_QUEUE_POLICY_ID, "AWS::SQS::QueuePolicy", {"Queues": [{"Ref": FAILED_EVENTS_QUEUE_ID}]}),
    (UPLOAD_BUCKET_NOTIFICATIONS_ID, "Custom::S3BucketNotifications", {"BucketName": {"Ref": UPLOAD_BUCKET_ID}}),
    (UPLOAD_BUCKET_AUTO_DELETE_ID, "Custom::S3AutoDeleteObjects", {"BucketName": {"Ref": UPLOAD_BUCKET_ID}}),
    (ACCESS_LOGS_BUCKET_AUTO_DELETE_ID, "Custom::S3AutoDeleteObjects", {"BucketName": {"Ref": ACCESS_LOGS_BUCKET_ID}}),
    (REJECTS_BUCKET_AUTO_DELETE_ID, "Custom::S3AutoDeleteObjects", {"BucketName": {"Ref": REJECTS_BUCKET_ID}}),
]


@pytest.mark.parametrize(("logical_id", "type_", "attached_to"), ATTACHED_RESOURCES)
def test_resources_attached_to_the_data_keep_their_logical_ids(
    template: Template, logical_id: str, type_: str, attached_to: dict[str, Any]
) -> None:
    """Policies, the upload trigger and auto-delete keep their IDs: replacing one would strip it or empty the bucket."""
    resource = template.to_json()["Resources"].get(logical_id, {})
    assert resource.get("Type") == type_
    assert {name: resource["Properties"].get(name) for name in attached_to} == attached_to


def test_alarm_topic_keeps_its_logical_id(template: Template) -> None:
    """The alarm topic keeps its first ID, so its confirmed e-mail subscriptions survive every update."""
    assert ALARM_TOPIC_ID in template.find_resources("AWS::SNS::Topic")


@pytest.mark.parametrize(
    ("resource_type", "logical_id"),
    [
        ("AWS::Lambda::Function", FUNCTION_ID),
        ("AWS::Logs::LogGroup", FUNCTION_LOG_GROUP_ID),
        ("AWS::CloudWatch::Dashboard", DASHBOARD_ID),
    ],
)
def test_function_log_group_and_dashboard_keep_their_logical_ids(
    template: Template, resource_type: str, logical_id: str
) -> None:
    """Updating the stack never replaces the function (events queued for it), its logs or the dashboard's name."""
    assert logical_id in template.find_resources(resource_type)


def test_no_resource_has_a_physical_name(template: Template) -> None:
    """No bucket, table, function, topic, queue, dashboard, role or log group name is hard-coded."""
    name_properties = {
        "BucketName",
        "TableName",
        "FunctionName",
        "TopicName",
        "QueueName",
        "DashboardName",
        "RoleName",
        "LogGroupName",
        "StateMachineName",
    }
    hard_coded = [
        (logical_id, name)
        for logical_id, resource in template.to_json()["Resources"].items()
        for name, value in resource.get("Properties", {}).items()
        if name in name_properties and isinstance(value, str)  # a Ref/GetAtt to a generated name is fine
    ]
    assert hard_coded == []


# -- buckets --------------------------------------------------------------------------------------------------

BUCKETS = [UPLOAD_BUCKET_ID, ACCESS_LOGS_BUCKET_ID, REJECTS_BUCKET_ID, WORK_BUCKET_ID]


@pytest.mark.parametrize("bucket_id", BUCKETS)
def test_bucket_is_encrypted_with_s3_managed_keys(template: Template, bucket_id: str) -> None:
    """Every bucket encrypts objects at rest with SSE-S3 (the only kind S3 access-log delivery supports)."""
    assert properties(template, bucket_id)["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }


def test_upload_bucket_is_versioned(template: Template) -> None:
    """Overwriting or deleting an upload keeps the previous version."""
    assert properties(template, UPLOAD_BUCKET_ID)["VersioningConfiguration"] == {"Status": "Enabled"}


@pytest.mark.parametrize("bucket_id", BUCKETS)
def test_bucket_blocks_all_public_access(template: Template, bucket_id: str) -> None:
    """Every bucket blocks every form of public access."""
    assert properties(template, bucket_id)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


@pytest.mark.parametrize("bucket_id", BUCKETS)
def test_bucket_denies_requests_without_tls(template: Template, bucket_id: str) -> None:
    """Every bucket policy denies every request that does not use TLS."""
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


@pytest.mark.parametrize(
    ("bucket_id", "prefix"),
    [(UPLOAD_BUCKET_ID, "upload-bucket/"), (REJECTS_BUCKET_ID, "rejects-bucket/"), (WORK_BUCKET_ID, "work-bucket/")],
)
def test_bucket_logs_access_to_the_access_logs_bucket(template: Template, bucket_id: str, prefix: str) -> None:
    """Server access logs of the upload, rejects and work buckets go to the separate logs bucket, each under its
    prefix."""
    assert properties(template, bucket_id)["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": ACCESS_LOGS_BUCKET_ID},
        "LogFilePrefix": prefix,
    }


def test_noncurrent_versions_expire_after_30_days(template: Template) -> None:
    """Old versions expire (default 30 days) and abandoned multipart uploads are aborted, so cost stays bounded."""
    rules = properties(template, UPLOAD_BUCKET_ID)["LifecycleConfiguration"]["Rules"]
    assert rules == [
        {
            "Id": "ExpireNoncurrentVersions",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    ]


def test_access_logs_expire_after_90_days(template: Template) -> None:
    """The logs bucket expires access logs after 90 days and aborts abandoned multipart uploads."""
    assert properties(template, ACCESS_LOGS_BUCKET_ID)["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "ExpireAccessLogs",
            "Status": "Enabled",
            "ExpirationInDays": 90,
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    ]


@pytest.mark.parametrize("bucket_id", [UPLOAD_BUCKET_ID, REJECTS_BUCKET_ID, WORK_BUCKET_ID])
def test_access_logs_bucket_accepts_logs_from_the_pipeline_buckets(template: Template, bucket_id: str) -> None:
    """S3 log delivery may write to the logs bucket on behalf of the upload, rejects and work buckets (by source
    ARN)."""
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": ACCESS_LOGS_BUCKET_ID},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                                "Action": "s3:PutObject",
                                "Condition": Match.object_like(
                                    {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [bucket_id, "Arn"]}}}
                                ),
                            }
                        )
                    ]
                )
            },
        },
    )


@pytest.mark.parametrize(("logical_id", "type_"), STATEFUL_RESOURCES)
def test_data_is_deleted_with_the_stack_by_default(template: Template, logical_id: str, type_: str) -> None:
    """Without retain_data, deleting (or replacing) the stack's buckets, table and queue deletes them."""
    deleted = template.find_resources(type_, {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})
    assert logical_id in deleted


@pytest.mark.parametrize("bucket_id", BUCKETS)
def test_buckets_are_emptied_before_deletion_by_default(template: Template, bucket_id: str) -> None:
    """Without retain_data, every bucket is emptied so that stack deletion succeeds."""
    template.has_resource_properties("Custom::S3AutoDeleteObjects", {"BucketName": {"Ref": bucket_id}})


# -- rejects bucket -----------------------------------------------------------------------------------------


def test_rejects_reports_expire_after_30_days(template: Template) -> None:
    """Reports expire (default 30 days) and abandoned multipart uploads of large reports are aborted."""
    assert properties(template, REJECTS_BUCKET_ID)["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "ExpireRejectsReports",
            "Status": "Enabled",
            "ExpirationInDays": 30,
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    ]


def test_rejects_bucket_triggers_nothing(template: Template) -> None:
    """A report (itself a .csv) can never start an ingestion: the rejects bucket has no event notification at all."""
    assert "NotificationConfiguration" not in properties(template, REJECTS_BUCKET_ID)
    notified = [
        resource["Properties"]["BucketName"]
        for resource in template.find_resources("Custom::S3BucketNotifications").values()
    ]
    assert notified == [{"Ref": UPLOAD_BUCKET_ID}]


# -- table ----------------------------------------------------------------------------------------------------


def test_table_is_keyed_on_customer_id_string(template: Template) -> None:
    """The table's partition key is the string attribute customer_id, and there is no sort key."""
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "customer_id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "customer_id", "AttributeType": "S"}],
        },
    )


def test_table_is_on_demand(template: Template) -> None:
    """The table bills per request, so an idle deployment costs nothing."""
    template.has_resource_properties("AWS::DynamoDB::Table", {"BillingMode": "PAY_PER_REQUEST"})


def test_table_is_encrypted_with_the_aws_managed_key(template: Template) -> None:
    """SSE is explicit and uses the AWS-managed KMS key (aws/dynamodb), not a customer key."""
    template.has_resource_properties(
        "AWS::DynamoDB::Table", {"SSESpecification": {"SSEEnabled": True, "KMSMasterKeyId": Match.absent()}}
    )


def test_table_has_point_in_time_recovery(template: Template) -> None:
    """Point-in-time recovery is on."""
    template.has_resource_properties(
        "AWS::DynamoDB::Table", {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}
    )


# -- function -------------------------------------------------------------------------------------------------


def test_function_runs_the_handler_on_python_3_14_arm64(template: Template) -> None:
    """The function runs lambda/handler.py's `handler` on the newest Python runtime, on Graviton."""
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "handler.handler", "Runtime": "python3.14", "Architectures": ["arm64"]},
    )


def test_function_is_sized_for_large_files(template: Template) -> None:
    """Defaults: 1769 MB (one vCPU), a 15-minute timeout and 4096 MiB of /tmp for the downloaded file."""
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "handler.handler", "MemorySize": 1769, "Timeout": 900, "EphemeralStorage": {"Size": 4096}},
    )


def test_function_environment_names_the_table_and_key_column(template: Template) -> None:
    """TABLE_NAME refers to the table, KEY_COLUMN is customer_id, Powertools knows the service name."""
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    "TABLE_NAME": {"Ref": TABLE_ID},
                    "KEY_COLUMN": "customer_id",
                    "POWERTOOLS_SERVICE_NAME": "csv-ingest",
                }
            }
        },
    )


def test_function_environment_names_the_rejects_bucket_metrics_namespace_and_write_mode(template: Template) -> None:
    """REJECTS_BUCKET refers to the rejects bucket; EMF goes to CsvIngest; merge mode with 16 writers by default."""
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "REJECTS_BUCKET": {"Ref": REJECTS_BUCKET_ID},
                        "POWERTOOLS_METRICS_NAMESPACE": "CsvIngest",
                        "WRITE_MODE": "merge",
                        "WRITE_CONCURRENCY": "16",
                    }
                )
            }
        },
    )


def test_the_trigger_function_reserves_two_invocations_by_default(template: Template) -> None:
    """At most 2 uploads are ingested at once; a burst waits in Lambda's queue (up to the 6-hour event age)."""
    assert properties(template, function_logical_id(template))["ReservedConcurrentExecutions"] == 2


def test_function_logs_to_a_log_group_kept_seven_days(template: Template) -> None:
    """The function writes to its own log group, which keeps logs for 7 days."""
    log_group = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "handler.handler", "LoggingConfig": {"LogGroup": {"Ref": log_group}}}
    )
    assert properties(template, log_group.as_string())["RetentionInDays"] == 7


def test_function_role_has_no_managed_policies(template: Template) -> None:
    """The function's role carries no AWS managed policy (AWSLambdaBasicExecutionRole would allow any log group)."""
    role = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "handler.handler", "Role": {"Fn::GetAtt": [role, "Arn"]}}
    )
    role_props = properties(template, role.as_string())
    assert "ManagedPolicyArns" not in role_props
    assert "Policies" not in role_props


# -- least privilege ------------------------------------------------------------------------------------------


def test_function_may_read_uploaded_objects(template: Template) -> None:
    """s3:GetObject and s3:GetObjectVersion on the upload bucket's objects, and their tags' Get and Put (the
    outcome), in one statement (CDK's grants, minimized: no Sid)."""
    assert {
        "Effect": "Allow",
        "Action": [
            "s3:GetObject",
            "s3:GetObjectTagging",
            "s3:GetObjectVersion",
            "s3:GetObjectVersionTagging",
            "s3:PutObjectTagging",
            "s3:PutObjectVersionTagging",
        ],
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [UPLOAD_BUCKET_ID, "Arn"]}, "/*"]]},
    } in function_policy_statements(template)


def test_function_may_upsert_rows_in_the_table(template: Template) -> None:
    """dynamodb:UpdateItem on the table itself (a CDK grant: no Sid): every row, a key-only one too, is an update
    stamped with its upload's order."""
    assert {
        "Effect": "Allow",
        "Action": "dynamodb:UpdateItem",
        "Resource": {"Fn::GetAtt": [TABLE_ID, "Arn"]},
    } in function_policy_statements(template)


def test_function_may_make_only_the_calls_its_code_makes(template: Template) -> None:
    """The role allows exactly: write its logs, read uploads, update items, write reports, send failed events,
    start the large-file state machine, tag the upload and send the outcome event."""
    actions = {a for s in function_policy_statements(template) for a in as_list(s["Action"])}
    assert actions == FUNCTION_ACTIONS


def test_function_may_write_and_delete_reports_in_the_rejects_bucket_only(template: Template) -> None:
    """s3:PutObject and s3:DeleteObject (an earlier run's report) on the rejects bucket's objects and nowhere else,
    not on the upload bucket (a CDK grant: no Sid)."""
    statements = function_policy_statements(template)
    assert {
        "Effect": "Allow",
        "Action": ["s3:DeleteObject", "s3:PutObject"],
        "Resource": REJECTS_OBJECTS,
    } in statements
    for action in ("s3:PutObject", "s3:DeleteObject"):
        resources = [r for s in statements if action in as_list(s["Action"]) for r in as_list(s["Resource"])]
        assert resources == [REJECTS_OBJECTS], action


def test_function_may_not_read_the_rejects_bucket(template: Template) -> None:
    """The only actions on the rejects bucket are s3:PutObject and s3:DeleteObject: no reading or listing of reports,
    no deleting of versions."""
    actions = {
        a
        for s in function_policy_statements(template)
        if REJECTS_BUCKET_ID in json.dumps(s)
        for a in as_list(s["Action"])
    }
    assert actions == {"s3:PutObject", "s3:DeleteObject"}


def test_function_may_send_failed_events_to_the_queue_only(template: Template) -> None:
    """sqs:SendMessage on the queue is the role's only SQS permission: no GetQueueAttributes/Url (CDK grant: no Sid)."""
    statements = function_policy_statements(template)
    sqs_statements = [s for s in statements if any(a.startswith("sqs:") for a in as_list(s["Action"]))]
    assert sqs_statements == [
        {
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": FAILED_EVENTS_QUEUE_ARN,
        }
    ]


@pytest.mark.parametrize(
    "forbidden_prefix",
    [
        "s3:List",
        "s3:GetBucket",
        "s3:PutObjectAcl",
        "s3:DeleteBucket",
        "s3:DeleteObjectVersion",
        "s3:DeleteObjectTagging",
        "dynamodb:DeleteItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:BatchWriteItem",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueue",
    ],
)
def test_function_may_not_list_delete_read_rows_or_consume_the_queue(template: Template, forbidden_prefix: str) -> None:
    """No listing, object ACLs, bucket or version deletes (DeleteObject only on reports, above); no reads, scans,
    deletes or (in merge mode) batch writes; no queue reads."""
    actions = [a for s in function_policy_statements(template) for a in as_list(s["Action"])]
    assert not [a for a in actions if a.startswith(forbidden_prefix)]


def test_function_policy_has_no_action_wildcard(template: Template) -> None:
    """No action of the function's role is a wildcard such as s3:* or dynamodb:*."""
    actions = [a for s in function_policy_statements(template) for a in as_list(s["Action"])]
    assert not [a for a in actions if "*" in a]


def test_function_policy_has_no_wildcard_resource(template: Template) -> None:
    """No statement of the function's role applies to every resource ("*")."""
    resources = [r for s in function_policy_statements(template) for r in as_list(s["Resource"])]
    assert "*" not in resources
    dynamodb_resources = [
        r
        for s in function_policy_statements(template)
        if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
        for r in as_list(s["Resource"])
    ]
    assert dynamodb_resources == [{"Fn::GetAtt": [TABLE_ID, "Arn"]}]


def test_function_may_start_executions_of_the_state_machine_only(template: Template) -> None:
    """states:StartExecution on the large-file state machine is the role's only Step Functions permission."""
    states_statements = [
        s for s in function_policy_statements(template) if any(a.startswith("states:") for a in as_list(s["Action"]))
    ]
    assert states_statements == [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": STATE_MACHINE_ID}}
    ]


# -- trigger --------------------------------------------------------------------------------------------------


def test_csv_and_gzipped_csv_uploads_trigger_the_function(template: Template) -> None:
    """OBJECT_CREATED with suffix .csv, .CSV (Excel's), .csv.gz, .CSV.gz and .CSV.GZ each invoke the function, one
    filter each."""
    function_arn = {"Fn::GetAtt": [function_logical_id(template), "Arn"]}
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "BucketName": {"Ref": UPLOAD_BUCKET_ID},
            "NotificationConfiguration": {
                "LambdaFunctionConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": suffix}]}},
                        "LambdaFunctionArn": function_arn,
                    }
                    for suffix in (".csv", ".CSV", ".csv.gz", ".CSV.gz", ".CSV.GZ")
                ]
            },
        },
    )


def test_only_the_upload_bucket_may_invoke_the_function(template: Template) -> None:
    """The function's resource policy lets S3 invoke it on behalf of the upload bucket in this account only."""
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [function_logical_id(template), "Arn"]},
            "Principal": "s3.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"},
            "SourceArn": {"Fn::GetAtt": [UPLOAD_BUCKET_ID, "Arn"]},
        },
    )


# -- failed events --------------------------------------------------------------------------------------------


def test_failed_invocations_go_to_the_queue_after_two_retries(template: Template) -> None:
    """Async invocations retry twice, events expire after 6 hours, and what still fails is sent to the queue."""
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function_logical_id(template)},
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 6 * 3600,
            "DestinationConfig": Match.object_equals({"OnFailure": {"Destination": FAILED_EVENTS_QUEUE_ARN}}),
        },
    )


def test_failed_events_queue_is_encrypted_and_keeps_messages_14_days(template: Template) -> None:
    """The queue uses SQS-managed server-side encryption and keeps messages for the maximum 14 days."""
    assert properties(template, FAILED_EVENTS_QUEUE_ID) == {
        "MessageRetentionPeriod": 14 * 24 * 3600,
        "SqsManagedSseEnabled": True,
    }


def test_failed_events_queue_denies_requests_without_tls(template: Template) -> None:
    """The queue policy denies every request that does not use TLS."""
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": FAILED_EVENTS_QUEUE_ID}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Resource": FAILED_EVENTS_QUEUE_ARN,
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


# -- alarms ---------------------------------------------------------------------------------------------------


def test_errors_alarm_fires_on_one_failure_in_five_minutes(template: Template) -> None:
    """Errors Sum >= 1 over one 5-minute period alarms; no data is not an alarm."""
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function_logical_id(template)}}],
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
    )


def test_rejected_rows_alarm_fires_on_any_rejected_row(template: Template) -> None:
    """The function's RowsRejected EMF metric, Sum > 0 over 5 minutes, alarms; no data is not an alarm."""
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "CsvIngest",
            "MetricName": "RowsRejected",
            "Dimensions": [{"Name": "service", "Value": "csv-ingest"}],
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
    )


def test_rejected_rows_alarm_reads_the_metric_the_function_emits(template: Template) -> None:
    """The alarm's namespace and service dimension are the POWERTOOLS_* values the function is given."""
    namespace, service = Capture(), Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": {"POWERTOOLS_METRICS_NAMESPACE": namespace, "POWERTOOLS_SERVICE_NAME": service}}},
    )
    alarm = properties(template, alarm_logical_id(template, "RowsRejected"))
    assert (alarm["Namespace"], alarm["Dimensions"]) == (
        namespace.as_string(),
        [{"Name": "service", "Value": service.as_string()}],
    )


def test_failed_events_alarm_fires_when_the_queue_holds_a_message(template: Template) -> None:
    """Messages visible in the failed-events queue, Maximum >= 1, alarm; no data keeps the alarm's state."""
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [FAILED_EVENTS_QUEUE_ID, "QueueName"]}}],
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "ignore",
        },
    )


def test_duration_alarm_fires_at_80_percent_of_the_timeout(template: Template) -> None:
    """Duration Maximum >= 720,000 ms (80% of the 15-minute timeout) over 5 minutes alarms."""
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Duration",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function_logical_id(template)}}],
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 720_000,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
    )


@pytest.mark.parametrize(
    ("metric_name", "phrases"),
    [
        ("RowsRejected", ["RejectsBucketName", ".rejected.csv", "upload it to the upload bucket"]),
        ("ApproximateNumberOfMessagesVisible", ["FailedEventsQueueUrl", "redrive", "delete the message"]),
        ("Duration", ["too large", "large_file_bytes", "csv-ingest load"]),
        (
            "ExecutionsFailed",
            [
                "StateMachineArn",
                "execution history",
                "the run prefix",
                '"rerun": "<run prefix>"',
                "ingest the whole file with the failed input alone",
                "no write overwrites a newer upload's",
                "redrive-execution reruns only the failed step",
                "helps only when Partition or Finish itself failed on an AWS-side error",
            ],
        ),
    ],
)
def test_alarm_description_tells_the_reader_what_to_do(
    template: Template, metric_name: str, phrases: list[str]
) -> None:
    """Each new alarm's description says where to look and what to do."""
    description = properties(template, alarm_logical_id(template, metric_name))["AlarmDescription"]
    assert [p for p in phrases if p not in description] == []


@pytest.mark.parametrize("metric_name", ALARM_METRICS)
def test_alarm_notifies_the_alarm_topic(template: Template, metric_name: str) -> None:
    """Every alarm's action is the SNS topic."""
    topic_id, _ = single_resource(template, "AWS::SNS::Topic")
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": metric_name, "AlarmActions": [{"Ref": topic_id}]}
    )


def test_alarm_topic_is_encrypted_with_a_rotating_customer_managed_key(template: Template) -> None:
    """The topic uses a customer-managed KMS key (not alias/aws/sns) with rotation on."""
    key_id, key = single_resource(template, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})


def test_alarm_key_lets_cloudwatch_encrypt_notifications(template: Template) -> None:
    """CloudWatch may GenerateDataKey*/Decrypt with the topic key, or its publish would fail."""
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize("metric_name", ALARM_METRICS)
def test_alarm_topic_lets_cloudwatch_publish_for_each_alarm(template: Template, metric_name: str) -> None:
    """The topic policy (which replaces SNS's default) allows CloudWatch to publish for each alarm, by its ARN."""
    alarm_id = alarm_logical_id(template, metric_name)
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Condition": {
                                    "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [alarm_id, "Arn"]}},
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_alarm_topic_requires_tls(template: Template) -> None:
    """The topic policy denies publishing without TLS."""
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sns:Publish",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_no_email_subscription_without_alarm_email(template: Template) -> None:
    """Without the alarm_email context the topic has no subscription."""
    template.resource_count_is("AWS::SNS::Subscription", 0)


# -- dashboard ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        ("CsvIngest", "RowsWritten", "service", "csv-ingest"),
        ("CsvIngest", "RowsRejected", "service", "csv-ingest"),
        ("CsvIngest", "RowsSuperseded", "service", "csv-ingest"),
        ("CsvIngest", "RowsUnchanged", "service", "csv-ingest"),
        ("CsvIngest", "RowsDeleted", "service", "csv-ingest"),
        ("CsvIngest", "FilesProcessed", "service", "csv-ingest"),
        ("CsvIngest", "FilesFailed", "service", "csv-ingest"),
        ("AWS/Lambda", "Errors", "FunctionName", "${Function}"),
        ("AWS/Lambda", "Duration", "FunctionName", "${Function}"),
        ("AWS/Lambda", "Throttles", "FunctionName", "${Function}"),
        ("AWS/DynamoDB", "WriteThrottleEvents", "TableName", "${" + TABLE_ID + "}"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${" + FAILED_EVENTS_QUEUE_ID + ".QueueName}"),
        ("AWS/States", "ExecutionsStarted", "StateMachineArn", "${" + STATE_MACHINE_ID + "}"),
        ("AWS/States", "ExecutionsSucceeded", "StateMachineArn", "${" + STATE_MACHINE_ID + "}"),
        ("AWS/States", "ExecutionsFailed", "StateMachineArn", "${" + STATE_MACHINE_ID + "}"),
        ("AWS/States", "ExecutionTime", "StateMachineArn", "${" + STATE_MACHINE_ID + "}"),
    ],
    ids=lambda metric: metric[1],
)
def test_dashboard_graphs_the_metric(template: Template, metric: tuple[str, ...]) -> None:
    """The dashboard graphs rows, files, errors, duration, throttles, queue depth and large-file executions, of this
    stack's resources."""
    expected = tuple(v.replace("${Function}", "${" + function_logical_id(template) + "}") for v in metric)
    graphed = {
        tuple(line[:4]) for widget in dashboard_widgets(template) for line in widget["properties"].get("metrics", [])
    }
    assert expected in graphed


def test_dashboard_marks_the_timeout_on_the_duration_graph(template: Template) -> None:
    """The duration graph shows average and maximum, with the 900,000 ms timeout as a horizontal line."""
    (duration,) = [
        w["properties"] for w in dashboard_widgets(template) if w["properties"].get("title") == "Duration (ms)"
    ]
    assert [line[1] for line in duration["metrics"]] == ["Duration", "Duration"]
    assert [line[-1].get("stat", "Average") for line in duration["metrics"]] == ["Average", "Maximum"]
    assert duration["annotations"]["horizontal"] == [{"value": 900_000, "label": "Timeout", "yAxis": "left"}]


def test_dashboard_shows_the_state_of_every_alarm(template: Template) -> None:
    """An alarm-status widget lists the five alarms."""
    (alarms,) = [w["properties"]["alarms"] for w in dashboard_widgets(template) if w["type"] == "alarm"]
    assert sorted(alarms) == sorted("${" + alarm_logical_id(template, m) + ".Arn}" for m in ALARM_METRICS)


# -- outputs --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value_of", "description"),
    [
        (lambda t: {"Ref": UPLOAD_BUCKET_ID}, "Upload CSV files here"),
        (lambda t: {"Ref": TABLE_ID}, "DynamoDB table receiving the rows"),
        (lambda t: {"Ref": function_logical_id(t)}, "Lambda function that ingests each uploaded CSV"),
        (lambda t: {"Ref": single_resource(t, "AWS::SNS::Topic")[0]}, "SNS topic notified by the pipeline alarms"),
        (
            lambda t: {"Ref": REJECTS_BUCKET_ID},
            "Reports of rejected rows: fix them and upload the report to the upload bucket",
        ),
        (
            lambda t: {"Ref": FAILED_EVENTS_QUEUE_ID},
            "S3 events of files that failed on every attempt, to redrive once the cause is fixed",
        ),
        (
            lambda t: {"Ref": single_resource(t, "AWS::CloudWatch::Dashboard")[0]},
            "CloudWatch dashboard of the pipeline",
        ),
        (
            lambda t: {"Ref": WORK_BUCKET_ID},
            "Partitions of large files while the state machine ingests them (a failed run's kept to rerun)",
        ),
        (
            lambda t: {"Ref": STATE_MACHINE_ID},
            "Step Functions state machine ingesting files larger than large_file_bytes: see its executions' history "
            "for a failed file",
        ),
    ],
    ids=[
        "bucket",
        "table",
        "function",
        "topic",
        "rejects-bucket",
        "failed-events-queue",
        "dashboard",
        "work-bucket",
        "state-machine",
    ],
)
def test_outputs_tell_the_user_where_things_are(
    template: Template, value_of: Callable[[Template], dict[str, Any]], description: str
) -> None:
    """The stack outputs where uploads, rows, reports, failed events, alarms, the dashboard and the large-file path
    are, described."""
    assert len(template.find_outputs("*", {"Value": value_of(template), "Description": description})) == 1
