"""The CsvIngestPipeline construct: upload bucket -> Python Lambda -> DynamoDB table, with its alarm and outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import (
    Acknowledgment,
    CfnOutput,
    Duration,
    RemovalPolicy,
    Size,
    Stack,
    Validations,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk.aws_lambda_python_alpha import BundlingOptions, PythonFunction
from constructs import Construct

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
CSV_SUFFIXES = (".csv", ".CSV")
ACCESS_LOGS_EXPIRATION = Duration.days(90)
ABORT_INCOMPLETE_UPLOADS_AFTER = Duration.days(7)
ERRORS_ALARM_PERIOD = Duration.minutes(5)

# The stack-level singleton CDK creates for `add_event_notification`; the id is fixed in aws-cdk-lib. If an
# upgrade renames it, `find_child` fails the synth, which is the signal to look again.
_NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
_LAMBDA_BASIC_EXECUTION = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@dataclass(frozen=True, kw_only=True)
class PipelineProps:
    """Everything a deployment may tune; the defaults are the development setup."""

    key_column: str = "customer_id"
    retain_data: bool = False
    alarm_email: str | None = None
    memory_size_mb: int = 1769  # one full vCPU
    timeout: Duration = field(default_factory=lambda: Duration.minutes(15))
    ephemeral_storage_mib: int = 4096
    noncurrent_version_expiration_days: int = 30

    def __post_init__(self) -> None:
        if not self.key_column or self.key_column != self.key_column.strip():
            raise ValueError(f"key_column must be a non-empty name without surrounding spaces, got {self.key_column!r}")
        if len(self.key_column.encode()) > 255:
            raise ValueError("key_column must be at most 255 bytes (the DynamoDB limit for key attribute names)")
        if self.alarm_email is not None and ("@" not in self.alarm_email or any(c.isspace() for c in self.alarm_email)):
            raise ValueError(f"alarm_email must be an e-mail address, got {self.alarm_email!r}")
        _check_range("memory_size_mb", self.memory_size_mb, 128, 10240)
        if not 1 <= self.timeout.to_seconds() <= 900:
            raise ValueError(f"timeout must be between 1 second and 15 minutes (Lambda's limit), got {self.timeout}")
        _check_range("ephemeral_storage_mib", self.ephemeral_storage_mib, 512, 10240)
        _check_range("noncurrent_version_expiration_days", self.noncurrent_version_expiration_days, 1, 36500)

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


class CsvIngestPipeline(Construct):
    """A CSV dropped into `bucket` triggers `function`, which upserts its rows into `table`.

    Failures of the function raise `errors_alarm`, which notifies `alarm_topic`.
    """

    def __init__(self, scope: Construct, id_: str, *, props: PipelineProps | None = None) -> None:
        super().__init__(scope, id_)
        self.props = props or PipelineProps()

        self.access_logs_bucket = self._access_logs_bucket()
        self.bucket = self._upload_bucket()
        self.table = self._table()
        self.log_group, self.function = self._function()
        self._trigger()
        self.alarm_topic = self._alarm_topic()
        self.errors_alarm = self._errors_alarm()
        self._outputs()
        self._acknowledge_cdk_managed_resources()

    # -- storage --------------------------------------------------------------------------------------------

    def _bucket_removal(self) -> dict[str, Any]:
        """Removal settings shared by both buckets: throw-away in development, kept when `retain_data`."""
        return {
            "removal_policy": self.props.removal_policy,
            "auto_delete_objects": not self.props.retain_data,
        }

    def _access_logs_bucket(self) -> s3.Bucket:
        # No AwsSolutions-S1 (access logging) acknowledgement needed: cdk-nag treats the bucket that receives
        # another bucket's access logs as compliant.
        return s3.Bucket(
            self,
            "AccessLogsBucket",
            # S3 server access logging can only deliver to an SSE-S3 bucket, not SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=ACCESS_LOGS_EXPIRATION,
                    abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS_AFTER,
                )
            ],
            **self._bucket_removal(),
        )

    def _upload_bucket(self) -> s3.Bucket:
        return s3.Bucket(
            self,
            "UploadBucket",
            # SSE-S3: the uploads need encryption at rest, not key-level access control, and SSE-KMS would add a
            # KMS call (cost, throttling) to every GetObject the function makes.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="upload-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireNoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(self.props.noncurrent_version_expiration_days),
                    abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS_AFTER,
                )
            ],
            **self._bucket_removal(),
        )

    def _table(self) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=self.props.key_column, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=self.props.removal_policy,
        )

    # -- compute ---------------------------------------------------------------------------------------------

    def _function(self) -> tuple[logs.LogGroup, PythonFunction]:
        log_group = logs.LogGroup(
            self,
            "FunctionLogs",
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # An explicit role instead of the default one, which would attach the AWSLambdaBasicExecutionRole
        # managed policy (logs:CreateLogGroup and writes to any log group).
        role = iam.Role(self, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        function = PythonFunction(
            self,
            "Function",
            entry=str(LAMBDA_DIR),
            index="handler.py",
            handler="handler",
            runtime=lambda_.Runtime.PYTHON_3_14,
            # Graviton costs ~20% less per GB-second; bundling then runs in a linux/arm64 container, which an x86
            # Docker host runs through QEMU emulation.
            architecture=lambda_.Architecture.ARM_64,
            memory_size=self.props.memory_size_mb,
            timeout=self.props.timeout,
            ephemeral_storage_size=Size.mebibytes(self.props.ephemeral_storage_mib),
            log_group=log_group,
            role=role,
            # Local build artefacts (pip's egg-info from an editable install, bytecode) stay out of the zip.
            bundling=BundlingOptions(asset_excludes=["*.egg-info", "__pycache__", "*.pyc"]),
            environment={
                "TABLE_NAME": self.table.table_name,
                "KEY_COLUMN": self.props.key_column,
                "POWERTOOLS_SERVICE_NAME": "csv-ingest",
            },
        )
        self._grant_function_access(role)
        return log_group, function

    def _grant_function_access(self, role: iam.Role) -> None:
        """Exactly the calls the handler makes: read the uploaded object, upsert rows."""
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadUploadedObjects",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.bucket.arn_for_objects("*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UpsertRows",
                actions=["dynamodb:UpdateItem", "dynamodb:PutItem"],
                resources=[self.table.table_arn],
            )
        )
        bucket_logical_id = Stack.of(self).resolve(self.bucket.node.default_child.logical_id)
        Validations.of(role.node.find_child("DefaultPolicy")).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket_logical_id}.Arn>/*]",
                reason="The function reads whichever object the S3 event names, so it needs GetObject on every "
                "key of the upload bucket (and only that bucket).",
            )
        )

    def _trigger(self) -> None:
        # S3 suffix filters are case-sensitive; Excel on Windows often writes `.CSV`.
        destination = s3n.LambdaDestination(self.function)
        for suffix in CSV_SUFFIXES:
            self.bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED, destination, s3.NotificationKeyFilter(suffix=suffix)
            )

    # -- alarms ----------------------------------------------------------------------------------------------

    def _alarm_topic(self) -> sns.Topic:
        # CloudWatch cannot publish to a topic encrypted with the AWS-managed alias/aws/sns key, so the topic
        # gets a customer-managed key whose policy lets CloudWatch use it.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the csv-ingest alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if self.props.alarm_email:
            topic.add_subscription(sns_subscriptions.EmailSubscription(self.props.alarm_email))
        return topic

    def _notify_on(self, alarm: cloudwatch.Alarm) -> None:
        """Send `alarm`'s state changes to the alarm topic."""
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        # enforce_ssl gives the topic a policy, which replaces SNS's default one; without this statement
        # CloudWatch's publish is refused and the alarm fires into the void.
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": alarm.alarm_arn},
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )

    def _errors_alarm(self) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            "FunctionErrorsAlarm",
            alarm_description="The csv-ingest function failed at least once; see its log group for the error.",
            metric=self.function.metric_errors(period=ERRORS_ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._notify_on(alarm)
        return alarm

    # -- outputs and cdk-nag -----------------------------------------------------------------------------------

    def _outputs(self) -> None:
        CfnOutput(self, "UploadBucketName", value=self.bucket.bucket_name, description="Upload CSV files here")
        CfnOutput(self, "TableName", value=self.table.table_name, description="DynamoDB table receiving the rows")
        CfnOutput(
            self,
            "FunctionName",
            value=self.function.function_name,
            description="Lambda function that ingests each uploaded CSV",
        )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.alarm_topic.topic_arn,
            description="SNS topic notified when the function fails",
        )

    def _acknowledge_cdk_managed_resources(self) -> None:
        """The one finding inherent to a resource CDK generates for us: the S3 notifications handler's role."""
        handler = Stack.of(self).node.find_child(_NOTIFICATIONS_HANDLER_ID)
        Validations.of(handler.node.find_child("Role")).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM4[{_LAMBDA_BASIC_EXECUTION}]",
                reason="Role of CDK's BucketNotificationsHandler, which CDK creates with the "
                "AWSLambdaBasicExecutionRole managed policy and offers no way to replace.",
            )
        )
