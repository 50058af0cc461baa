"""Issue 19 on the state machine's path (run by moto, its Lambda tasks in process): the file's first rejected rows
logged once, by Finish, whatever the partitions; no cell of the file in a log, an error or the execution's history;
and a report key within S3's 1,024 bytes."""

from __future__ import annotations

import json

import boto3
import pytest

from csv_ingest.local.lambdas import InProcessLambda
from csv_ingest_engine.constants import DEFAULT_LOGGED_REJECTIONS, HANDLER_PARTITION
from csv_ingest_engine.objects import MAX_KEY_BYTES, rejects_report_key
from csv_ingest_engine.schema import KeyAttribute, Schema
from handler import handler
from tests.support import REJECTS_BUCKET, Aws, DemoContext, json_logs
from tests.support.large_files import WORK_BUCKET, Execution, create_flow, trigger_and_wait, work_objects

FINISH_FUNCTION = "csv-ingest-demo-finish"
# A recognisable e-mail address and ID number, and the parts of them that must appear nowhere (a message quoting a
# cell cuts it to 24 characters).
EMAIL = "jane.doe.4711@example.com"
ID_NUMBER = "078-05-1120"
PLANTED = ("jane.doe.4711", "05-1120")


def planted_in(text: str) -> list[str]:
    return [part for part in PLANTED if part in text]


def history(execution: Execution) -> str:
    """The execution's description and every event of its history, as JSON: what Step Functions keeps 90 days."""
    stepfunctions = boto3.client("stepfunctions")
    arn = execution.description["executionArn"]
    events = stepfunctions.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return json.dumps([execution.description, events], default=str)


def test_finish_logs_the_files_first_rejected_rows_once_whatever_the_partitions(
    aws: Aws, flow: str, lambdas: InProcessLambda, stdout: pytest.CaptureFixture[str]
) -> None:
    """300 rejected rows over several partitions: no worker logs a row; Finish logs the file's first 20 by line with
    their keys, then one line counting all 300 and naming the report. Workers return no key."""
    # given: every third row too wide, each of its own key
    rows = [f"k{i:03d},name {i}" + (",extra" if i % 3 == 0 else "") for i in range(900)]
    version = aws.upload("spread.csv", "customer_id,name\n" + "\n".join(rows) + "\n")
    stdout.readouterr()
    # when
    _, execution = trigger_and_wait(aws, handler, lambdas, "spread.csv", version, DemoContext())
    # then
    logs = json_logs(stdout.readouterr().out)
    assert len(execution.partitions) > 3
    rejected = [log for log in logs if log["message"] == "row rejected"]
    assert {log["function_name"] for log in rejected} == {FINISH_FUNCTION}
    assert [(log["line"], log["key"]) for log in rejected] == [
        (i + 2, f"k{i:03d}") for i in range(0, 3 * DEFAULT_LOGGED_REJECTIONS, 3)
    ]
    (counted,) = [log for log in logs if log["message"] == "rejected rows reported"]
    assert (counted["rows_rejected"], counted["rows_logged"]) == (300, DEFAULT_LOGGED_REJECTIONS)
    assert execution.verdict is not None and counted["rejects_report"] == execution.verdict["rejects_report"]
    assert all("first_rejections" not in result for result in execution.worker_results().values())
    assert len(logs) < 60  # partitions' counts and the steps' lines: none per row


