"""The LargeFileFlow construct: the Standard state machine that ingests a file too large for one invocation
(Partition -> a Distributed Map of Ingest partition, reading its items from a manifest -> Finish), its three
functions, and its logs and tracing."""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from csv_ingest.infra.engine_function import EngineFunction, FunctionSizing, engine_function
from csv_ingest.infra.flow_timing import execution_timeout, task_timeout_s
from csv_ingest.infra.resource_ids import logical_id
from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.constants import (
    ENV_REJECTS_BUCKET,
    ENV_TABLE_NAME,
    ENV_WORK_BUCKET,
    HANDLER_FINISH,
    HANDLER_INGEST_PARTITION,
    HANDLER_PARTITION,
)

# Lambda throttles a task's invocation when its function is at its reserved concurrency (the worker function: every
# execution's Map shares `worker_reserved_concurrency` invocations) or the account's concurrency is used up. The task
# waits and tries again for as long as a queue of executions may keep it waiting, rather than fail the partition:
# - the wait: with the reservation at max_workers (the default), E executions at once keep up to E x max_workers
#   iterations asking for max_workers invocations, so an iteration waits for about (E - 1) partitions to be written
#   before it, on average; a partition takes a few minutes at the default partition_bytes (up to the 15-minute
#   timeout). Throttled retries are not served in order: 1 iteration in 100 waits ~4.6 times the average.
# - the retry: waits doubling from 2 s and capped at 60 s, each a random time up to that (full jitter: no herd of
#   retries when a worker frees up): about 31 s for the first five, then 30 s on average, so 720 attempts wait about
#   31 + 715 x 30 = 21,481 s, 6 hours, as long as an upload may wait for the trigger (ingestion.ASYNC_MAX_EVENT_AGE).
#   That is the average wait of ~90 executions at once of 4-minute partitions (~25 of 15-minute ones), and the
#   unlucky 1 in 100 of ~20 (~6). A freed worker is taken within 60 s, sooner with several iterations waiting.
# - the price: each retry is a state transition, so a partition that waits the full 6 hours costs 720 of them; and
#   ~3 history events, in the iteration's own child execution for a worker (in the execution for Partition and
#   Finish): 720 x 3 stays far below the 25,000-event limit.
# A partition that still finds no worker fails, Finish reports it, and the failed partitions can be rerun.
THROTTLE_RETRY_INTERVAL = Duration.seconds(2)
THROTTLE_RETRY_MAX_DELAY = Duration.seconds(60)
THROTTLE_RETRY_ATTEMPTS = 720
THROTTLE_RETRY_BACKOFF = 2.0
# The state names, which the execution history, the logs and the packaged definition show.
PARTITION_STATE = "Partition"
INGEST_STATE = "Ingest"
INGEST_PARTITION_STATE = "IngestPartition"
FINISH_STATE = "Finish"
# Where the Map's ResultWriter puts what the workers returned (a folder per Map run, which the work bucket's lifecycle
# expires): in the work bucket, never in the execution's 256 KB state, whatever the number of partitions. A fixed
# prefix, not the run's: moto evaluates a JSONPath `Prefix` against the Map's results instead of its input.
MAP_RESULTS_PREFIX = "map-results"


