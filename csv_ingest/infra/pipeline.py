"""The CsvIngestPipeline construct: upload bucket -> Python Lambda (or, for a large file, a Step Functions state
machine) -> DynamoDB table, composed of its storage, its ingestion function, its large-file flow and its monitoring,
with the grants between them and the stack outputs."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Annotations, CfnOutput, Duration, Stack, Token, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from csv_ingest.infra.encryption import grant_use_via
from csv_ingest.infra.flow_timing import work_objects_lifetime
from csv_ingest.infra.ingestion import IngestionFunction
from csv_ingest.infra.large_file_flow import LargeFileFlow
from csv_ingest.infra.monitoring import Monitoring
from csv_ingest.infra.props import PipelineProps
from csv_ingest.infra.resource_ids import keep_logical_ids, logical_id, nag_reference
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

    - `props`: the settings, each documented with its default in PipelineProps. Default: `PipelineProps()`, the
      development setup (everything deleted with the stack).
    - `existing_table`: a table to write the rows to instead of one of the pipeline's own: one of the account
      (`dynamodb.Table.from_table_name`, or `from_table_attributes` with the `encryption_key` that encrypts it, if a
      customer-managed one does) or of the same app (a `Table` or `TableV2`). Its key schema must be `props`' (the
      pipeline does not read it). The functions may make exactly the writes they make (`props.write_mode`) on its
      ARN, and use its `encryption_key`, if any, through DynamoDB; nothing in the pipeline can change, replace or
      delete it. Default: none, the pipeline creates a table (on-demand, point-in-time recovery).
    - `existing_upload_bucket`: a bucket whose new objects under `props.upload_prefix` (ending in .csv or .csv.gz)
      are ingested, instead of a bucket of the pipeline's own: one of the account (`s3.Bucket.from_bucket_name`, or
      `from_bucket_attributes` with the `encryption_key` of its objects under SSE-KMS) or of the same app. Several
      pipelines may share one, each with a prefix no other one's starts with. Its notifications are added beside
      the bucket's others; the functions may read only `storage.upload_keys`; its settings (versioning, encryption,
      policy, lifecycle) stay its owner's. Default: none, the pipeline creates a versioned, encrypted, SSL-only
      bucket with access logs.

    The pipeline's own rejects, work and access-logs buckets, failed-events queue, functions, state machine, alarms,
    topic and dashboard are always its own, named by CloudFormation after the construct path: pipelines of one stack
    stay apart, given different `props.service_name`s (their metrics' dimension).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        props: PipelineProps | None = None,
        existing_table: dynamodb.ITable | None = None,
        existing_upload_bucket: s3.IBucket | None = None,
    ) -> None:
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
            upload_prefix=self.props.upload_prefix,
            existing_table=existing_table,
            existing_upload_bucket=existing_upload_bucket,
        )
        self._check_neighbours()
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
            service_name=self.props.service_name,
        )
        self.ingestion = IngestionFunction(
            self,
            "Ingestion",
            upload_bucket=self.storage.upload_bucket,
            upload_prefix=self.storage.upload_prefix,
            table_name=self.storage.table.table_name,
            rejects_bucket_name=self.storage.rejects_bucket.bucket_name,
            failed_events_queue=self.storage.failed_events_queue,
            state_machine_arn=self.large_files.state_machine.state_machine_arn,
            config=engine,
            sizing=self.props.sizing,
            reserved_concurrency=self.props.trigger_reserved_concurrency,
            encryption_key=key,
            service_name=self.props.service_name,
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
            service_name=self.props.service_name,
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

    def _check_neighbours(self) -> None:
        """Refuse what two pipelines of one stack cannot share: a service name (each one's alarms would count the
        other's files), an upload bucket imported twice (two notification resources writing one configuration), or
        an upload bucket with overlapping prefixes (S3 refuses two notifications of one bucket whose prefixes and
        suffixes overlap, at deploy time)."""
        for other in Stack.of(self).node.find_all():
            if not isinstance(other, CsvIngestPipeline) or other is self:
                continue
            if other.props.service_name == self.props.service_name:
                raise ValueError(
                    f"pipelines {other.node.path} and {self.node.path} both log and count their metrics as service "
                    f"{self.props.service_name!r}, so each one's alarms and dashboard would count the other's files: "
                    "give each its own PipelineProps.service_name"
                )
            mine, theirs = self.storage.upload_prefix, other.storage.upload_prefix
            buckets = (self.storage.upload_bucket, other.storage.upload_bucket)
            if _same_bucket(*buckets) and buckets[0].node.path != buckets[1].node.path:
                raise ValueError(
                    f"pipelines {other.node.path} and {self.node.path} import the upload bucket "
                    f"{buckets[0].bucket_name!r} twice ({buckets[1].node.path} and {buckets[0].node.path}): each "
                    "import gets its own notifications resource, and both would rewrite the bucket's notification "
                    "configuration in one deploy, so one pipeline's could be lost; import it once "
                    "(s3.Bucket.from_bucket_name) and give that one object to every pipeline"
                )
            if _same_bucket(*buckets) and (mine.startswith(theirs) or theirs.startswith(mine)):
                raise ValueError(
                    f"pipelines {other.node.path} and {self.node.path} share an upload bucket with overlapping "
                    f"prefixes ({theirs!r} and {mine!r}: one starts with the other), and S3 refuses two notifications "
                    "of one bucket that could match the same key: give each a prefix no other one's starts with, "
                    "such as customers/ and orders/"
                )

    def _grant_data_access(self) -> None:
        """Exactly the calls the handler makes: read the uploaded object, upsert rows, write a rejects report.

        Action-level grants, not `grant_read`/`grant_put`/`grant_write_data`: those add listing, deleting,
        DescribeTable and tagging actions the handler never calls (the tagging it does is granted by
        `_grant_outcome_reporting`). They add no KMS statement either, with a data key or not:
        `_grant_key_use` does.
        """
        function = self.ingestion.function
        storage = self.storage
        self._grant_upload_reads(function)
        self._grant_table_writes(function)
        # upload_file: a large report goes up in parts, which s3:PutObject authorizes too. DeleteObject: a run that
        # rejects no row removes the report an earlier run of the same upload left.
        storage.rejects_bucket.grants.actions_on_object_keys(function, "*", "s3:PutObject", "s3:DeleteObject")
        _acknowledge_every_key(
            self.ingestion.role,
            [
                (
                    storage.upload_bucket,
                    storage.upload_keys,
                    "The function reads whichever object the S3 event names, and tags it with the file's outcome, so "
                    f"it needs GetObject and the object tagging actions on {self._every_upload_key}.",
                ),
                (
                    storage.rejects_bucket,
                    "*",
                    "A report's key follows the key of the upload it belongs to, which can be any key, so the function "
                    "needs PutObject and DeleteObject (of an earlier run's report) on every key of the rejects bucket "
                    "(and only that bucket).",
                ),
            ],
        )

    @property
    def _every_upload_key(self) -> str:
        """The keys the functions may read, in an acknowledgement's words."""
        prefix = self.storage.upload_prefix
        if prefix:
            return f"every key under {prefix} in the upload bucket (and only there)"
        return "every key of the upload bucket (and only that bucket)"

    def _grant_upload_reads(self, grantee: iam.IGrantable) -> None:
        """Reading an upload (the version the event names) under the pipeline's prefix."""
        self._grant_on_uploads(grantee, "s3:GetObject", "s3:GetObjectVersion")

    def _grant_on_uploads(self, grantee: iam.IGrantable, *actions: str) -> None:
        """`actions` on the uploads under the pipeline's prefix: `storage.upload_keys`, the pattern of every grant on
        the upload bucket, which may be a bucket shared with other pipelines or uses."""
        s3.BucketGrants.from_bucket(self.storage.upload_bucket).actions_on_object_keys(
            grantee, self.storage.upload_keys, *actions
        )

    def _grant_table_writes(self, grantee: iam.IGrantable) -> None:
        """The writes of the configured mode on the table's ARN, never on its indexes (DynamoDB keeps them up to date
        without the writer's permission), whatever indexes an existing table has."""
        dynamodb.TableGrants.from_table(self.storage.table, has_index=False).actions(grantee, *self._write_actions)

    @property
    def _write_actions(self) -> tuple[str, ...]:
        """Only what the writer calls in the configured mode: e.g. BatchWriteItem only for unstamped replace, DeleteItem
        only with a delete-marker column."""
        engine = self.props.engine
        return write_actions(
            engine.write_mode,
            ordered=engine.order_attribute is not None,
            deletes=engine.schema.delete_column is not None,
        )

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
        self._grant_upload_reads(partition)
        work_bucket.grants.actions_on_object_keys(partition, "*", "s3:GetObject", "s3:PutObject")
        _acknowledge_every_key(
            flow.partition.role,
            [
                (
                    storage.upload_bucket,
                    storage.upload_keys,
                    "The partition step reads whichever upload the execution names, and tags it with the outcome of a "
                    f"file that fails there, so it needs GetObject and the object tagging actions on "
                    f"{self._every_upload_key}.",
                ),
                (
                    work_bucket,
                    "*",
                    "The partition step writes chunks and reads a failed run's manifests under a prefix named after "
                    "the execution, chosen at run time, so it needs GetObject and PutObject on every key of the work "
                    "bucket (and only that bucket).",
                ),
            ],
        )

        worker = flow.ingest_partition.function  # reads its partition's chunks, writes rows, its result and rejects
        work_bucket.grants.actions_on_object_keys(worker, "*", "s3:GetObject", "s3:PutObject")
        self._grant_table_writes(worker)
        _acknowledge_every_key(
            flow.ingest_partition.role,
            [
                (
                    work_bucket,
                    "*",
                    "A worker reads its partition's chunks and writes its result under a prefix named after the "
                    "execution, chosen at run time, so it needs GetObject and PutObject on every key of the work "
                    "bucket (and only that bucket).",
                ),
            ],
        )

        # reads the results and partial rejects, writes the report (or deletes an earlier run's), its verdict and a
        # failed run's manifest, deletes the rest
        finish = flow.finish.function
        work_bucket.grants.actions_on_object_keys(finish, "*", "s3:GetObject", "s3:PutObject", "s3:DeleteObject")
        storage.rejects_bucket.grants.actions_on_object_keys(finish, "*", "s3:PutObject", "s3:DeleteObject")
        _acknowledge_every_key(
            flow.finish.role,
            [
                (
                    work_bucket,
                    "*",
                    "The finish step reads, writes and deletes the objects under a prefix named after the execution, "
                    "chosen at run time, so it needs GetObject, PutObject and DeleteObject on every key of the work "
                    "bucket (and only that bucket).",
                ),
                (
                    storage.rejects_bucket,
                    "*",
                    "A report's key follows the key of the upload it belongs to, which can be any key, so the finish "
                    "step needs PutObject (a report) and DeleteObject (an earlier run's report, when this run rejected "
                    "nothing) on every key of the rejects bucket (and only that bucket).",
                ),
            ],
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
            # Every upload key (under the pipeline's prefix): the object is whichever upload the event names.
            self._grant_on_uploads(function, *OUTCOME_TAGGING_ACTIONS)
            default_bus.grant_put_events_to(function)
        # The trigger's and Partition's grants on the upload keys are acknowledged with their reads.
        _acknowledge_every_key(
            flow.finish.role,
            [
                (
                    upload_bucket,
                    self.storage.upload_keys,
                    "The finish step tags whichever upload the execution names with the file's outcome, so it needs "
                    "the object tagging actions (GetObject(Version)Tagging, to keep the user's own tags, and "
                    f"PutObject(Version)Tagging) on {self._every_upload_key}.",
                ),
            ],
        )

    def _grant_key_use(self) -> None:
        """With a customer-managed key, each role may use it through the services whose data it reads or writes, for
        what it does there, and nothing else (CloudWatch Logs, Lambda and the alarms use the data key under the key's
        own policy).

        S3 (SSE-KMS with a Bucket Key): a read decrypts (kms:Decrypt), a write asks for a data key
        (kms:GenerateDataKey), and a multipart upload (upload_file, a large report or chunk, the Map's results) also
        decrypts to assemble its parts. SQS: sending to the failed-events queue needs both, as Lambda sends with the
        function's role. DynamoDB: the writers' puts and updates, conditional ones reading the item first.

        The data key (`encryption=kms`) encrypts the pipeline's own buckets, queue and table. An existing table's or
        upload bucket's key is its owner's: the roles that write the table or read the uploads may use it too.
        """
        storage, flow = self.storage, self.large_files
        data_key = storage.encryption_key
        table_key = storage.table.encryption_key  # the data key for the pipeline's own table, with encryption=kms
        upload_key = None if storage.owns_upload_bucket else storage.upload_bucket.encryption_key
        s3_read_write = ("kms:Decrypt", "kms:GenerateDataKey")  # every role here reads and writes objects
        table_writes = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
        trigger = self.ingestion.role
        uses: list[tuple[kms.IKey | None, iam.IRole, str, tuple[str, ...]]] = [
            (data_key, trigger, "s3", s3_read_write),  # reads the upload, writes a report
            (table_key, trigger, "dynamodb", table_writes),
            (data_key, trigger, "sqs", ("kms:Decrypt", "kms:GenerateDataKey")),  # Lambda sends as the role
            (data_key, flow.partition.role, "s3", s3_read_write),  # reads the upload, writes chunks and a manifest
            (data_key, flow.ingest_partition.role, "s3", s3_read_write),  # reads chunks, writes its result
            (table_key, flow.ingest_partition.role, "dynamodb", table_writes),
            (data_key, flow.finish.role, "s3", s3_read_write),  # reads results, writes the report and its verdict
            (data_key, flow.state_machine.role, "s3", s3_read_write),  # the Map reads the manifest, writes results
            (upload_key, trigger, "s3", ("kms:Decrypt",)),  # reads an upload of the existing bucket
            (upload_key, flow.partition.role, "s3", ("kms:Decrypt",)),
        ]
        for key, role, service, actions in uses:
            if key is not None:
                grant_use_via(key, role, service, *actions)

    def _outputs(self) -> None:
        # Defined on the pipeline itself: an output's key in the stack's outputs follows its construct path, and
        # deployed stacks are read by these keys.
        storage, monitoring = self.storage, self.monitoring
        CfnOutput(
            self,
            "UploadBucketName",
            value=storage.upload_bucket.bucket_name,
            description=f"Upload CSV files here, under {storage.upload_prefix}"
            if storage.upload_prefix
            else "Upload CSV files here",
        )
        if storage.upload_prefix:
            CfnOutput(
                self,
                "UploadPrefix",
                value=storage.upload_prefix,
                description="The key prefix of the uploads this pipeline ingests",
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
                description=self._data_key_description,
            )

    @property
    def _data_key_description(self) -> str:
        if self.storage.owns_table and self.storage.owns_upload_bucket:
            return (
                "KMS key encrypting the buckets, table, queue, topic and logs (encryption=kms): whoever reads them (a "
                "report, the queue, the logs, csv-ingest on the table) needs kms:Decrypt on it"
            )
        return (
            "KMS key encrypting the pipeline's own buckets, table, queue, topic and logs (encryption=kms), not an "
            "existing table or upload bucket: whoever reads them (a report, the queue, the logs) needs kms:Decrypt "
            "on it"
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


def _acknowledge_every_key(role: iam.Role, grants: list[tuple[s3.IBucket, str, str]]) -> None:
    """Acknowledge cdk-nag's AwsSolutions-IAM5 finding for `role`'s grant on the object keys matching each
    (bucket, key pattern), with its reason."""
    default_policy = Validations.of(role.node.find_child("DefaultPolicy"))
    for bucket, keys, reason in grants:
        resource = nag_reference(role, bucket.arn_for_objects(keys))
        finding = f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]"
        default_policy.acknowledge(Acknowledgment(id=finding, reason=reason))


def _same_bucket(one: s3.IBucket, other: s3.IBucket) -> bool:
    """The same construct, or two imports of one bucket by name."""
    if one.node.path == other.node.path:
        return True
    names = (one.bucket_name, other.bucket_name)
    return not any(Token.is_unresolved(name) for name in names) and names[0] == names[1]
