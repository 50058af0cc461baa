"""The newest upload wins on the large-file path too: two versions' executions at once, an old execution started
again with its own input (as a failed one's is), and an old version on one path after a new one on the other."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from csv_ingest.local.lambdas import InProcessLambda
from csv_ingest.local.state_machine import wait_for_execution
from handler import handler
from tests.support import BUCKET, Aws, DemoContext
from tests.support.large_files import Execution

EARLIER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(minutes=5)


def version_file(tag: str, keys: range) -> str:
    """A file of many partitions' worth of rows whose every value says which version wrote it."""
    rows = "".join(f"c{key:03d},{tag} name {key},{tag} city\n" for key in keys)
    return "customer_id,name,city\n" + rows


OLD = version_file("old", range(0, 300))
NEW = version_file("new", range(100, 400))
# Keys only the old version has keep its rows; every key the new version has is the new version's.
NEWEST = {
    f"c{key:03d}": {
        "customer_id": f"c{key:03d}",
        "name": f"{'old' if key < 100 else 'new'} name {key}",
        "city": f"{'old' if key < 100 else 'new'} city",
    }
    for key in range(0, 400)
}


def start(aws: Aws, lambdas: InProcessLambda, version: str, when: datetime) -> str:
    """The trigger handling the upload of `version` of big.csv at `when`; the execution it started."""
    size = aws.s3.head_object(Bucket=BUCKET, Key="big.csv", VersionId=version)["ContentLength"]
    with lambdas.lock:
        (entry,) = handler(aws.event("big.csv", version, size=size, event_time=when), DemoContext())["files"]
    return str(entry["execution_arn"])


def finished(arn: str, lambdas: InProcessLambda) -> Execution:
    return Execution(wait_for_execution(boto3.client("stepfunctions"), arn), lambdas)


def verdicts(lambdas: InProcessLambda) -> list[dict[str, Any]]:
    return [dict(summary) for summary in lambdas.returned("finish")]


def test_two_versions_executing_at_once_leave_each_item_as_the_newer_wrote_it(
    aws: Aws, flow: str, lambdas: InProcessLambda
) -> None:
    """The newer version's execution starts first and the older one's right after (its event came late); however
    their partitions interleave, no item of the newer version ends with the older one's values."""
    old_version, new_version = aws.upload("big.csv", OLD), aws.upload("big.csv", NEW)
    new_run = start(aws, lambdas, new_version, LATER)
    old_run = start(aws, lambdas, old_version, EARLIER)
    finished(new_run, lambdas), finished(old_run, lambdas)
    assert aws.items() == NEWEST
    totals = {(v["rows_written"] + v["rows_superseded"], v["rows_rejected"]) for v in verdicts(lambdas)}
    assert totals == {(300, 0)}


def test_an_old_executions_input_started_again_rolls_nothing_back(
    aws: Aws, flow: str, lambdas: InProcessLambda
) -> None:
    """Starting a new execution with an old execution's input (the README's way to ingest a failed file again)
    after a newer version went in writes only the rows the newer version does not have: they are superseded."""
    # given
    old_version, new_version = aws.upload("big.csv", OLD), aws.upload("big.csv", NEW)
    old_run = finished(start(aws, lambdas, old_version, EARLIER), lambdas)
    finished(start(aws, lambdas, new_version, LATER), lambdas)
    stepfunctions = boto3.client("stepfunctions")
    # when
    again = stepfunctions.start_execution(
        stateMachineArn=flow, name="started-again", input=json.dumps(json.loads(old_run.description["input"]))
    )
    rerun = finished(again["executionArn"], lambdas)
    # then
    assert aws.items() == NEWEST
    assert rerun.verdict is not None
    assert (rerun.verdict["rows_written"], rerun.verdict["rows_superseded"]) == (100, 200)


def test_an_old_version_on_one_invocation_after_a_new_one_on_the_state_machine(
    aws: Aws, flow: str, lambdas: InProcessLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two paths share the rule: the old version, small enough for one invocation, arrives late (a retry, a
    replay from the failed-events queue) and supersedes nothing of the newer version's."""
    old_version, new_version = aws.upload("big.csv", OLD), aws.upload("big.csv", NEW)
    finished(start(aws, lambdas, new_version, LATER), lambdas)
    monkeypatch.setenv("LARGE_FILE_BYTES", str(10**9))
    (late,) = handler(aws.event("big.csv", old_version, event_time=EARLIER), DemoContext())["files"]
    assert (late["status"], late["rows_written"], late["rows_superseded"]) == ("ingested", 100, 200)
    assert aws.items() == NEWEST


def test_an_execution_input_from_before_ordering_rolls_nothing_back(
    aws: Aws, flow: str, lambdas: InProcessLambda, stdout: pytest.CaptureFixture[str]
) -> None:
    """An input without `order` (an execution started before uploads were ordered, started again or rerun after
    the upgrade) is ordered as of when S3 created its object version: the newer version's items stay."""
    # given: the old version created first, the new one after it and ingested
    old_version = aws.upload("big.csv", OLD)
    time.sleep(1.1)  # S3's Last-Modified counts whole seconds
    new_version = aws.upload("big.csv", NEW)
    new_run = finished(start(aws, lambdas, new_version, datetime.now(UTC)), lambdas)
    legacy_input = {**json.loads(new_run.description["input"]), "version_id": old_version, "order": None}
    del legacy_input["order"]
    # when
    again = boto3.client("stepfunctions").start_execution(
        stateMachineArn=flow, name="from-before-ordering", input=json.dumps(legacy_input)
    )
    rerun = finished(again["executionArn"], lambdas)
    # then
    assert aws.items() == NEWEST
    assert rerun.verdict is not None
    assert (rerun.verdict["rows_written"], rerun.verdict["rows_superseded"]) == (100, 200)
    assert any("has no upload order" in line for line in stdout.readouterr().out.splitlines())