def test_a_large_file_without_a_header_fails_without_its_first_row_anywhere(
    aws: Aws, flow: str, lambdas: InProcessLambda, stdout: pytest.CaptureFixture[str]
) -> None:
    """Partition fails on a first row of data: it is described, never quoted, in the execution's cause and history,
    the task's error and every log line."""
    # given
    body = f"C-1001,Jane Doe,{EMAIL},{ID_NUMBER}\n" + "".join(f"C-{i},n,m@example.com,1\n" for i in range(200))
    version = aws.upload("headerless.csv", body)
    # when
    entry, execution = trigger_and_wait(aws, handler, lambdas, "headerless.csv", version, DemoContext())
    # then
    assert execution.status == "FAILED"
    assert "the first row looks like data, not a header (4 cells: an ID, text, an e-mail address and an ID)" in (
        execution.error_message
    )
    (raised,) = execution.raised(HANDLER_PARTITION)
    assert planted_in(str(raised)) == []
    assert planted_in(history(execution)) == []
    assert planted_in(stdout.readouterr().out) == []
    assert planted_in(json.dumps(entry)) == []
    assert aws.items() == {} and aws.reports() == {}


def test_rows_rejected_for_their_values_keep_them_in_the_table_and_report_only(
    aws: Aws, lambdas: InProcessLambda, stdout: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typed cells that are not a number or a boolean, spread over the partitions: the values are in the report
    (quoted in its reasons) and the table (rows that went in), and nowhere else: not in a log, an execution's
    history, a worker's answer or the Map's results."""
    # given
    schema = Schema(KeyAttribute("customer_id", "S"), None, {"ssn": "N", "subscribed": "BOOL"})
    monkeypatch.setenv("STATE_MACHINE_ARN", create_flow(aws, partition_bytes=2048, schema=schema))
    monkeypatch.setenv("LARGE_FILE_BYTES", "0")
    rows = []
    for i in range(120):
        if i % 40 == 0:
            rows.append(f"C-{i},{EMAIL},{ID_NUMBER},true")  # the ID number is not a number
        elif i % 40 == 1:
            rows.append(f"C-{i},Jane,12,{EMAIL}")  # the e-mail address is not a boolean
        else:
            rows.append(f"C-{i},{EMAIL},{i},false")
    version = aws.upload("typed.csv", "customer_id,name,ssn,subscribed\n" + "\n".join(rows) + "\n")
    stdout.readouterr()
    # when
    entry, execution = trigger_and_wait(aws, handler, lambdas, "typed.csv", version, DemoContext())
    # then
    assert execution.verdict is not None and execution.verdict["rows_rejected"] == 6
    report = aws.reports()[rejects_report_key("typed.csv", version)]
    assert report.count("'078-05-1120' is not a number") == 3 and report.count("is not a boolean") == 3
    item = aws.dynamodb.get_item(TableName=aws.table, Key={"customer_id": {"S": "C-2"}})["Item"]
    assert item["name"] == {"S": EMAIL}
    out = stdout.readouterr().out
    assert len([log for log in json_logs(out) if log["message"] == "row rejected"]) == 6
    assert planted_in(out) == []
    assert planted_in(history(execution)) == []
    assert planted_in(json.dumps([entry, execution.verdict, execution.worker_results()])) == []
    map_results = [key for key in work_objects(aws) if key.startswith("map-results/")]
    for key in map_results:
        body = aws.s3.get_object(Bucket=WORK_BUCKET, Key=key)["Body"].read().decode()
        assert planted_in(body) == []


def test_a_large_file_under_s3s_longest_key_has_its_report_within_1024_bytes(
    aws: Aws, flow: str, lambdas: InProcessLambda
) -> None:
    """A 1,023-byte key through the state machine: Finish writes the merged report under a key S3 can hold."""
    key = "uploads/" + "k" * (1023 - len("uploads/") - len(".csv")) + ".csv"
    version = aws.upload(key, "customer_id,name\n,nameless\n" + "".join(f"{i},n\n" for i in range(300)))
    _, execution = trigger_and_wait(aws, handler, lambdas, key, version, DemoContext())
    report_key = rejects_report_key(key, version)
    assert execution.verdict is not None
    assert execution.verdict["rejects_report"] == f"s3://{REJECTS_BUCKET}/{report_key}"
    assert len(report_key.encode()) <= MAX_KEY_BYTES and "nameless" in aws.reports()[report_key]
