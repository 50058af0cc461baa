"""The customer-managed key of `encryption=kms` (its policy: which services may use it, and how), and the grants
that let a role use a key only through the service that stores the data."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# The longest KMS allows: a key deleted with the stack, or left behind by a switch back to encryption=aws (objects
# and log events written before stay encrypted under it), can be restored (`aws kms cancel-key-deletion`) for 30 days.
DATA_KEY_PENDING_WINDOW = Duration.days(30)


def data_key(scope: Construct, id_: str, *, retain: bool) -> kms.Key:
    """The key of everything the pipeline stores, with yearly rotation, that CloudWatch Logs may use for this account's
    log groups. Kept with the data (`retain`): retained data is unreadable without it."""
    key = kms.Key(
        scope,
        id_,
        description="Encrypts the csv-ingest data: buckets, table, failed-events queue, alarm topic and log groups",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        pending_window=DATA_KEY_PENDING_WINDOW,
    )
    stack = Stack.of(key)
    # CloudWatch Logs encrypts a log group's events with the log group's key as the regional logs service; the
    # encryption context names the log group, so the service may use the key for this account's log groups only.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsForThisAccountsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
    return key


def allow_cloudwatch_alarms(key: kms.IKey) -> None:
    """Let CloudWatch alarms of this account (and only this account) encrypt their notifications to a topic that
    `key` encrypts: CloudWatch cannot publish to a topic encrypted with the AWS-managed alias/aws/sns key."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToUseTheKey",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:GenerateDataKey*", "kms:Decrypt"],
            resources=["*"],  # in a key policy, "*" means this key
            # Without it, any account's alarm notifying a topic under this key could use it (confused deputy).
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(key).account}},
        )
    )


def grant_use_via(key: kms.IKey, role: iam.IRole, service: str, *actions: str) -> None:
    """Let `role` use `key` for `actions` only through `service` (s3, dynamodb, sqs) on its behalf: the role can
    decrypt what it may already read there, and nothing by calling KMS itself."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=list(actions),
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"{service}.{Stack.of(key).region}.amazonaws.com"}},
        )
    )
