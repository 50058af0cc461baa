"""The large-file path in the tests' account: the work bucket, the state machine and its functions in moto (the
emulator's `create_large_file_flow`, run in process by its `lambda_in_process`: `csv_ingest.local`), and a file
sent through it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

from csv_ingest.infra.large_file_flow import MAP_RESULTS_PREFIX
from csv_ingest.local.lambdas import InProcessLambda, Invocation
from csv_ingest.local.state_machine import create_large_file_flow, wait_for_execution
from csv_ingest_engine.constants import HANDLER_FINISH, HANDLER_INGEST_PARTITION, HANDLER_PARTITION, WriteMode
from csv_ingest_engine.schema import CsvFormat, Schema
from tests.support.account import BUCKET, KEY_COLUMN, REJECTS_BUCKET, Aws

WORK_BUCKET = "csv-ingest-work"

Handler = Callable[[dict[str, Any], Any], Any]


def create_flow(
    account: Aws,
    *,
    partition_bytes: int,
    write_mode: WriteMode = "merge",
    schema: Schema | None = None,
    fmt: CsvFormat | None = None,
    table: str | None = None,
) -> str:
    """The stack's large-file flow on the account's buckets and table (or `table`); returns the state machine's ARN."""
    return create_large_file_flow(
        schema=schema,
        fmt=fmt,
        table_name=table or account.table,
        key_column=KEY_COLUMN,
        rejects_bucket=REJECTS_BUCKET,
        work_bucket=WORK_BUCKET,
        partition_bytes=partition_bytes,
        write_mode=write_mode,
        write_concurrency=4,
    )


@dataclass
class Execution:
    """One execution of the state machine, ended, and what its tasks did (from the in-process Lambda's calls)."""

    description: dict[str, Any]
    lambdas: InProcessLambda

    @property
    def status(self) -> str:
        return str(self.description["status"])

    @property
    def partitioned(self) -> dict[str, Any]:
        """The Partition task's output (the run: `jobs.Run`)."""
        (output,) = self.lambdas.returned(HANDLER_PARTITION)
        return dict(output)

    @property
    def partitions(self) -> list[dict[str, Any]]:
        """The Map's items, as its workers received them (the manifest's entries), by index."""
        items = {call.event["partition"]["index"]: call.event["partition"] for call in self.worker_calls()}
        return [items[index] for index in sorted(items)]

    def worker_calls(self) -> list[Invocation]:
        return [call for call in self.lambdas.calls if call.entry_point == HANDLER_INGEST_PARTITION]

    @property
    def verdict(self) -> dict[str, Any] | None:
        """Finish's summary, or None if it raised (or never ran)."""
        returned = self.lambdas.returned(HANDLER_FINISH)
        return dict(returned[-1]) if returned else None

    def raised(self, entry_point: str) -> list[BaseException]:
        return [call.raised for call in self.lambdas.calls if call.entry_point == entry_point and call.raised]

    @property
    def error_message(self) -> str:
        """The message the execution failed with (Lambda's error payload is the execution's cause)."""
        return str(json.loads(self.description["cause"])["errorMessage"])

    def worker_results(self) -> dict[int, dict[str, Any]]:
        return {result["index"]: result for result in self.lambdas.returned(HANDLER_INGEST_PARTITION)}


def trigger_and_wait(
    account: Aws,
    handler: Handler,
    lambdas: InProcessLambda,
    key: str,
    version: str,
    context: Any,
    *,
    event_time: datetime | None = None,
) -> tuple[dict[str, Any], Execution]:
    """Deliver the upload's event (with the object's real size, at `event_time`: default now) to the trigger, then
    wait for the execution it started; returns the trigger's summary entry and the execution."""
    size = account.s3.head_object(Bucket=BUCKET, Key=key, VersionId=version)["ContentLength"]
    with lambdas.lock:  # the trigger runs in this thread: no task in between (Powertools' state is per process)
        summary = handler(account.event(key, version, size=size, event_time=event_time), context)
    (entry,) = summary["files"]
    stepfunctions = boto3.client("stepfunctions")
    return entry, Execution(wait_for_execution(stepfunctions, entry["execution_arn"]), lambdas)


def work_objects(account: Aws) -> list[str]:
    """The keys in the work bucket."""
    pages = account.s3.get_paginator("list_objects_v2").paginate(Bucket=WORK_BUCKET)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def run_work_objects(account: Aws) -> list[str]:
    """The work objects a finished run leaves only when it failed: all but Finish's verdicts and the Map's results
    (which the bucket's lifecycle expires)."""
    return [
        key
        for key in work_objects(account)
        if not key.endswith("/verdict.json") and not key.startswith(f"{MAP_RESULTS_PREFIX}/")
    ]


def start_execution(lambdas: InProcessLambda, arn: str, name: str, execution_input: dict[str, Any]) -> Execution:
    """Start the state machine on `execution_input` (as an operator would) and wait for it."""
    stepfunctions = boto3.client("stepfunctions")
    with lambdas.lock:
        started = stepfunctions.start_execution(stateMachineArn=arn, name=name, input=json.dumps(execution_input))
    return Execution(wait_for_execution(stepfunctions, started["executionArn"]), lambdas)


def failing_partition(index: int, handler: Handler) -> Handler:
    """A partition worker that crashes on partition `index` (as an out-of-memory or a timeout would: no result)
    and runs `handler` on the others."""

    def ingest_partition(event: dict[str, Any], context: Any) -> Any:
        if event["partition"]["index"] == index:
            raise RuntimeError(f"partition {index} crashed (a test's failing worker)")
        return handler(event, context)

    return ingest_partition
