"""A file through the stack's state machine, executed by moto (its Lambda tasks run in process): the same table and
the same rejects report as one invocation, and a failed execution naming the object when a partition fails.

moto's gap: a failing Map iteration yields null and moto may still call the Map a success, so these tests judge by
the table and by Finish's own verdict, and check the execution's status only as a second witness.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from csv_ingest.local.lambdas import InProcessLambda, lambda_in_process
from csv_ingest_engine import IngestError
from csv_ingest_engine.constants import HANDLER_FINISH, HANDLER_INGEST_PARTITION, HANDLER_PARTITION
from csv_ingest_engine.objects import rejects_report_key
from csv_ingest_engine.partitioning import partition_count, partition_of
from csv_ingest_engine.tasks.ingest_partition import ingest_partition
from handler import handler
from tests.support import BUCKET, KEY_COLUMN, REJECTS_BUCKET, Aws, DemoContext, create_table, emf_metrics
from tests.support.dynamodb import table_items
from tests.support.large_files import (
    create_flow,
    failing_partition,
    run_work_objects,
    start_execution,
    trigger_and_wait,
    work_objects,
)

# The lines of FILE with rows the rules reject (see `spread_file`).
REJECTED_LINES = [23, 101, 187, 240, 334]


def spread_file() -> str:
    """400 rows over 37 keys, each key's rows spread over the whole file, later rows overwriting some attributes
    and leaving others (empty cells keep what is there), quoted cells with commas, quotes and line breaks (so rows
    and lines differ), and rejected rows at REJECTED_LINES."""
    rejected = {
        23: ",nameless,Oslo,",  # a blank key
        101: "c030,a,b,c,extra",  # too many fields
        187: "k" * 3000 + ",long,key,",  # a key over DynamoDB's 2,048 bytes
        240: "customer_id,name,city,notes",  # a header joined on
        334: "   ,blank,key,",  # a whitespace key
    }
    lines, line = ["customer_id,name,city,notes"], 2
    for row in range(400):
        key = f"c{(row * 13) % 37:03d}"
        if line in rejected:
            text = rejected[line]
        elif row % 5 == 0:
            text = f'{key},"Smith, {row}",,"said ""hi""\non two lines"'
        else:
            text = f"{key},name {row},city {row % 4},"
        lines.append(text)
        line += 1 + text.count("\n")
    return "\n".join(lines) + "\n"


FILE = spread_file()


def one_invocation(aws: Aws, body: str, key: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], Any]:
    """`body` ingested by the trigger itself into a table of its own: the summary entry, the table, the report."""
    table = f"{aws.table}-single"
    create_table(aws.dynamodb, table, KEY_COLUMN)
    version = aws.upload(key, body)
    with monkeypatch.context() as env:
        env.setenv("TABLE_NAME", table)
        (entry,) = handler(aws.event(key, version), DemoContext())["files"]
    return entry, (table_items(aws.dynamodb, table, KEY_COLUMN), aws.reports().get(rejects_report_key(key, version)))


def test_the_state_machine_writes_the_same_table_and_report_as_one_invocation(
    aws: Aws, flow: str, lambdas: InProcessLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Duplicate keys spread over the whole file and rejected rows at known lines: the table is identical on both
    paths, and the merged report is the one-invocation report, byte for byte, rows at their original lines."""
    # given
    single, (single_items, single_report) = one_invocation(aws, FILE, "single.csv", monkeypatch)
    version = aws.upload("large.csv", FILE)
    # when
    entry, execution = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    # then
    assert entry["status"] == "started"
    assert execution.verdict == {
        "status": "ingested",
        "rows_written": single["rows_written"],
        "rows_rejected": single["rows_rejected"],
        "rows_superseded": 0,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "partitions": len(execution.partitions),
        "rejects_report": f"s3://csv-ingest-rejects/{rejects_report_key('large.csv', version)}",
    }
    assert execution.partitioned["partitions"] == len(execution.partitions) > 3
    assert aws.items() == single_items
    assert len(single_items) == 37 and single["rows_rejected"] == len(REJECTED_LINES)
    report = aws.reports()[rejects_report_key("large.csv", version)]
    assert report == single_report
    assert execution.status == "SUCCEEDED"
    assert run_work_objects(aws) == []


def test_the_merged_report_lists_each_rejected_row_once_at_its_line(
    aws: Aws, flow: str, lambdas: InProcessLambda
) -> None:
    """Every rejected row is in the one report, once, in line order, with the line it has in the uploaded file."""
    version = aws.upload("large.csv", FILE)
    _, execution = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    report = aws.reports()[rejects_report_key("large.csv", version)]
    rows = list(csv.DictReader(io.StringIO(report)))
    assert [int(row["rejected_line"]) for row in rows] == REJECTED_LINES
    assert execution.verdict is not None and execution.verdict["rows_rejected"] == len(REJECTED_LINES)