class LargeFileFlow(Construct):
    """`state_machine` ingests one uploaded object through `work_bucket`: `partition` splits it by key into
    partitions of about `config.partition_bytes` and lists them in a manifest, up to `max_workers` invocations of
    `ingest_partition` write one partition each to the table (at most `worker_reserved_concurrency` across every
    execution; None: no bound), and `finish` merges their rejects into one report in the rejects bucket and fails the
    execution if any partition did not report. An input with `"rerun"` (see `csv_ingest_engine.reruns`) makes
    `partition` point the Map at a failed run's failed partitions instead.

    Each function is told the parts of `config` it reads (every one the key schema, the columns' types and the
    files' format) and runs as its own role, which is granted nothing here but its own log group: whoever composes
    the flow grants the data access. The state machine logs to `log_group` and is traced with X-Ray; its role gets
    CDK's grants for the Map's item reader and result writer on `work_bucket`. `encryption_key` (None: the services'
    own keys) encrypts the functions' and the state machine's log groups and the functions' environment; the
    functions log and count as `service_name`. The
    executions' history stays under Step Functions' own key: it holds object names, versions and counts, never rows
    (and CDK's customer-managed configuration names the state machine in its role's key condition, which an unnamed
    state machine, like this one, does not have).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        work_bucket: s3.IBucket,
        table_name: str,
        rejects_bucket_name: str,
        config: EngineConfig,
        max_workers: int,
        worker_reserved_concurrency: int | None,
        sizing: FunctionSizing,
        encryption_key: kms.IKey | None,
        service_name: str,
    ) -> None:
        super().__init__(scope, id_)
        work_bucket_name = work_bucket.bucket_name
        self._task_timeout = sfn.Timeout.duration(Duration.seconds(task_timeout_s(sizing.timeout)))
        # Every step reads the file's rows, or partitions of them: each is told how to read them; the partition step
        # also how large a partition is, the worker how to write its rows.
        self.partition = engine_function(
            self,
            "PartitionFunction",
            handler=HANDLER_PARTITION,
            environment={ENV_WORK_BUCKET: work_bucket_name, **config.for_function(HANDLER_PARTITION)},
            sizing=sizing,
            service_name=service_name,
            encryption_key=encryption_key,
        )
        self.ingest_partition = engine_function(
            self,
            "IngestPartitionFunction",
            handler=HANDLER_INGEST_PARTITION,
            environment={
                ENV_WORK_BUCKET: work_bucket_name,
                **config.for_function(HANDLER_INGEST_PARTITION),
                ENV_TABLE_NAME: table_name,
            },
            sizing=sizing,
            service_name=service_name,
            encryption_key=encryption_key,
            # The one bound on the table's writers across executions (each Map bounds its own to max_workers).
            reserved_concurrency=worker_reserved_concurrency,
        )
        self.finish = engine_function(
            self,
            "FinishFunction",
            handler=HANDLER_FINISH,
            environment={
                ENV_WORK_BUCKET: work_bucket_name,
                **config.for_function(HANDLER_FINISH),
                ENV_REJECTS_BUCKET: rejects_bucket_name,
            },
            sizing=sizing,
            service_name=service_name,
            encryption_key=encryption_key,
        )
        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.DESTROY,
            encryption_key=encryption_key,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            # Standard, not Express: an execution outlives Express's five minutes, and its history (kept 90 days)
            # is where a failed file is investigated and redriven from.
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(work_bucket, max_workers)),
            # Below the work objects' lifetime (`flow_timing`): an execution never outlives its chunks.
            timeout=execution_timeout(sizing.timeout, max_workers),
            # ALL: every state's start, end and failure, so the log tells how long each step took and which failed
            # (cdk-nag's AwsSolutions-SF1 asks for ALL too). Without the execution data (each step's input and
            # output, a failed step's error and cause): the log group keeps the shape of each execution, never what
            # it carried. The cause of a failure is in the execution's history (states:GetExecutionHistory, kept 90
            # days) and in the failed function's own log ("file failed"), worded, like every message the engine
            # raises, without any cell of the file (see `first_row` and `Rejection.loggable_reason`).
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        self._acknowledge_state_machine_findings()

    def _definition(self, work_bucket: s3.IBucket, max_workers: int) -> sfn.IChainable:
        # Partition's result is the run (`jobs.Run`), kept beside the execution's input: a few hundred bytes, the
        # partitions themselves are in the manifest it names.
        partition = self._invoke(PARTITION_STATE, self.partition, result_path="$.run")
        # The Map reads its items from the manifest (not the state), gives each worker the whole state (every field
        # of the execution's input) and its item, and writes what the workers return to the work bucket. Workers
        # leave their results in the work bucket too, where Finish counts them: the Map tolerates every failure so
        # that Finish always runs, and a Map that fails as a whole goes on to Finish as well.
        ingest = sfn.DistributedMap(
            self,
            INGEST_STATE,
            item_reader=sfn.S3JsonItemReader(bucket=work_bucket, key=sfn.JsonPath.string_at("$.run.items")),
            item_selector={
                "job": sfn.JsonPath.string_at("$"),
                "partition": sfn.JsonPath.string_at("$$.Map.Item.Value"),
            },
            result_writer_v2=sfn.ResultWriterV2(bucket=work_bucket, prefix=MAP_RESULTS_PREFIX),
            max_concurrency=max_workers,
            map_execution_type=sfn.StateMachineType.STANDARD,  # a worker may run Lambda's full 15 minutes
            tolerated_failure_percentage=100,
            result_path=sfn.JsonPath.DISCARD,
        )
        ingest.item_processor(self._invoke(INGEST_PARTITION_STATE, self.ingest_partition))
        finish = self._invoke(FINISH_STATE, self.finish)
        ingest.add_catch(finish, errors=[sfn.Errors.ALL], result_path=sfn.JsonPath.DISCARD)
        return partition.next(ingest).next(finish)

    def _invoke(self, state_name: str, target: EngineFunction, *, result_path: str | None = None) -> tasks.LambdaInvoke:
        """The state `state_name`: `target`'s function called with the state as its event, its return value the
        state's result (at `result_path`); retried on Lambda's service errors (CDK's default) and throttles. Each
        attempt times out a minute after the function would (`flow_timing`)."""
        task = tasks.LambdaInvoke(
            self,
            state_name,
            lambda_function=target.function,
            payload_response_only=True,
            result_path=result_path,
            task_timeout=self._task_timeout,
        )
        task.add_retry(
            errors=["Lambda.TooManyRequestsException"],
            interval=THROTTLE_RETRY_INTERVAL,
            max_delay=THROTTLE_RETRY_MAX_DELAY,
            max_attempts=THROTTLE_RETRY_ATTEMPTS,
            backoff_rate=THROTTLE_RETRY_BACKOFF,
            jitter_strategy=sfn.JitterType.FULL,
        )
        return task

    def _acknowledge_state_machine_findings(self) -> None:
        """The wildcards CDK writes into the state machine's role for its tasks, logging, tracing and Map: each
        inherent to the service, none widening what the state machine can reach beyond its own functions and
        executions."""
        role_policy = Validations.of(self.state_machine.role.node.find_child("DefaultPolicy"))
        for target in (self.partition, self.ingest_partition, self.finish):
            role_policy.acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(target.function)}.Arn>:*]",
                    reason="CDK's LambdaInvoke grants lambda:InvokeFunction on the function and its versions and "
                    "aliases (ARN:*) and offers no way to narrow it; the state machine invokes the unqualified "
                    "function only.",
                )
            )
        role_policy.acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="Logging to CloudWatch Logs (logs:CreateLogDelivery and the other log-delivery actions) and "
                "X-Ray tracing (xray:PutTraceSegments...) support no resource-level permissions: AWS documents "
                "Resource * for both, and these are the only actions on it.",
            )
        )
        # The Distributed Map's policy names executions by a pattern: their names are chosen at run time.
        executions = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:" + json.dumps(
            {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": logical_id(self.state_machine)}]}]},
            separators=(",", ":"),
        )
        map_policy = Validations.of(self.state_machine.node.find_child("DistributedMapPolicy"))
        for wildcard, reason in (
            (
                ":*",
                "The Distributed Map describes and stops executions of this state machine (and only this one), "
                "whose names are chosen at run time, one per large upload.",
            ),
            (
                "/*:*",
                "The Distributed Map redrives its child executions, one per partition, whose names Step Functions "
                "chooses at run time; the pattern covers this state machine's Map runs only.",
            ),
        ):
            map_policy.acknowledge(
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{executions}{wildcard}]", reason=reason)
            )
