"""The default deployment's template: storage, function, trigger, least-privilege IAM, alarm and outputs."""

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template

from tests.infra.logical_ids import ACCESS_LOGS_BUCKET_ID, TABLE_ID, UPLOAD_BUCKET_ID

FUNCTION_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "dynamodb:UpdateItem",
    "dynamodb:PutItem",
}


def single_resource(template: Template, type_: str, props: Any = None) -> tuple[str, dict]:
    resources = template.find_resources(type_, {"Properties": props} if props else None)
    assert len(resources) == 1, f"expected one {type_}, found {sorted(resources)}"
    return next(iter(resources.items()))


def function_logical_id(template: Template) -> str:
    return single_resource(template, "AWS::Lambda::Function", {"Handler": "handler.handler"})[0]


def function_policy_statements(template: Template) -> list[dict]:
    """Every statement of every IAM policy attached to the ingest function's role."""
    role = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "handler.handler", "Role": {"Fn::GetAtt": [role, "Arn"]}}
    )
    policies = template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": Match.array_with([{"Ref": role.as_string()}])}}
    )
    assert policies, "the function's role has no policy"
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def properties(template: Template, logical_id: str) -> dict:
    return template.to_json()["Resources"][logical_id]["Properties"]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# -- stateful resources keep their identity -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logical_id", "type_"),
    [
        (UPLOAD_BUCKET_ID, "AWS::S3::Bucket"),
        (ACCESS_LOGS_BUCKET_ID, "AWS::S3::Bucket"),
        (TABLE_ID, "AWS::DynamoDB::Table"),
    ],
)
def test_stateful_resources_keep_their_logical_ids(template: Template, logical_id: str, type_: str) -> None:
    """The buckets and the table keep the logical IDs they were first deployed with, so they are never replaced."""
    assert logical_id in template.find_resources(type_)


def test_no_resource_has_a_physical_name(template: Template) -> None:
    """No bucket, table, function, topic, role or log group name is hard-coded; CloudFormation generates them."""
    name_properties = {"BucketName", "TableName", "FunctionName", "TopicName", "RoleName", "LogGroupName"}
    hard_coded = [
        (logical_id, name)
        for logical_id, resource in template.to_json()["Resources"].items()
        for name, value in resource.get("Properties", {}).items()
        if name in name_properties and isinstance(value, str)  # a Ref/GetAtt to a generated name is fine
    ]
    assert hard_coded == []


# -- upload bucket --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bucket_id", [UPLOAD_BUCKET_ID, ACCESS_LOGS_BUCKET_ID])
def test_bucket_is_encrypted_with_s3_managed_keys(template: Template, bucket_id: str) -> None:
    """Both buckets encrypt objects at rest with SSE-S3 (the only kind S3 access-log delivery supports)."""
    assert properties(template, bucket_id)["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }


def test_upload_bucket_is_versioned(template: Template) -> None:
    """Overwriting or deleting an upload keeps the previous version."""
    assert properties(template, UPLOAD_BUCKET_ID)["VersioningConfiguration"] == {"Status": "Enabled"}


@pytest.mark.parametrize("bucket_id", [UPLOAD_BUCKET_ID, ACCESS_LOGS_BUCKET_ID])
def test_bucket_blocks_all_public_access(template: Template, bucket_id: str) -> None:
    """Both buckets block every form of public access."""
    assert properties(template, bucket_id)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


@pytest.mark.parametrize("bucket_id", [UPLOAD_BUCKET_ID, ACCESS_LOGS_BUCKET_ID])
def test_bucket_denies_requests_without_tls(template: Template, bucket_id: str) -> None:
    """Both bucket policies deny every request that does not use TLS."""
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


def test_upload_bucket_logs_access_to_the_access_logs_bucket(template: Template) -> None:
    """Server access logs of the upload bucket go to the separate logs bucket."""
    assert properties(template, UPLOAD_BUCKET_ID)["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": ACCESS_LOGS_BUCKET_ID},
        "LogFilePrefix": "upload-bucket/",
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


def test_access_logs_bucket_accepts_logs_from_the_upload_bucket_only(template: Template) -> None:
    """S3 log delivery may write to the logs bucket only on behalf of the upload bucket."""
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
                                    {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [UPLOAD_BUCKET_ID, "Arn"]}}}
                                ),
                            }
                        )
                    ]
                )
            },
        },
    )