def test_a_failing_partition_fails_the_execution_naming_the_object(
    aws: Aws, flow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker crashes: the others' rows are written, Finish fails the execution with a message naming the
    object, the partition that did not report, the run prefix and how to rerun it, and keeps the work objects; a
    new execution with the same input then completes the table."""
    _, (single_items, _) = one_invocation(aws, FILE, "single.csv", monkeypatch)
    version = aws.upload("large.csv", FILE)
    with lambda_in_process({HANDLER_INGEST_PARTITION: failing_partition(1, ingest_partition)}) as lambdas:
        _, execution = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    # then: Finish's verdict, whatever moto says of the Map
    (raised,) = execution.raised(HANDLER_FINISH)
    assert isinstance(raised, IngestError)
    message = str(raised)
    partitions = execution.partitions
    crashed = next(entry for entry in partitions if entry["index"] == 1)
    assert message.startswith(f"s3://{BUCKET}/large.csv: 1 of {len(partitions)} partitions did not finish: ")
    assert f"partition 1 ({crashed['rows']} rows) did not report" in message
    assert f"The run prefix is '{execution.partitioned['run_prefix']}'" in message
    assert '"rerun": "<run prefix>"' in message and "ingesting again is safe" in message
    assert execution.status == "FAILED" and execution.error_message == message
    count = partition_count(len(FILE), 2048)
    assert aws.items() == {key: item for key, item in single_items.items() if partition_of(key, count) != 1}
    assert any(key.startswith(execution.partitioned["run_prefix"]) for key in run_work_objects(aws))
    # when: the same input again, as the message advises
    with lambda_in_process() as lambdas:
        again = start_execution(lambdas, flow, "again", json.loads(execution.description["input"]))
    assert again.status == "SUCCEEDED"
    assert again.verdict is not None and again.verdict["rows_written"] == 400 - len(REJECTED_LINES)
    assert aws.items() == single_items


def test_a_rerun_runs_only_the_failed_partition_and_counts_the_whole_file(
    aws: Aws, flow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Partition 1's worker crashes; a new execution with the failed one's input and `"rerun": <run prefix>` runs
    no Partition and only partition 1's worker, on the first run's chunks: the table is complete, and Finish's
    summary and report are a clean run's."""
    # given: a clean run's outcome, then a run whose partition 1 crashed
    single, (single_items, single_report) = one_invocation(aws, FILE, "single.csv", monkeypatch)
    version = aws.upload("large.csv", FILE)
    with lambda_in_process({HANDLER_INGEST_PARTITION: failing_partition(1, ingest_partition)}) as lambdas:
        _, failed = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    assert failed.status == "FAILED"
    run_prefix = failed.partitioned["run_prefix"]
    # when
    with lambda_in_process() as lambdas:
        rerun = start_execution(
            lambdas, flow, "rerun", {**json.loads(failed.description["input"]), "rerun": run_prefix}
        )
    # then
    assert [call.event["partition"]["index"] for call in rerun.worker_calls()] == [1]
    assert rerun.partitioned["run_prefix"] == run_prefix and rerun.partitioned["partitions"] == 1
    assert rerun.raised(HANDLER_PARTITION) == []
    assert rerun.status == "SUCCEEDED"
    assert rerun.verdict == {
        "status": "ingested",
        "rows_written": single["rows_written"],
        "rows_rejected": single["rows_rejected"],
        "rows_superseded": 0,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "partitions": len(failed.partitions),
        "rejects_report": f"s3://csv-ingest-rejects/{rejects_report_key('large.csv', version)}",
    }
    assert aws.items() == single_items
    assert aws.reports()[rejects_report_key("large.csv", version)] == single_report
    assert run_work_objects(aws) == []


def test_a_rerun_of_a_run_that_was_ingested_or_is_unknown_fails_saying_so(
    aws: Aws, flow: str, lambdas: InProcessLambda, stdout: pytest.CaptureFixture[str]
) -> None:
    """Nothing to rerun: a run that succeeded, and a run prefix no run has, each fail at Partition with what to do
    instead; no worker runs, and FilesFailed is not counted for a file that is in."""
    # given: a run that succeeded
    version = aws.upload("large.csv", FILE)
    _, done = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    assert done.status == "SUCCEEDED"
    job = json.loads(done.description["input"])
    unknown = f"{job['work_prefix']}{'0' * 32}/"
    stdout.readouterr()
    for name, run_prefix, expected in (
        ("after-success", done.partitioned["run_prefix"], "was ingested already: nothing to rerun"),
        ("unknown", unknown, "there is no failed run at"),
        ("elsewhere", "another-file/" + "0" * 32 + "/", "which is not a run of this execution's file"),
    ):
        lambdas.calls.clear()
        # when
        rerun = start_execution(lambdas, flow, name, {**job, "rerun": run_prefix})
        # then
        (raised,) = rerun.raised(HANDLER_PARTITION)
        assert expected in str(raised) and 'without "rerun"' in str(raised)
        assert rerun.status == "FAILED" and rerun.error_message == str(raised)
        assert [call.entry_point for call in lambdas.calls] == [HANDLER_PARTITION]
    assert "FilesFailed" not in emf_metrics(stdout.readouterr().out)


def test_a_clean_run_removes_the_report_an_earlier_run_of_the_version_left(
    aws: Aws, flow: str, lambdas: InProcessLambda
) -> None:
    """The version's report from an earlier run (rows "not written, retries exhausted") goes when a run rejects no
    row: the rejects bucket describes the last run."""
    # given: a file with no rejected row, and an earlier run's report for its version
    body = "customer_id,name\n" + "".join(f"c{row:03d},name {row}\n" for row in range(200))
    version = aws.upload("clean.csv", body)
    report_key = rejects_report_key("clean.csv", version)
    aws.s3.put_object(Bucket=REJECTS_BUCKET, Key=report_key, Body=b"customer_id,name,rejected_line,rejected_reason\n")
    # when
    _, execution = trigger_and_wait(aws, handler, lambdas, "clean.csv", version, DemoContext())
    # then
    assert execution.verdict == {
        "status": "ingested",
        "rows_written": 200,
        "rows_rejected": 0,
        "rows_superseded": 0,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "partitions": 2,
    }
    assert report_key not in aws.reports()


def test_a_file_of_thousands_of_partitions_runs_from_the_manifest(
    aws: Aws, lambdas: InProcessLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3,000 partitions (far past what the execution's 256 KB state could list): the Map reads them from the
    manifest, every worker runs once, and the execution's state stays small: Partition's output, and the Map's
    (its results go to the work bucket)."""
    # given: 3,000 keys, and partitions of a few bytes
    arn = create_flow(aws, partition_bytes=1024)
    body = "customer_id,name\n" + "".join(f"k{row:05d},n\n" for row in range(3000))
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("LARGE_FILE_BYTES", "0")
    version = aws.upload("many.csv", body)
    # when
    _, execution = trigger_and_wait(aws, handler, lambdas, "many.csv", version, DemoContext())
    # then
    count = partition_count(len(body), 1024)
    assert execution.verdict is not None and execution.verdict["rows_written"] == 3000
    assert len(execution.worker_calls()) == execution.verdict["partitions"] > 0.6 * count
    assert len(json.dumps(execution.partitioned)) < 300
    assert len(execution.description["output"]) < 300
    assert len(aws.items()) == 3000


def test_a_new_execution_with_the_same_input_counts_only_its_own_partitions_results(
    aws: Aws, flow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run 1 fails on one partition, leaving the others' results; run 2, on the same input as the messages advise,
    loses a different partition's worker: run 2 fails naming that partition, instead of counting the result run 1
    left for it (each run's work objects are under its own run prefix)."""
    # given: run 1, whose partition 1 crashed
    version = aws.upload("large.csv", FILE)
    with lambda_in_process({HANDLER_INGEST_PARTITION: failing_partition(1, ingest_partition)}) as lambdas:
        _, first = trigger_and_wait(aws, handler, lambdas, "large.csv", version, DemoContext())
    assert first.status == "FAILED"
    other = next(entry for entry in first.partitions if entry["index"] != 1)
    assert other["index"] in first.worker_results()  # run 1 left a result for it
    # when: a new execution with run 1's input, whose worker of that other partition crashes
    failing = failing_partition(other["index"], ingest_partition)
    with lambda_in_process({HANDLER_INGEST_PARTITION: failing}) as again:
        second = start_execution(again, flow, "again", json.loads(first.description["input"]))
    # then
    assert second.verdict is None
    (raised,) = second.raised(HANDLER_FINISH)
    message = str(raised)
    assert message.startswith(f"s3://{BUCKET}/large.csv: 1 of {len(second.partitions)} partitions")
    assert f"partition {other['index']} ({other['rows']} rows) did not report" in message
    assert "partition 1 " not in message
    assert second.status == "FAILED" and second.error_message == message
    assert second.partitioned["run_prefix"] != first.partitioned["run_prefix"]


def test_a_header_error_fails_the_execution_at_partition_with_todays_message(
    aws: Aws, flow: str, lambdas: InProcessLambda
) -> None:
    """The brief's bad sample: Partition fails with the one-invocation message; no worker runs, nothing is written."""
    key, version = aws.upload_sample("sample-bad.csv")
    _, execution = trigger_and_wait(aws, handler, lambdas, key, version, DemoContext())
    (raised,) = execution.raised(HANDLER_PARTITION)
    assert str(raised).startswith(f"s3://{BUCKET}/sample-bad.csv: the header has no 'customer_id' column")
    assert execution.status == "FAILED" and execution.error_message == str(raised)
    assert [call.entry_point for call in lambdas.calls] == [HANDLER_PARTITION]
    assert aws.items() == {} and work_objects(aws) == []


def test_a_file_with_only_a_header_succeeds_with_zero_rows(aws: Aws, flow: str, lambdas: InProcessLambda) -> None:
    """No rows: no partitions, an empty Map, and Finish reports 0 rows."""
    version = aws.upload("empty.csv", "customer_id,name\n")
    _, execution = trigger_and_wait(aws, handler, lambdas, "empty.csv", version, DemoContext())
    assert execution.verdict == {
        "status": "ingested",
        "rows_written": 0,
        "rows_rejected": 0,
        "rows_superseded": 0,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "partitions": 0,
    }
    assert execution.status == "SUCCEEDED"
