"""The CsvIngestPipeline construct: upload bucket -> Python Lambda (or, for a large file, a Step Functions state
machine) -> DynamoDB table, composed of its storage, its ingestion function, its large-file flow and its monitoring,
with the grants between them and the stack outputs."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Annotations, CfnOutput, Duration, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from csv_ingest.infra.encryption import grant_use_via
from csv_ingest.infra.flow_timing import work_objects_lifetime
from csv_ingest.infra.ingestion import IngestionFunction
from csv_ingest.infra.large_file_flow import LargeFileFlow
from csv_ingest.infra.monitoring import Monitoring
from csv_ingest.infra.props import PipelineProps
from csv_ingest.infra.resource_ids import keep_logical_ids, logical_id
from csv_ingest.infra.storage import Storage
from csv_ingest_engine.constants import OUTCOME_EVENT_BUS
from csv_ingest_engine.requests import write_actions

# What publishing an outcome does to the uploaded object version: read its tags (to keep the user's own) and write
# them back with the outcome's; the Version actions for an object version the event names, the others without one.
OUTCOME_TAGGING_ACTIONS = (
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
)


class CsvIngestPipeline(Construct):
    """A CSV dropped into `storage.upload_bucket` triggers `ingestion.function`, which upserts its rows into
    `storage.table`, or, for a file larger than `props.large_file_bytes`, starts `large_files.state_machine`, which
    writes it in partitions through `storage.work_bucket`.

    Rejected rows go to a report in `storage.rejects_bucket`; the S3 event of a file that still fails after the
    retries goes to `storage.failed_events_queue`. `monitoring` alarms on both, and on errors and long runs, through
    `monitoring.alarm_topic`, and shows it all on `monitoring.dashboard`.
    """

    def __init__(self, scope: Construct, id_: str, *, props: PipelineProps | None = None) -> None:
        super().__init__(scope, id_)
        self.props = props or PipelineProps()
        self.storage = Storage(
            self,
            "Storage",
            schema=self.props.schema,
            retain_data=self.props.retain_data,
            noncurrent_version_expiration=Duration.days(self.props.noncurrent_version_expiration_days),
            rejects_expiration=Duration.days(self.props.rejects_expiration_days),
            # As long as an execution may run and then be redriven or rerun (see `flow_timing`).
            work_objects_expiration=work_objects_lifetime(self.props.timeout, self.props.max_workers),
            encryption=self.props.encryption,
        )
        key = self.storage.encryption_key
        engine = self.props.engine
        # The state machine first: the trigger function is told its ARN (and the state machine knows nothing of
        # the trigger, so there is no cycle).
        self.large_files = LargeFileFlow(
            self,
            "LargeFiles",
            work_bucket=self.storage.work_bucket,
            table_name=self.storage.table.table_name,
            rejects_bucket_name=self.storage.rejects_bucket.bucket_name,
            config=engine,
            max_workers=self.props.max_workers,
            worker_reserved_concurrency=self.props.worker_reservation,
            sizing=self.props.sizing,
            encryption_key=key,
        )
        self.ingestion = IngestionFunction(
            self,
            "Ingestion",
            upload_bucket=self.storage.upload_bucket,
            table_name=self.storage.table.table_name,
            rejects_bucket_name=self.storage.rejects_bucket.bucket_name,
            failed_events_queue=self.storage.failed_events_queue,
            state_machine_arn=self.large_files.state_machine.state_machine_arn,
            config=engine,
            sizing=self.props.sizing,
            reserved_concurrency=self.props.trigger_reserved_concurrency,
            encryption_key=key,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            function=self.ingestion.function,
            timeout=self.props.timeout,
            table=self.storage.table,
            failed_events_queue=self.storage.failed_events_queue,
            state_machine=self.large_files.state_machine,
            alarm_email=self.props.alarm_email,
            encryption_key=key,
        )
        # The storage, ingestion and monitoring resources keep the logical IDs they would have as children of the
        # pipeline itself, the IDs deployed stacks have: CloudFormation replaces a resource whose logical ID changes. A
        # replaced bucket, table or queue is a new, empty one; a bucket or queue policy, the upload trigger and the
        # auto-delete resources are one per bucket or queue, so their replacement is created first and deleting the
        # old one strips the policy or trigger, or empties the bucket; a replaced function can drop events queued for
        # the old one, a replaced log group loses the logs, and a new alarm topic notifies no one until its
        # subscription is confirmed again. This comes before the acknowledgements below, which read the buckets'
        # logical IDs. The large-file flow's resources have the IDs CDK gives them where they are.
        parts = [self.storage, self.ingestion, self.monitoring]
        keep_logical_ids(parts, first_deployed_without=parts)
        self._grant_data_access()
        self._grant_large_file_access()
        self._grant_outcome_reporting()
        self._grant_key_use()
        self._outputs()
        self._note_reserved_concurrency()

    def _grant_data_access(self) -> None:
        """Exactly the calls the handler makes: read the uploaded object, upsert rows, write a rejects report.

        Action-level grants, not `grant_read`/`grant_put`/`grant_write_data`: those add listing, deleting,
        DescribeTable and tagging actions the handler never calls (the tagging it does is granted by
        `_grant_outcome_reporting`). They add no KMS statement either, with a data key or not:
        `_grant_key_use` does.
        """
        function = self.ingestion.function
        storage = self.storage
        storage.upload_bucket.grants.actions_on_object_keys(function, "*", "s3:GetObject", "s3:GetObjectVersion")
        storage.table.grants.actions(function, *self._write_actions)
        # upload_file: a large report goes up in parts, which s3:PutObject authorizes too. DeleteObject: a run that
        # rejects no row removes the report an earlier run of the same upload left.
        storage.rejects_bucket.grants.actions_on_object_keys(function, "*", "s3:PutObject", "s3:DeleteObject")
        _acknowledge_every_key(
            self.ingestion.role,
            {
                storage.upload_bucket: "The function reads whichever object the S3 event names, and tags it with "
                "the file's outcome, so it needs GetObject and the object tagging actions on every key of the upload "
                "bucket (and only that bucket).",
                storage.rejects_bucket: "A report's key follows the key of the upload it belongs to, which can be any "
                "key, so the function needs PutObject and DeleteObject (of an earlier run's report) on every key of "
                "the rejects bucket (and only that bucket).",
            },
        )

    @property
    def _write_actions(self) -> tuple[str, ...]:
        """Only what the writer calls in the configured mode: e.g. BatchWriteItem only for unstamped replace."""
        engine = self.props.engine
        return write_actions(engine.write_mode, ordered=engine.order_attribute is not None)

    def _grant_large_file_access(self) -> None:
        """Exactly the calls each step of the large-file path makes (lambda/handler.py's entry points).

        Only the trigger function may start the state machine. Work objects live under a prefix named after the
        execution, chosen at run time, so each grant on the work bucket covers its every key (and only that bucket).
        """
        storage, flow = self.storage, self.large_files
        work_bucket = storage.work_bucket
        flow.state_machine.grant_start_execution(self.ingestion.function)
        # The Map's item reader and result writer: CDK grants the state machine these on the work bucket's keys.
        Validations.of(flow.state_machine.role.node.find_child("DefaultPolicy")).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<{logical_id(work_bucket)}>/*]",
                reason="The Map reads the manifest the execution names and writes its results (S3 multipart "
                "uploads) under prefixes chosen at run time, so the state machine needs GetObject, PutObject and "
                "the multipart actions on every key of the work bucket (and only that bucket).",
            )
        )

        # reads the upload's version, writes the partitions' chunks and manifest; for a rerun, reads the run's
        # manifests and verdict
        partition = flow.partition.function
        storage.upload_bucket.grants.actions_on_object_keys(partition, "*", "s3:GetObject", "s3:GetObjectVersion")
        work_bucket.grants.actions_on_object_keys(partition, "*", "s3:GetObject", "s3:PutObject")
        _acknowledge_every_key(
            flow.partition.role,
            {
                storage.upload_bucket: "The partition step reads whichever upload the execution names, and tags it "
                "with the outcome of a file that fails there, so it needs GetObject and the object tagging actions on "
                "every key of the upload bucket (and only that bucket).",
                work_bucket: "The partition step writes chunks and reads a failed run's manifests under a prefix "
                "named after the execution, chosen at run time, so it needs GetObject and PutObject on every key of "
                "the work bucket (and only that bucket).",
            },
        )

        worker = flow.ingest_partition.function  # reads its partition's chunks, writes rows, its result and rejects
        work_bucket.grants.actions_on_object_keys(worker, "*", "s3:GetObject", "s3:PutObject")
        storage.table.grants.actions(worker, *self._write_actions)
        _acknowledge_every_key(
            flow.ingest_partition.role,
            {
                work_bucket: "A worker reads its partition's chunks and writes its result under a prefix named after "
                "the execution, chosen at run time, so it needs GetObject and PutObject on every key of the work "
                "bucket (and only that bucket).",
            },
        )

        # reads the results and partial rejects, writes the report (or deletes an earlier run's), its verdict and a
        # failed run's manifest, deletes the rest
        finish = flow.finish.function
        work_bucket.grants.actions_on_object_keys(finish, "*", "s3:GetObject", "s3:PutObject", "s3:DeleteObject")
        storage.rejects_bucket.grants.actions_on_object_keys(finish, "*", "s3:PutObject", "s3:DeleteObject")
        _acknowledge_every_key(
            flow.finish.role,
            {
                work_bucket: "The finish step reads, writes and deletes the objects under a prefix named after the "
                "execution, chosen at run time, so it needs GetObject, PutObject and DeleteObject on every key of the "
                "work bucket (and only that bucket).",
                storage.rejects_bucket: "A report's key follows the key of the upload it belongs to, which can be any "
                "key, so the finish step needs PutObject (a report) and DeleteObject (an earlier run's report, when "
                "this run rejected nothing) on every key of the rejects bucket (and only that bucket).",
            },
        )

    def _grant_outcome_reporting(self) -> None:
        """The functions that conclude a file publish its outcome (`csv_ingest_engine.outcome_publishing`): the
        trigger (a file ingested in one invocation, or one that fails there), Partition (a large file that fails as a
        whole before the Map) and Finish (every other large file). Each reads the uploaded object version's tags and
        puts them back with the outcome's (the Version actions when the event names a version, the others without
        one), and puts the event on the account's default bus, and nothing else: no other bus, no tag deletion.
        """
        default_bus = events.EventBus.from_event_bus_name(self, "DefaultEventBus", OUTCOME_EVENT_BUS)
        upload_bucket = self.storage.upload_bucket
        flow = self.large_files
        publishers = (self.ingestion.function, flow.partition.function, flow.finish.function)
        for function in publishers:
            # Every key ("*"): the object is whichever upload the event names.
            upload_bucket.grants.actions_on_object_keys(function, "*", *OUTCOME_TAGGING_ACTIONS)
            default_bus.grant_put_events_to(function)
        # The trigger's and Partition's grants on every key of the upload bucket are acknowledged with their reads.
        _acknowledge_every_key(
            flow.finish.role,
            {
                upload_bucket: "The finish step tags whichever upload the execution names with the file's outcome, "
                "so it needs the object tagging actions (GetObject(Version)Tagging, to keep the user's own tags, "
                "and PutObject(Version)Tagging) on every key of the upload bucket (and only that bucket).",
            },
        )

    def _grant_key_use(self) -> None:
        """With a data key, each role may use it through the services whose data it reads or writes, for what it
        does there, and nothing else (CloudWatch Logs, Lambda and the alarms use it under the key's own policy).

        S3 (SSE-KMS with a Bucket Key): a read decrypts (kms:Decrypt), a write asks for a data key
        (kms:GenerateDataKey), and a multipart upload (upload_file, a large report or chunk, the Map's results) also
        decrypts to assemble its parts. SQS: sending to the failed-events queue needs both, as Lambda sends with the
        function's role. DynamoDB: the writers' puts and updates, conditional ones reading the item first.
        """
        key = self.storage.encryption_key
        if key is None:
            return
        flow = self.large_files
        s3_read_write = ("kms:Decrypt", "kms:GenerateDataKey")  # every role here reads and writes objects
        table_writes = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
        trigger = self.ingestion.role
        grant_use_via(key, trigger, "s3", *s3_read_write)  # reads the upload, writes a report
        grant_use_via(key, trigger, "dynamodb", *table_writes)
        grant_use_via(key, trigger, "sqs", "kms:Decrypt", "kms:GenerateDataKey")  # Lambda sends as the role
        grant_use_via(key, flow.partition.role, "s3", *s3_read_write)  # reads the upload, writes chunks and a manifest
        grant_use_via(key, flow.ingest_partition.role, "s3", *s3_read_write)  # reads chunks, writes its result
        grant_use_via(key, flow.ingest_partition.role, "dynamodb", *table_writes)
        grant_use_via(key, flow.finish.role, "s3", *s3_read_write)  # reads results, writes the report and its verdict
        grant_use_via(key, flow.state_machine.role, "s3", *s3_read_write)  # the Map reads the manifest, writes results

    def _outputs(self) -> None:
        # Defined on the pipeline itself: an output's key in the stack's outputs follows its construct path, and
        # deployed stacks are read by these keys.
        storage, monitoring = self.storage, self.monitoring
        CfnOutput(
            self, "UploadBucketName", value=storage.upload_bucket.bucket_name, description="Upload CSV files here"
        )
        CfnOutput(self, "TableName", value=storage.table.table_name, description="DynamoDB table receiving the rows")
        CfnOutput(
            self,
            "FunctionName",
            value=self.ingestion.function.function_name,
            description="Lambda function that ingests each uploaded CSV",
        )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=monitoring.alarm_topic.topic_arn,
            description="SNS topic notified by the pipeline alarms",
        )
        CfnOutput(
            self,
            "RejectsBucketName",
            value=storage.rejects_bucket.bucket_name,
            description="Reports of rejected rows: fix them and upload the report to the upload bucket",
        )
        CfnOutput(
            self,
            "FailedEventsQueueUrl",
            value=storage.failed_events_queue.queue_url,
            description="S3 events of files that failed on every attempt, to redrive once the cause is fixed",
        )
        CfnOutput(
            self,
            "DashboardName",
            value=monitoring.dashboard.dashboard_name,
            description="CloudWatch dashboard of the pipeline",
        )
        CfnOutput(
            self,
            "WorkBucketName",
            value=storage.work_bucket.bucket_name,
            description="Partitions of large files while the state machine ingests them (a failed run's kept to rerun)",
        )
        CfnOutput(
            self,
            "StateMachineArn",
            value=self.large_files.state_machine.state_machine_arn,
            description="Step Functions state machine ingesting files larger than large_file_bytes: see its "
            "executions' history for a failed file",
        )
        if storage.encryption_key is not None:
            CfnOutput(
                self,
                "DataKeyArn",
                value=storage.encryption_key.key_arn,
                description="KMS key encrypting the buckets, table, queue, topic and logs (encryption=kms): whoever "
                "reads them (a report, the queue, the logs, csv-ingest on the table) needs kms:Decrypt on it",
            )

    def _note_reserved_concurrency(self) -> None:
        """Say at synth what the reservations take from the account: a deployment they do not fit fails."""
        reserved = {
            "trigger_reserved_concurrency": self.props.trigger_reserved_concurrency,
            "worker_reserved_concurrency": self.props.worker_reservation,
        }
        total = sum(value or 0 for value in reserved.values())
        if not total:
            return
        Annotations.of(self).add_info(
            f"Reserves {total} of the account's Lambda concurrency ("
            + ", ".join(f"{key}={value}" for key, value in reserved.items() if value)
            + "). Lambda refuses a reservation that leaves less than 100 unreserved: `aws lambda get-account-settings"
            f" --query AccountLimit.UnreservedConcurrentExecutions` must be at least {total + 100}. Otherwise ask "
            "for a higher concurrency quota, or deploy with -c trigger_reserved_concurrency=none -c "
            "worker_reserved_concurrency=none (no bound across files: see the README's sizing rule)."
        )


def _acknowledge_every_key(role: iam.Role, reasons: dict[s3.IBucket, str]) -> None:
    """Acknowledge cdk-nag's AwsSolutions-IAM5 finding for `role`'s grant on every key of each bucket, with its
    reason."""
    default_policy = Validations.of(role.node.find_child("DefaultPolicy"))
    for bucket, reason in reasons.items():
        default_policy.acknowledge(
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/*]", reason=reason)
        )