@pytest.mark.parametrize(
    ("logical_id", "type_"),
    [
        (UPLOAD_BUCKET_ID, "AWS::S3::Bucket"),
        (ACCESS_LOGS_BUCKET_ID, "AWS::S3::Bucket"),
        (TABLE_ID, "AWS::DynamoDB::Table"),
    ],
)
def test_data_is_deleted_with_the_stack_by_default(template: Template, logical_id: str, type_: str) -> None:
    """Without retain_data, deleting (or replacing) the stack's buckets and table deletes them."""
    deleted = template.find_resources(type_, {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})
    assert logical_id in deleted


@pytest.mark.parametrize("bucket_id", [UPLOAD_BUCKET_ID, ACCESS_LOGS_BUCKET_ID])
def test_buckets_are_emptied_before_deletion_by_default(template: Template, bucket_id: str) -> None:
    """Without retain_data, both buckets are emptied so that stack deletion succeeds."""
    template.has_resource_properties("Custom::S3AutoDeleteObjects", {"BucketName": {"Ref": bucket_id}})


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
    """s3:GetObject and s3:GetObjectVersion on the upload bucket's objects."""
    assert {
        "Sid": "ReadUploadedObjects",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [UPLOAD_BUCKET_ID, "Arn"]}, "/*"]]},
    } in function_policy_statements(template)


def test_function_may_upsert_rows_in_the_table(template: Template) -> None:
    """dynamodb:UpdateItem and the conditional dynamodb:PutItem on the table itself."""
    assert {
        "Sid": "UpsertRows",
        "Effect": "Allow",
        "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
        "Resource": {"Fn::GetAtt": [TABLE_ID, "Arn"]},
    } in function_policy_statements(template)


def test_function_may_make_only_the_calls_its_code_makes(template: Template) -> None:
    """The role allows exactly: write its logs, read objects, update/put items. Nothing else."""
    actions = {a for s in function_policy_statements(template) for a in as_list(s["Action"])}
    assert actions == FUNCTION_ACTIONS


@pytest.mark.parametrize(
    "forbidden_prefix",
    [
        "s3:List",
        "s3:GetBucket",
        "s3:PutObject",
        "s3:Delete",
        "dynamodb:DeleteItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:BatchWriteItem",
    ],
)
def test_function_may_not_list_write_objects_or_read_or_delete_rows(template: Template, forbidden_prefix: str) -> None:
    """No bucket listing, no object writes or deletes, no reads, scans, deletes or batch writes on the table."""
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


# -- trigger --------------------------------------------------------------------------------------------------


def test_csv_uploads_in_either_case_trigger_the_function(template: Template) -> None:
    """OBJECT_CREATED with suffix .csv and with suffix .CSV both invoke the function."""
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
                    for suffix in (".csv", ".CSV")
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


# -- alarm ----------------------------------------------------------------------------------------------------


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


def test_errors_alarm_notifies_the_alarm_topic(template: Template) -> None:
    """The alarm's action is the SNS topic."""
    topic_id, _ = single_resource(template, "AWS::SNS::Topic")
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "Errors", "AlarmActions": [{"Ref": topic_id}]}
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


def test_alarm_topic_lets_cloudwatch_publish_for_the_errors_alarm(template: Template) -> None:
    """The topic policy (which replaces SNS's default) allows CloudWatch to publish for this alarm only."""
    alarm_id, _ = single_resource(template, "AWS::CloudWatch::Alarm")
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


# -- outputs --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value_of", "description"),
    [
        (lambda t: {"Ref": UPLOAD_BUCKET_ID}, "Upload CSV files here"),
        (lambda t: {"Ref": TABLE_ID}, "DynamoDB table receiving the rows"),
        (lambda t: {"Ref": function_logical_id(t)}, "Lambda function that ingests each uploaded CSV"),
        (lambda t: {"Ref": single_resource(t, "AWS::SNS::Topic")[0]}, "SNS topic notified when the function fails"),
    ],
    ids=["bucket", "table", "function", "topic"],
)
def test_outputs_tell_the_user_where_things_are(
    template: Template, value_of: Callable[[Template], dict], description: str
) -> None:
    """The stack outputs the bucket, table and function names and the topic ARN, each with a description."""
    assert len(template.find_outputs("*", {"Value": value_of(template), "Description": description})) == 1
