"""Each upload's outcome on the state machine's path (moto runs it, its Lambda tasks in process): Finish publishes the
event and the tags of a good, a partly rejected and a failed file; Partition those of a file that fails as a whole
before the Map; the trigger those of a file it could not hand over; a Finish that replays its verdict publishes
nothing again."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from csv_ingest.local.lambdas import InProcessLambda, lambda_in_process
from csv_ingest.local.outcomes import catch_outcome_events, caught_outcome_events, object_tags
from csv_ingest_engine import IngestError
from csv_ingest_engine.constants import HANDLER_FINISH, HANDLER_INGEST_PARTITION, HANDLER_PARTITION, OUTCOME_COUNTS
from csv_ingest_engine.objects import rejects_report_key
from csv_ingest_engine.tasks.ingest_partition import ingest_partition
from handler import handler
from tests.support import BUCKET, REJECTS_BUCKET, Aws, DemoContext
from tests.support.large_files import failing_partition, trigger_and_wait

# The finish task's function, as the tests' flow names it.
FINISH_FUNCTION = "csv-ingest-demo-finish"
# 400 rows of 40 keys, a few KB: several partitions of ~2 KB.
GOOD = "customer_id,name\n" + "".join(f"c{row % 40:03d},name {row}\n" for row in range(400))
# The same with two rows rejected (a blank key, too many fields).
REJECTED = GOOD.replace("c005,name 5\n", ",no key\n").replace("c017,name 377\n", "c017,too,many\n")


@pytest.fixture
def caught(aws: Aws) -> Any:
    """The outcome events of the account, as a rule on the default bus catches them."""
    sqs = boto3.client("sqs")
    queue_url = catch_outcome_events(boto3.client("events"), sqs)
    return lambda: caught_outcome_events(sqs, queue_url)


def counts(detail: dict[str, Any]) -> dict[str, int]:
    return {name: detail[name] for name in OUTCOME_COUNTS}


def test_a_good_large_file_is_announced_loaded_by_finish(
    aws: Aws, flow: str, lambdas: InProcessLambda, caught: Any
) -> None:
    """One "CSV file loaded" event once the execution is done (none from the trigger), on the state machine's path,
    naming the execution, the counts Finish summed and how long the pass took; the version's tags say the same."""
    version = aws.upload("large.csv", GOOD)
    entry, execution = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    (event,) = caught()
    detail = event["detail"]
    assert event["detail-type"] == "CSV file loaded"
    assert (detail["bucket"], detail["key"], detail["version_id"]) == (BUCKET, "large.csv", version)
    assert (detail["status"], detail["path"]) == ("loaded", "state-machine")
    assert detail["execution_name"] == entry["execution_arn"].rpartition(":")[2] == execution.description["name"]
    assert counts(detail) == {**dict.fromkeys(OUTCOME_COUNTS, 0), "rows_written": 400}
    assert isinstance(detail["duration_seconds"], float) and detail["duration_seconds"] >= 0
    assert (detail["rejects_report"], detail["error"]) == (None, None)
    assert len(execution.partitions) > 1
    tags = object_tags(aws.s3, BUCKET, "large.csv", version)
    assert tags["csv-ingest:status"] == "loaded"
    assert tags["csv-ingest:rows"] == "written=400 rejected=0 superseded=0 failed=0 unchanged=0 deleted=0"


def test_a_partly_rejected_large_file_names_the_merged_report(
    aws: Aws, flow: str, lambdas: InProcessLambda, caught: Any
) -> None:
    """ "CSV file loaded with rejected rows": the counts and the merged report's URI of Finish's summary; the tags
    name the rejects bucket."""
    version = aws.upload("large.csv", REJECTED)
    _, execution = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    (event,) = caught()
    detail = event["detail"]
    report = f"s3://{REJECTS_BUCKET}/{rejects_report_key('large.csv', version)}"
    assert event["detail-type"] == "CSV file loaded with rejected rows"
    assert execution.verdict is not None
    assert counts(detail) == {name: execution.verdict.get(name, 0) for name in OUTCOME_COUNTS}
    assert (detail["rows_rejected"], detail["rejects_report"]) == (2, report)
    tags = object_tags(aws.s3, BUCKET, "large.csv", version)
    assert tags["csv-ingest:status"] == "loaded-with-rejected-rows"
    assert tags["csv-ingest:rejects-bucket"] == REJECTS_BUCKET


