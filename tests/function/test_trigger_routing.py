"""The S3 trigger's choice by the object's size: ingest in place, or start the large-file state machine (once).

moto here records executions without running them (see state_machine/test_large_files_end_to_end.py for running ones).
"""

from __future__ import annotations

import gzip
import json
import re
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.jobs import EXECUTION_NAME_CHARS, execution_name
from csv_ingest_engine.ordering import event_moment, stamp
from csv_ingest_engine.partitioning import content_bytes
from handler import handler

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.type_defs import ExecutionListItemTypeDef
from tests.support import BUCKET, Aws, DemoContext, emf_metrics, json_logs
from tests.support.large_files import create_flow

BODY = "customer_id,name\n1,Ann\n2,Bob\n"
SIZE = len(BODY.encode())
VALID_NAME = re.compile(rf"[A-Za-z0-9_-]{{1,{EXECUTION_NAME_CHARS}}}")


@pytest.fixture
def state_machine(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    arn = create_flow(aws, partition_bytes=1024)
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    return arn


def executions(state_machine: str) -> list[ExecutionListItemTypeDef]:
    return boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine)["executions"]


@pytest.mark.parametrize("threshold", [SIZE, SIZE + 1])
def test_a_file_at_or_below_the_threshold_is_ingested_in_place(
    aws: Aws, lambda_context: DemoContext, state_machine: str, monkeypatch: pytest.MonkeyPatch, threshold: int
) -> None:
    """At or below LARGE_FILE_BYTES the trigger writes the rows itself, as before; no execution starts."""
    monkeypatch.setenv("LARGE_FILE_BYTES", str(threshold))
    version = aws.upload("small.csv", BODY)
    summary = handler(aws.event("small.csv", version, size=SIZE), lambda_context)
    assert summary["files"][0]["status"] == "ingested"
    assert sorted(aws.items()) == ["1", "2"]
    assert executions(state_machine) == []


def upload_order(event: dict[str, Any]) -> str:
    """The order stamp of the upload `event` reports (see `ordering`)."""
    (record,) = event["Records"]
    moment = event_moment(record["eventTime"])
    assert moment is not None
    return stamp(moment, record["s3"]["object"]["sequencer"])


def test_a_file_over_the_threshold_starts_the_state_machine_with_the_contract_input(
    aws: Aws,
    lambda_context: DemoContext,
    state_machine: str,
    monkeypatch: pytest.MonkeyPatch,
    stdout: pytest.CaptureFixture[str],
) -> None:
    """Over LARGE_FILE_BYTES the trigger starts an execution on the object version and returns: the summary says
    "started" with the execution's ARN, and the input is the contract's (bucket, key, version, size, work prefix, the
    upload's order stamp from the event's time and sequencer)."""
    # given
    monkeypatch.setenv("LARGE_FILE_BYTES", str(SIZE - 1))
    version = aws.upload("uploads/big file.csv", BODY)
    # when
    event = aws.event("uploads/big file.csv", version, size=SIZE)
    summary = handler(event, lambda_context)
    # then
    (started,) = executions(state_machine)
    assert summary == {
        "files": [
            {
                "bucket": BUCKET,
                "key": "uploads/big file.csv",
                "version_id": version,
                "status": "started",
                "execution_arn": started["executionArn"],
            }
        ]
    }
    described = boto3.client("stepfunctions").describe_execution(executionArn=started["executionArn"])
    assert json.loads(described["input"]) == {
        "bucket": BUCKET,
        "key": "uploads/big file.csv",
        "version_id": version,
        "size": SIZE,
        "work_prefix": f"{started['name']}/",
        "order": upload_order(event),
    }
    assert started["name"].startswith("uploads-big-file-")
    assert aws.items() == {}  # the state machine writes the rows, not the trigger
    out = stdout.readouterr().out
    (log,) = [log for log in json_logs(out) if log["message"] == "large file handed to the state machine"]
    assert (log["execution_arn"], log["size"], log["object_key"]) == (
        started["executionArn"],
        SIZE,
        "uploads/big file.csv",
    )
    assert "FilesProcessed" not in emf_metrics(out)  # Finish counts the file


