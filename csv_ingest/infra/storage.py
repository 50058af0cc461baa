"""The Storage construct: where the pipeline's data lives (the upload, rejects, work and access-logs buckets, the table
and the failed-events queue) and, with `encryption=kms`, the key that encrypts it, each removed with the stack or kept,
as the deployment chooses; or an existing table and upload bucket, which the stack never removes."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from csv_ingest.infra.encryption import data_key
from csv_ingest.infra.props import Encryption
from csv_ingest_engine.constants import KeyType
from csv_ingest_engine.schema import KeyAttribute, Schema

ACCESS_LOGS_EXPIRATION = Duration.days(90)
ABORT_INCOMPLETE_UPLOADS_AFTER = Duration.days(7)
FAILED_EVENTS_RETENTION = Duration.days(14)  # SQS's maximum
# A chunk upload that failed halfway is never read: its parts go after a day, whatever work objects' lifetime.
ABORT_WORK_UPLOADS_AFTER = Duration.days(1)
KEY_ATTRIBUTE_TYPES: dict[KeyType, dynamodb.AttributeType] = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


class Storage(Construct):
    """CSV files arrive in `upload_bucket`, their rows go to `table` (keyed as `schema` says), reports of rejected rows
    to `rejects_bucket`, and the S3 events of files that failed every attempt to `failed_events_queue`.
    `work_bucket` holds the large-file state machine's intermediate objects, which the finish step deletes once a
    file is in; a failed run's (kept for a redrive or a rerun) go after `work_objects_expiration`.

    `access_logs_bucket` receives the other buckets' server access logs. With `retain_data` the buckets (but the work
    bucket), table and queue outlive the stack; without it they are deleted with it, the buckets emptied first.

    With `encryption` "kms", `encryption_key` (kept or deleted as the data is) encrypts the buckets (but the
    access-logs bucket), the table and the queue; with "aws" (None) each service's own keys do.

    `existing_table` and `existing_upload_bucket` (None: the storage creates its own) become `table` and
    `upload_bucket` as they are: their settings (key schema, capacity, encryption, versioning, lifecycle, policies)
    are their owner's, and nothing here changes, replaces or deletes them. Either way the functions may read only
    the upload bucket's `upload_keys` (`upload_prefix` then anything), the keys whose uploads are ingested.
    `owns_table` and `owns_upload_bucket` say which the storage created.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        schema: Schema,
        retain_data: bool,
        noncurrent_version_expiration: Duration,
        rejects_expiration: Duration,
        work_objects_expiration: Duration,
        encryption: Encryption,
        upload_prefix: str = "",
        existing_table: dynamodb.ITable | None = None,
        existing_upload_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.upload_prefix = upload_prefix
        self.upload_keys = f"{upload_prefix}*"
        self.owns_table = existing_table is None
        self.owns_upload_bucket = existing_upload_bucket is None
        self._retain_data = retain_data
        self._removal_policy = RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY
        self.encryption_key: kms.Key | None = (
            data_key(self, "DataKey", retain=retain_data) if encryption == "kms" else None
        )

        # No AwsSolutions-S1 (access logging) acknowledgement needed: cdk-nag treats the bucket that receives
        # another bucket's access logs as compliant.
        # SSE-S3 whatever `encryption`: AWS documents SSE-S3 as the only default encryption S3 server access logging
        # delivers to. It holds requests (key, requester, time), never an object's contents.
        self.access_logs_bucket = self._secure_bucket(
            "AccessLogsBucket",
            with_data_key=False,
            lifecycle_rule=s3.LifecycleRule(
                id="ExpireAccessLogs",
                expiration=ACCESS_LOGS_EXPIRATION,
                abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS_AFTER,
            ),
        )
        self.upload_bucket: s3.IBucket = existing_upload_bucket or self._secure_bucket(
            "UploadBucket",
            versioned=True,
            access_logs_prefix="upload-bucket/",
            lifecycle_rule=s3.LifecycleRule(
                id="ExpireNoncurrentVersions",
                noncurrent_version_expiration=noncurrent_version_expiration,
                abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS_AFTER,
            ),
        )
        # No event notification, ever: a report is a CSV, and it must not be ingested until a user has fixed it and
        # uploaded it to the upload bucket. Not versioned: each report's key names the upload's version already.
        self.rejects_bucket = self._secure_bucket(
            "RejectsBucket",
            access_logs_prefix="rejects-bucket/",
            lifecycle_rule=s3.LifecycleRule(
                id="ExpireRejectsReports",
                expiration=rejects_expiration,
                # The function may not AbortMultipartUpload (PutObject only), so a large report whose upload
                # failed halfway is cleaned up here.
                abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS_AFTER,
            ),
        )
        # Copies of uploaded rows, so logged like the uploads. No event notification: its chunks are CSV too, and
        # must never start an ingestion of their own. Always deleted with the stack, even with `retain_data`:
        # nothing in it is not also in the upload bucket, and it empties itself anyway.
        self.work_bucket = self._secure_bucket(
            "WorkBucket",
            access_logs_prefix="work-bucket/",
            lifecycle_rule=s3.LifecycleRule(
                id="ExpireWorkObjects",
                expiration=work_objects_expiration,
                abort_incomplete_multipart_upload_after=ABORT_WORK_UPLOADS_AFTER,
            ),
            scratch=True,
        )
        # The key schema is fixed at a table's creation: CloudFormation replaces a deployed table whose key changes
        # (another key column or type, a sort key added or removed), which means a new, empty table, and the old one
        # deleted with its items, or, with `retain_data`, left behind outside the stack.
        self.table: dynamodb.ITable = existing_table or dynamodb.Table(
            self,
            "Table",
            partition_key=_key_attribute(schema.partition_key),
            sort_key=_key_attribute(schema.sort_key) if schema.sort_key is not None else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED
            if self.encryption_key
            else dynamodb.TableEncryption.AWS_MANAGED,
            encryption_key=self.encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=self._removal_policy,
        )
        self.failed_events_queue = self._failed_events_queue()

    def _secure_bucket(
        self,
        id_: str,
        *,
        lifecycle_rule: s3.LifecycleRule,
        with_data_key: bool = True,
        versioned: bool = False,
        access_logs_prefix: str | None = None,
        scratch: bool = False,
    ) -> s3.Bucket:
        """A bucket with the settings every bucket here shares, encrypted with the data key (`with_data_key`, when
        there is one) or SSE-S3; with `access_logs_prefix`, its server access logs go to `access_logs_bucket` under
        that prefix. A `scratch` bucket is emptied and deleted with the stack even with `retain_data`."""
        encryption_key = self.encryption_key if with_data_key else None
        return s3.Bucket(
            self,
            id_,
            # SSE-S3 by default: encryption at rest without a KMS call (cost, throttling) per object read or written.
            # With the data key, an S3 Bucket Key makes that one call per bucket and few minutes, not per object.
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=True if encryption_key else None,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=versioned,
            server_access_logs_bucket=self.access_logs_bucket if access_logs_prefix else None,
            server_access_logs_prefix=access_logs_prefix,
            lifecycle_rules=[lifecycle_rule],
            # Throw-away in development, kept when `retain_data`.
            removal_policy=RemovalPolicy.DESTROY if scratch else self._removal_policy,
            auto_delete_objects=scratch or not self._retain_data,
        )

    def _failed_events_queue(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "FailedEventsQueue",
            # SSE-SQS by default: the messages are S3 event records and error text (no row data), so encryption at
            # rest is enough; the data key adds a KMS call per send (or per data key reuse period, 5 minutes).
            encryption=sqs.QueueEncryption.KMS if self.encryption_key else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=self.encryption_key,
            enforce_ssl=True,
            retention_period=FAILED_EVENTS_RETENTION,
            removal_policy=self._removal_policy,
        )
        Validations.of(queue.node.find_child("Resource")).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="This queue is itself the dead-letter destination: the function's on-failure destination for "
                "S3 events that failed every retry. Nothing consumes it automatically; a person redrives it.",
            )
        )
        return queue


def _key_attribute(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=KEY_ATTRIBUTE_TYPES[key.type])