def test_a_large_file_whose_partition_failed_is_announced_failed_with_finishs_message(
    aws: Aws, flow: str, caught: Any
) -> None:
    """A worker crashes: "CSV file failed" with the message the execution fails with, the rows the other partitions
    wrote and rejected, and the report of those rejected; the tags say failed."""
    version = aws.upload("large.csv", REJECTED)
    with lambda_in_process({HANDLER_INGEST_PARTITION: failing_partition(1, ingest_partition)}) as lambdas:
        _, execution = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    (raised,) = execution.raised(HANDLER_FINISH)
    (event,) = caught()
    detail = event["detail"]
    assert event["detail-type"] == "CSV file failed"
    assert detail["status"] == "failed" and detail["error"] == str(raised) == execution.error_message
    assert isinstance(raised, IngestError) and raised.rows_written is not None
    assert 0 < detail["rows_written"] == raised.rows_written < 400
    assert detail["rows_rejected"] == raised.rows_rejected
    assert detail["rejects_report"] == raised.rejects_report
    tags = object_tags(aws.s3, BUCKET, "large.csv", version)
    assert tags["csv-ingest:status"] == "failed"
    assert tags["csv-ingest:rows"].startswith(f"written={detail['rows_written']} ")


def test_a_large_file_that_fails_at_partition_is_announced_by_partition(
    aws: Aws, flow: str, lambdas: InProcessLambda, caught: Any
) -> None:
    """sample-bad.csv (no customer_id column) through the state machine: Partition fails the execution before the
    Map, so Finish never runs; Partition's event carries its message, the tags say failed."""
    key, version = aws.upload_sample("sample-bad.csv")
    _, execution = trigger_and_wait(aws, handler, lambdas, key, version, DemoContext())
    (raised,) = execution.raised(HANDLER_PARTITION)
    assert [call.entry_point for call in lambdas.calls if call.entry_point == HANDLER_FINISH] == []
    (event,) = caught()
    detail = event["detail"]
    assert (event["detail-type"], detail["path"]) == ("CSV file failed", "state-machine")
    assert detail["error"] == str(raised) == execution.error_message
    assert detail["execution_name"] == execution.description["name"]
    assert counts(detail) == dict.fromkeys(OUTCOME_COUNTS, 0)
    assert object_tags(aws.s3, BUCKET, key, version)["csv-ingest:status"] == "failed"


def test_a_large_file_whose_execution_cannot_start_is_announced_by_the_trigger(
    aws: Aws, flow: str, caught: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trigger cannot start the state machine (it does not exist): "CSV file failed" on the state machine's
    path, from the trigger, with the message its invocation fails with."""
    monkeypatch.setenv("STATE_MACHINE_ARN", flow.replace(":stateMachine:", ":stateMachine:missing-"))
    version = aws.upload("large.csv", GOOD)
    with pytest.raises(IngestError) as raised:
        handler(aws.event("large.csv", version, size=len(GOOD)), DemoContext())
    (event,) = caught()
    assert (event["detail"]["status"], event["detail"]["path"]) == ("failed", "state-machine")
    assert event["detail"]["error"] == str(raised.value)
    assert "could not be started" in str(raised.value)


def test_a_finish_that_replays_its_verdict_publishes_nothing_again(
    aws: Aws, flow: str, lambdas: InProcessLambda, caught: Any
) -> None:
    """Finish run again on the same pass (a retry whose answer was lost) answers with its verdict: no second event,
    and the tags stay as the first Finish wrote them."""
    version = aws.upload("large.csv", GOOD)
    _, execution = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    (first,) = caught()
    tags = object_tags(aws.s3, BUCKET, "large.csv", version)
    finish_event = next(call.event for call in lambdas.calls if call.entry_point == HANDLER_FINISH)
    answer = boto3.client("lambda").invoke(FunctionName=FINISH_FUNCTION, Payload=json.dumps(finish_event))
    assert json.loads(answer["Payload"].read()) == execution.verdict
    assert caught() == []
    assert object_tags(aws.s3, BUCKET, "large.csv", version) == tags
    assert first["detail"]["status"] == "loaded"