def test_without_a_state_machine_every_file_is_ingested_in_place(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LARGE_FILE_BYTES alone does not send a file anywhere: with no STATE_MACHINE_ARN the trigger ingests it."""
    monkeypatch.setenv("LARGE_FILE_BYTES", "0")
    monkeypatch.delenv("STATE_MACHINE_ARN", raising=False)
    version = aws.upload("any.csv", BODY)
    summary = handler(aws.event("any.csv", version, size=SIZE), lambda_context)
    assert summary["files"][0]["status"] == "ingested"


def test_a_duplicate_event_starts_one_execution(
    aws: Aws, lambda_context: DemoContext, state_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 may deliver an event twice: the execution name comes from the upload, so the second delivery finds the
    first execution, running (Step Functions answers with it) or ended (ExecutionAlreadyExists), and starts none."""
    # given
    monkeypatch.setenv("LARGE_FILE_BYTES", "0")
    version = aws.upload("twice.csv", BODY)
    event = aws.event("twice.csv", version, size=SIZE)
    first = handler(event, lambda_context)["files"][0]
    # when: delivered again while it runs, and again after it ended
    again = handler(event, lambda_context)["files"][0]
    boto3.client("stepfunctions").stop_execution(executionArn=first["execution_arn"])
    after_it_ended = handler(event, lambda_context)["files"][0]
    # then
    assert first["status"] == again["status"] == after_it_ended["status"] == "started"
    assert first["execution_arn"] == again["execution_arn"] == after_it_ended["execution_arn"]
    assert len(executions(state_machine)) == 1


def test_another_upload_of_the_same_key_starts_another_execution(
    aws: Aws, lambda_context: DemoContext, state_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new version of the object is a new file: its own execution, and its own work prefix."""
    monkeypatch.setenv("LARGE_FILE_BYTES", "0")
    for _ in range(2):
        version = aws.upload("daily.csv", BODY)
        handler(aws.event("daily.csv", version, size=SIZE), lambda_context)
    assert len({execution["name"] for execution in executions(state_machine)}) == 2


def test_a_state_machine_that_cannot_be_started_fails_the_file_naming_it(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch, stdout: pytest.CaptureFixture[str]
) -> None:
    """StartExecution refused (no such state machine, no permission): the file fails with a message naming the
    object and the state machine, and counts as a failed file."""
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:not-there"
    monkeypatch.setenv("STATE_MACHINE_ARN", missing)
    monkeypatch.setenv("LARGE_FILE_BYTES", "0")
    version = aws.upload("big.csv", BODY)
    with pytest.raises(IngestError) as failure:
        handler(aws.event("big.csv", version, size=SIZE), lambda_context)
    message = str(failure.value)
    assert message.startswith(f"s3://{BUCKET}/big.csv: the file is {SIZE} bytes")
    assert "could not be started" in message and missing in message and "states:StartExecution" in message
    assert emf_metrics(stdout.readouterr().out)["FilesFailed"] == [1.0]


@pytest.mark.parametrize("value", ["8MB", "-1", "1.5"])
def test_a_malformed_threshold_fails_the_invocation_naming_the_variable(
    aws: Aws, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """LARGE_FILE_BYTES is validated like the other settings: a whole number (0 or more)."""
    monkeypatch.setenv("LARGE_FILE_BYTES", value)
    with pytest.raises(
        RuntimeError, match=f"LARGE_FILE_BYTES must be a whole number of at least 0, not '{re.escape(value)}'"
    ):
        handler(aws.event("x.csv", "v", size=SIZE), lambda_context)


@pytest.mark.parametrize(
    "key",
    [
        "customers.csv",
        "uploads/2026/03/march report (final).CSV",
        "kunden/äöü/客户.csv",
        "x" * 1024,
        "../..//weird##name!!.csv",
        "____.csv",
        "é.csv",
    ],
)
def test_the_execution_name_is_valid_readable_and_the_same_for_the_same_upload(key: str) -> None:
    """At most 80 of [A-Za-z0-9_-], ending in a hash of the upload, starting with the key's end where it can."""
    name = execution_name("bucket", key, "v1", "0055AED6DCD90281E5")
    assert VALID_NAME.fullmatch(name), name
    assert name == execution_name("bucket", key, "v1", "0055AED6DCD90281E5")
    different = {
        execution_name("other-bucket", key, "v1", "0055AED6DCD90281E5"),
        execution_name("bucket", key + "2", "v1", "0055AED6DCD90281E5"),
        execution_name("bucket", key, "v2", "0055AED6DCD90281E5"),
        execution_name("bucket", key, None, "0055AED6DCD90281E5"),
        execution_name("bucket", key, "v1", "0055AED6DCD90281E6"),
    }
    assert name not in different and len(different) == 5


def test_the_execution_name_starts_with_the_end_of_the_key() -> None:
    """The readable part is the key's tail (the file name), so the console's execution list says which file."""
    name = execution_name("b", "exports/2026/customers-march.csv", None, "1")
    assert name.startswith("exports-2026-customers-march-")
    long = execution_name("b", "a/" * 100 + "customers-march.csv", None, "1")
    assert re.fullmatch(r"a(-a)*-customers-march-[0-9a-f]{24}", long) and len(long) == EXECUTION_NAME_CHARS


def test_a_gzipped_file_is_routed_by_its_text_size_not_its_compressed_size(
    aws: Aws, lambda_context: DemoContext, state_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `.csv.gz` that compresses far better than 10x goes by the size its trailer records: over the threshold,
    the state machine, though ten times its compressed size is under it."""
    text = ("customer_id,name\n" + "".join(f"{i % 3},the same name again and again\n" for i in range(20_000))).encode()
    body = gzip.compress(text)
    assert len(body) * 10 < len(text)
    monkeypatch.setenv("LARGE_FILE_BYTES", str(len(text) - 1))
    version = aws.upload("dense.csv.gz", body)
    summary = handler(aws.event("dense.csv.gz", version, size=len(body)), lambda_context)
    assert summary["files"][0]["status"] == "started"
    assert len(executions(state_machine)) == 1


@pytest.mark.parametrize(
    ("name", "size", "trailer", "expected"),
    [
        ("a.csv", 100, None, 100),
        ("a.csv.gz", 100, None, 1_000),
        ("a.csv.gz", 100, (50_000).to_bytes(4, "little"), 50_000),
        ("a.csv.gz", 100, (500).to_bytes(4, "little"), 1_000),
        ("a.csv.gz", 100, b"\x01", 1_000),
    ],
)
def test_a_gzipped_objects_text_size_is_the_larger_of_the_rule_and_its_trailer(
    name: str, size: int, trailer: bytes | None, expected: int
) -> None:
    """10x the compressed size, or the trailer's uncompressed size when it says more; a short trailer is ignored."""
    assert content_bytes(name, size, trailer) == expected
