"""The state machine's three tasks called directly (S3 in moto; DynamoDB in moto, then in dynalite): Partition's
chunks, manifest and output, a worker's rows, result and partial rejects, Finish's verdict, report and clean-up,
and Finish run twice."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

from csv_ingest_engine import IngestError, clients
from csv_ingest_engine.constants import DEADLINE_MARGIN_MS, MAX_PARTITIONS
from csv_ingest_engine.finishing import finish_file
from csv_ingest_engine.jobs import FileJob, PartitionEntry, Run, worker_event
from csv_ingest_engine.objects import rejects_report_key
from csv_ingest_engine.ordering import now, stamp
from csv_ingest_engine.partitioning import (
    chunk_key,
    failed_manifest_key,
    manifest_key,
    partition_of,
    read_chunk,
    rejects_key,
    result_key,
    verdict_key,
)
from csv_ingest_engine.settings import FinishSettings
from handler import finish, handler, ingest_partition, partition

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
from tests.support import BUCKET, REJECTS_BUCKET, Aws, DemoContext, emf_metrics, json_logs
from tests.support.large_files import WORK_BUCKET, work_objects

CONTRACT_OUTPUT = {"run_prefix", "attempt", "items", "rows", "partitions", "order", "started_ms"}
CONTRACT_ENTRY = {"index", "chunks", "rows"}
RESULT_FIELDS = {
    "index",
    "rows_written",
    "rows_rejected",
    "rows_failed",
    "first_missing_line",
    "error",
    "rejects_report",
    "rows_superseded",
    "rows_unchanged",
    "rows_deleted",
}
# Rows that the rules reject, at known lines: a blank key, too many fields, a header joined on.
REJECTED = {
    9: ",no key,x",
    20: "k0003,too,many,fields",
    31: "customer_id,name,city",
}


@pytest.fixture
def work(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    """The work bucket, and the variables the stack gives the tasks (the account sets the table's and the rest)."""
    aws.s3.create_bucket(Bucket=WORK_BUCKET)
    monkeypatch.setenv("WORK_BUCKET", WORK_BUCKET)
    monkeypatch.setenv("PARTITION_BYTES", "200")
    return WORK_BUCKET


def spread_file(rows: int = 40, keys: int = 6) -> str:
    """`rows` data rows over `keys` keys, each key's rows all over the file, and the REJECTED rows at their lines."""
    lines = ["customer_id,name,city"]
    for line in range(2, rows + 2):
        lines.append(REJECTED.get(line, f"k{line % keys:04d},name {line},city {line % 3}"))
    return "\n".join(lines) + "\n"


def job_event(aws: Aws, key: str, version: str, *, size: int | None = None) -> dict[str, Any]:
    """The execution's input for an uploaded object, as the trigger makes it."""
    body = aws.s3.get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read()
    job = FileJob.for_upload(
        BUCKET, key, version, size=len(body) if size is None else size, sequencer="01", order=stamp(now())
    )
    event: dict[str, Any] = job.as_input()
    return event


def partitioned(aws: Aws, event: dict[str, Any], context: DemoContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Partition's run as the state then holds it (`$.run`: Finish's input), and the workers' events the Map makes of
    the run's manifest."""
    output = partition(event, context)
    state = {**event, "run": output}
    manifest = json.loads(aws.s3.get_object(Bucket=WORK_BUCKET, Key=output["items"])["Body"].read())
    job, run = FileJob.from_event(event), Run.from_event(state)
    return state, [worker_event(job, run, PartitionEntry.from_json(entry)) for entry in manifest]


def run_tasks(aws: Aws, key: str, version: str, context: DemoContext, *, skip: int | None = None) -> dict[str, Any]:
    """Partition, every worker (but `skip`'s), then Finish's input: what the state machine does, in order."""
    state, items = partitioned(aws, job_event(aws, key, version), context)
    for item in items:
        if item["partition"]["index"] != skip:
            ingest_partition(item, context)
    return state


def single_path(aws: Aws, key: str, version: str, context: DemoContext) -> tuple[dict[str, Any], str | None]:
    """The one-invocation path's summary entry and report text for the same object."""
    (entry,) = handler(aws.event(key, version), context)["files"]
    report = aws.reports().get(rejects_report_key(key, version))
    return entry, report


# -- Partition -------------------------------------------------------------------------------------------------------


def test_partition_writes_each_partition_as_chunks_and_lists_them_in_the_manifest(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """One partition per PARTITION_BYTES of the object; the manifest lists those with rows; the chunks hold every
    data row once, in its key's partition, with its line; the output names the run, not its partitions."""
    # given
    body = spread_file()
    version = aws.upload("spread.csv", body)
    event = job_event(aws, "spread.csv", version)
    # when
    state, items = partitioned(aws, event, lambda_context)
    # then
    output = state["run"]
    assert set(output) == CONTRACT_OUTPUT
    assert output["items"] == manifest_key(output["run_prefix"])
    assert (output["rows"], output["partitions"]) == (40, len(items))
    count = -(-len(body.encode()) // 200)  # ceil: 7 partitions
    entries = [item["partition"] for item in items]
    assert all(set(entry) == CONTRACT_ENTRY for entry in entries)
    assert all(entry["index"] < count and entry["rows"] > 0 for entry in entries)
    lines: dict[int, list[int]] = {}
    for entry in entries:
        for chunk in range(entry["chunks"]):
            data = aws.s3.get_object(Bucket=work, Key=chunk_key(output["run_prefix"], entry["index"], chunk))["Body"]
            header, records = read_chunk(data, source="t")
            assert header == ["customer_id", "name", "city"]
            for record in records:
                assert partition_of(record.cells[0].strip() or None, count) == entry["index"]
                lines.setdefault(entry["index"], []).append(record.line)
    assert sorted(line for found in lines.values() for line in found) == list(range(2, 42))
    assert all(found == sorted(found) for found in lines.values())
    assert {entry["index"]: entry["rows"] for entry in entries} == {i: len(f) for i, f in lines.items()}


def test_each_partition_run_puts_its_work_objects_under_its_own_run_prefix(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """Two runs of Partition on one input (a new execution with the same input, or a retry) write under two run
    prefixes inside the execution's work prefix: their chunks and manifests apart."""
    # given
    version = aws.upload("spread.csv", spread_file())
    event = job_event(aws, "spread.csv", version)
    # when
    (first, first_items), (second, second_items) = (partitioned(aws, event, lambda_context) for _ in range(2))
    # then
    runs = (first["run"]["run_prefix"], second["run"]["run_prefix"])
    assert runs[0] != runs[1]
    assert all(re.fullmatch(re.escape(event["work_prefix"]) + "[0-9a-f]{32}/", run) for run in runs)
    for run, items in zip(runs, (first_items, second_items), strict=True):
        assert {item["job"]["run"]["run_prefix"] for item in items} == {run}
        objects = [key for key in work_objects(aws) if key.startswith(run)]
        assert len(objects) == sum(item["partition"]["chunks"] for item in items) + 1  # and the manifest
    assert len(work_objects(aws)) == sum(item["partition"]["chunks"] for item in first_items + second_items) + 2


def test_partition_lists_only_the_partitions_that_have_rows(aws: Aws, work: str, lambda_context: DemoContext) -> None:
    """A file whose rows all share a key has one partition with rows, whatever the partition count."""
    version = aws.upload("one-key.csv", "customer_id,name\n" + "".join(f"7,n{i}\n" for i in range(60)))
    state, (item,) = partitioned(aws, job_event(aws, "one-key.csv", version), lambda_context)
    assert (item["partition"]["rows"], state["run"]["rows"]) == (60, 60)


def test_a_file_with_only_a_header_has_no_partitions(aws: Aws, work: str, lambda_context: DemoContext) -> None:
    """No rows, no partitions, no chunks (an empty manifest): the Map has nothing to do and Finish reports 0 rows."""
    version = aws.upload("empty.csv", "customer_id,name\n")
    state, items = partitioned(aws, job_event(aws, "empty.csv", version), lambda_context)
    assert (state["run"]["rows"], state["run"]["partitions"], items) == (0, 0, [])
    assert work_objects(aws) == [state["run"]["items"]]
    summary = finish(state, lambda_context)
    assert summary == {
        "status": "ingested",
        "rows_written": 0,
        "rows_rejected": 0,
        "rows_superseded": 0,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "partitions": 0,
    }


def test_a_header_error_fails_partition_with_the_one_invocation_message(
    aws: Aws, work: str, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """The brief's bad sample fails Partition with today's message (naming the object, the key column and the
    columns found) before anything is written; it counts as a failed file."""
    key, version = aws.upload_sample("sample-bad.csv")
    with pytest.raises(IngestError) as single:
        handler(aws.event(key, version), lambda_context)
    stdout.readouterr()
    with pytest.raises(IngestError) as partitioned:
        partition(job_event(aws, key, version), lambda_context)
    assert str(partitioned.value) == str(single.value)
    assert str(partitioned.value).startswith(f"s3://{BUCKET}/sample-bad.csv: the header has no 'customer_id' column")
    assert work_objects(aws) == []
    assert emf_metrics(stdout.readouterr().out)["FilesFailed"] == [1.0]


def test_a_bad_byte_further_down_fails_partition_naming_its_line(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """Invalid UTF-8 after a few thousand rows fails the task with the line (the workers never start, so the table
    is not written)."""
    body = b"customer_id,name\n" + b"".join(b"%d,n\n" % i for i in range(3000)) + b"3000,Jos\xe9\n"
    version = aws.upload("latin1.csv", body)
    with pytest.raises(IngestError, match=r"latin1.csv: the file is not UTF-8 text \(invalid bytes on line 3002\)"):
        partition(job_event(aws, "latin1.csv", version), lambda_context)
    assert aws.items() == {}


def test_partition_reads_the_version_the_event_names(aws: Aws, work: str, lambda_context: DemoContext) -> None:
    """A newer upload of the same key does not change what an execution of the older one partitions."""
    first = aws.upload("daily.csv", "customer_id,name\n1,a\n2,b\n")
    aws.upload("daily.csv", "customer_id,name\n1,a\n2,b\n3,c\n4,d\n")
    assert partition(job_event(aws, "daily.csv", first), lambda_context)["rows"] == 2


def test_partition_reads_an_object_of_a_bucket_without_versioning(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """No version id in the event (S3 sends none without versioning): the object as it is now is partitioned."""
    aws.s3.create_bucket(Bucket="plain-uploads")
    aws.s3.put_object(Bucket="plain-uploads", Key="p.csv", Body=b"customer_id,name\n1,a\n2,b\n3,c\n")
    job = FileJob.for_upload("plain-uploads", "p.csv", None, size=26, sequencer="01", order=stamp(now()))
    state, items = partitioned(aws, job.as_input(), lambda_context)
    assert state["run"]["rows"] == 3
    assert all(item["job"]["version_id"] is None for item in items)


def test_partition_stops_before_the_deadline_with_a_clear_error(aws: Aws, work: str) -> None:
    """Near the invocation's end the task stops reading and fails, saying nothing was written and what to change."""
    version = aws.upload("slow.csv", "customer_id,name\n" + "".join(f"{i},n\n" for i in range(600)))
    with pytest.raises(IngestError) as failure:
        partition(job_event(aws, "slow.csv", version), DemoContext(remaining_ms=DEADLINE_MARGIN_MS - 1))
    message = str(failure.value)
    assert "the partition task was about to time out after reading 256 rows (up to line 257)" in message
    assert "nothing was written to the table" in message


def test_a_missing_object_fails_partition_naming_it(aws: Aws, work: str, lambda_context: DemoContext) -> None:
    """An object deleted before its execution ran: the error names it and the permission to check."""
    event = job_event(aws, "gone.csv", aws.upload("gone.csv", "customer_id\n1\n"))
    aws.s3.delete_object(Bucket=BUCKET, Key="gone.csv", VersionId=event["version_id"])
    with pytest.raises(IngestError, match=r"s3://csv-ingest-uploads/gone.csv: could not read the object version"):
        partition(event, lambda_context)


def test_partition_output_stays_small_however_many_partitions(aws: Aws, work: str, lambda_context: DemoContext) -> None:
    """A 1,000-character key and a size that asks for MAX_PARTITIONS: thousands of partitions, all in the manifest
    (no longer capped by the execution's 256 KiB state), and an output of a few hundred bytes."""
    # given
    key = "exports/" + "k" * 988 + ".csv"
    version = aws.upload(key, "customer_id,name\n" + "".join(f"{i},n\n" for i in range(3000)))
    event = job_event(aws, key, version, size=10**12)
    # when
    state, items = partitioned(aws, event, lambda_context)
    # then
    output = state["run"]
    assert MAX_PARTITIONS == 10_000
    assert output["partitions"] == len(items) > 2000  # 3,000 keys hashed over 10,000 partitions
    assert sum(item["partition"]["rows"] for item in items) == output["rows"] == 3000
    assert {partition_of(str(i), MAX_PARTITIONS) for i in range(3000)} == {item["partition"]["index"] for item in items}
    assert len(json.dumps(output)) < 500  # the run prefix twice: at most two 80-character names and tokens
    assert len(json.dumps(state)) < 2000  # the state the Map and Finish get, with the key's 1,000 characters


# -- Ingest one partition --------------------------------------------------------------------------------------------


def test_workers_write_their_rows_and_results_and_report_rejects_only_when_some(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """Each worker writes its partition's rows (the last row of a key wins, as in file order), puts its result
    where Finish looks (with its first rejected rows, which it does not return), and a partial report of its
    rejected rows, with their lines, only if it has some."""
    # given
    version = aws.upload("spread.csv", spread_file())
    state, items = partitioned(aws, job_event(aws, "spread.csv", version), lambda_context)
    prefix = state["run"]["run_prefix"]
    # when
    results = [ingest_partition(item, lambda_context) for item in items]
    # then
    first_rejections = []
    for result in results:
        assert set(result) == RESULT_FIELDS
        stored = json.loads(aws.s3.get_object(Bucket=work, Key=result_key(prefix, result["index"]))["Body"].read())
        first_rejections += stored.pop("first_rejections")
        assert stored == result
        assert result["error"] is None and result["first_missing_line"] is None
    assert sorted((r["line"], r["key"]) for r in first_rejections) == [(9, None), (20, "k0003"), (31, "customer_id")]
    assert sum(r["rows_written"] for r in results) == 37
    assert sum(r["rows_rejected"] for r in results) == 3
    reports = {r["index"]: r for r in results if r["rows_rejected"]}
    assert sorted(k for k in work_objects(aws) if "/rejects/" in k) == sorted(rejects_key(prefix, i) for i in reports)
    lines = []
    for index in reports:
        text = aws.s3.get_object(Bucket=work, Key=rejects_key(prefix, index))["Body"].read().decode()
        lines += [int(row["rejected_line"]) for row in csv.DictReader(io.StringIO(text))]
    assert sorted(lines) == sorted(REJECTED)
    table = aws.items()
    assert table["k0001"] == {"customer_id": "k0001", "name": "name 37", "city": "city 1"}  # line 37 is its last
    assert len(table) == 6


def test_a_chunk_that_cannot_be_read_is_a_result_not_an_exception(
    aws: Aws, work: str, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition whose second chunk is gone (work objects expire) writes the first chunk's rows,
    counts them exactly and says where the missing rows start, instead of failing the Map iteration."""
    # given: ~600 KB of one key, cut into as many partitions as the state holds, so chunks of a few hundred KB
    monkeypatch.setenv("PARTITION_BYTES", "1")
    cell = "x" * 2000
    version = aws.upload("long.csv", "customer_id,notes\n" + "".join(f"7,{i}{cell}\n" for i in range(300)))
    state, (item,) = partitioned(aws, job_event(aws, "long.csv", version, size=10**12), lambda_context)
    entry, run_prefix = item["partition"], state["run"]["run_prefix"]
    assert entry["chunks"] >= 2
    first = aws.s3.get_object(Bucket=work, Key=chunk_key(run_prefix, entry["index"], 0))["Body"]
    lines = [record.line for record in read_chunk(first, source="t")[1]]
    aws.s3.delete_object(Bucket=work, Key=chunk_key(run_prefix, entry["index"], 1))
    # when
    result = ingest_partition(item, lambda_context)
    # then
    assert result["rows_written"] == len(lines) < 300
    assert result["first_missing_line"] == lines[-1] + 1
    missing = chunk_key(run_prefix, entry["index"], 1)
    assert f"its chunk s3://{work}/{missing} could not be read" in result["error"]
    assert aws.items()["7"]["notes"].startswith(f"{len(lines) - 1}x")  # the first chunk's last row, written last


def test_a_worker_out_of_time_says_from_which_line_rows_may_be_missing(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """The worker's deadline stops it; the result names the first line that may be missing, and is still written."""
    version = aws.upload("slow.csv", "customer_id,name\n" + "".join(f"{i},n\n" for i in range(600)))
    state, (item,) = partitioned(aws, job_event(aws, "slow.csv", version, size=1), lambda_context)
    result = ingest_partition(item, DemoContext(remaining_ms=DEADLINE_MARGIN_MS - 1))
    assert result["first_missing_line"] is not None and result["first_missing_line"] <= 258
    assert "the invocation was about to time out" in result["error"]
    assert result["rows_written"] == len(aws.items()) < 600
    stored = aws.s3.get_object(Bucket=work, Key=result_key(state["run"]["run_prefix"], 0))["Body"].read()
    assert json.loads(stored) == {**result, "first_rejections": []}


def test_a_table_that_refuses_every_write_is_recorded_in_the_result(
    aws: Aws, work: str, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing table fails the partition with the one-invocation path's message, as a result Finish can report."""
    version = aws.upload("t.csv", "customer_id,name\n1,a\n")
    _, (item,) = partitioned(aws, job_event(aws, "t.csv", version), lambda_context)
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    result = ingest_partition(item, lambda_context)
    assert result["rows_written"] == 0
    assert result["error"].startswith("writing line 2 to DynamoDB table 'no-such-table' failed")


# -- Finish ----------------------------------------------------------------------------------------------------------


def test_finish_merges_the_rejects_into_the_one_invocation_report_and_cleans_up(
    aws: Aws, work: str, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """The partial reports become one report, in line order, where and as the one-invocation path writes it; the
    file's metrics go out; every work object is deleted."""
    # given
    body = spread_file()
    single_version = aws.upload("single.csv", body)
    single, single_report = single_path(aws, "single.csv", single_version, lambda_context)
    version = aws.upload("spread.csv", body)
    stdout.readouterr()
    # when
    state = run_tasks(aws, "spread.csv", version, lambda_context)
    summary = finish(state, lambda_context)
    # then
    report_uri = f"s3://{REJECTS_BUCKET}/{rejects_report_key('spread.csv', version)}"
    assert summary == {
        "status": "ingested",
        "rows_written": single["rows_written"],
        "rows_rejected": single["rows_rejected"],
        "rows_superseded": 0,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "partitions": summary["partitions"],
        "rejects_report": report_uri,
    }
    assert summary["partitions"] > 1
    report = aws.reports()[rejects_report_key("spread.csv", version)]
    assert report == single_report
    assert [int(row["rejected_line"]) for row in csv.DictReader(io.StringIO(report))] == sorted(REJECTED)
    assert work_objects(aws) == [verdict_key(state["run"]["run_prefix"])]
    metrics = emf_metrics(stdout.readouterr().out)
    assert metrics["FilesProcessed"] == [1.0]
    assert (metrics["RowsWritten"], metrics["RowsRejected"], metrics["RowsSuperseded"]) == ([37.0], [3.0], [0.0])
    assert metrics["RowsUnchanged"] == [0.0]


def test_finish_fails_naming_the_object_and_the_partition_that_did_not_report(
    aws: Aws, work: str, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """A partition without a result (its worker crashed) fails the file: the message names the object, the
    partition, what was written, the run prefix and how to rerun it; the work objects stay, and a manifest of the
    partition that failed."""
    # given
    version = aws.upload("spread.csv", spread_file())
    state, items = partitioned(aws, job_event(aws, "spread.csv", version), lambda_context)
    skipped = items[0]["partition"]
    results = [ingest_partition(item, lambda_context) for item in items[1:]]
    stdout.readouterr()
    # when
    with pytest.raises(IngestError) as failure:
        finish(state, lambda_context)
    # then
    message = str(failure.value)
    run_prefix = state["run"]["run_prefix"]
    written, rejected = sum(r["rows_written"] for r in results), sum(r["rows_rejected"] for r in results)
    assert message.startswith(f"s3://{BUCKET}/spread.csv: 1 of {len(items)} partitions did not finish: ")
    assert f"partition {skipped['index']} ({skipped['rows']} rows) did not report" in message
    assert f"{written} rows were written and {rejected} rejected" in message
    assert written + rejected + skipped["rows"] == 40
    assert f"The run prefix is '{run_prefix}'" in message and '"rerun": "<run prefix>"' in message
    failed = aws.s3.get_object(Bucket=work, Key=failed_manifest_key(run_prefix))["Body"].read()
    assert json.loads(failed) == [skipped]
    assert chunk_key(run_prefix, skipped["index"], 0) in work_objects(aws)
    assert emf_metrics(stdout.readouterr().out)["FilesFailed"] == [1.0]


def test_finish_does_not_count_a_result_an_earlier_run_left(aws: Aws, work: str, lambda_context: DemoContext) -> None:
    """An earlier run of the same input left a result for every partition; in this run one worker died: Finish
    fails naming that partition (the earlier run's result for it is not this run's)."""
    # given: run 1 complete but for Finish, and run 2 with partition 0's worker gone
    version = aws.upload("spread.csv", spread_file())
    run_tasks(aws, "spread.csv", version, lambda_context)
    state = run_tasks(aws, "spread.csv", version, lambda_context, skip=0)
    manifest = json.loads(aws.s3.get_object(Bucket=work, Key=state["run"]["items"])["Body"].read())
    (skipped,) = [entry for entry in manifest if entry["index"] == 0]
    # when
    with pytest.raises(IngestError) as failure:
        finish(state, lambda_context)
    # then
    message = str(failure.value)
    assert f"1 of {len(manifest)} partitions did not finish: partition 0 ({skipped['rows']} rows)" in message
    missing = result_key(state["run"]["run_prefix"], 0)
    assert f"there is no result at s3://{work}/{missing} (NoSuchKey)" in message


def test_a_partial_report_that_could_not_be_written_fails_only_its_partition(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """A worker whose partial report cannot be put in the work bucket fails its partition, and says so; the other
    partitions' rejected rows are still merged into the file's report, in line order."""
    # given: partitions 0, 3 and 4 each reject one row (lines 9, 20 and 31); partition 3's report cannot be written
    version = aws.upload("spread.csv", spread_file())
    state, items = partitioned(aws, job_event(aws, "spread.csv", version), lambda_context)
    refused = rejects_key(state["run"]["run_prefix"], 3)

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == refused:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "a test's refusal"}}, "PutObject")

    clients.s3_client().meta.events.register("provide-client-params.s3.PutObject", refuse)
    results = {item["partition"]["index"]: ingest_partition(item, lambda_context) for item in items}
    assert {index for index, result in results.items() if result["rows_rejected"]} == {0, 3, 4}
    assert results[3]["rejects_report"] is None
    assert results[0]["rejects_report"] == rejects_key(state["run"]["run_prefix"], 0)
    # when
    with pytest.raises(IngestError) as failure:
        finish(state, lambda_context)
    # then
    message = str(failure.value)
    report_key = rejects_report_key("spread.csv", version)
    assert f"1 of {len(items)} partitions did not finish: partition 3 " in message
    assert f"failed: its 1 rejected row could not be written to s3://{work}/{refused}" in message
    assert f"reported in s3://{REJECTS_BUCKET}/{report_key}" in message
    report = aws.reports()[report_key]
    assert [int(row["rejected_line"]) for row in csv.DictReader(io.StringIO(report))] == [9, 31]


def test_finish_fails_a_partition_whose_rejected_rows_have_no_report(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """A result that counts rejected rows but names no partial report fails its partition: no row is rejected
    without a report."""
    version = aws.upload("t.csv", "customer_id,name\n,no key\n1,a\n")
    state, (item,) = partitioned(aws, job_event(aws, "t.csv", version, size=1), lambda_context)
    result = ingest_partition(item, lambda_context)
    tampered = {**result, "rejects_report": None}
    aws.s3.put_object(Bucket=work, Key=result_key(state["run"]["run_prefix"], 0), Body=json.dumps(tampered).encode())
    with pytest.raises(
        IngestError, match=r"partition 0 \(2 rows\) rejected 1 row but left no report of them\. 1 row was written"
    ):
        finish(state, lambda_context)


def test_a_result_finish_may_not_read_names_the_missing_permission_too() -> None:
    """Without s3:ListBucket S3 answers a missing result with AccessDenied, as it answers a missing s3:GetObject:
    Finish's message names both causes."""

    class Refusing:
        """Reads the run's manifest, refuses every result."""

        def get_object(self, *, Key: str, **_: Any) -> Any:
            if Key == manifest_key(run_prefix):
                return {"Body": io.BytesIO(b'[{"index": 0, "chunks": 1, "rows": 5}]')}
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")

        def put_object(self, **_: Any) -> None:  # the failed partitions' manifest, the verdict
            pass

    # given
    job = FileJob.for_upload(BUCKET, "t.csv", "v1", size=10, sequencer="01", order=stamp(now()))
    run_prefix = f"{job.work_prefix}run/"
    run = Run(run_prefix, "attempt", manifest_key(run_prefix), rows=5, partitions=1)
    refusing = cast("S3Client", Refusing())  # a double standing in for the client
    # when
    with pytest.raises(IngestError) as failure:
        finish_file(refusing, job, run, FinishSettings(WORK_BUCKET, rejects_bucket=None))
    # then
    message = str(failure.value)
    result = f"s3://{WORK_BUCKET}/{run_prefix}results/p00000.json"
    assert f"partition 0 (5 rows) did not report, or its result {result} may not be read (AccessDenied)" in message
    assert "(AccessDenied): either its worker failed or timed out before writing it" in message
    assert "or the finish function lacks s3:GetObject on the work bucket's objects" in message


def test_finish_fails_when_a_partition_failed_and_says_why(
    aws: Aws, work: str, lambda_context: DemoContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's error (here: the table is gone) is in Finish's message, with the object's name."""
    version = aws.upload("t.csv", "customer_id,name\n1,a\n")
    state, items = partitioned(aws, job_event(aws, "t.csv", version), lambda_context)
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    ingest_partition(items[0], lambda_context)
    with pytest.raises(IngestError) as failure:
        finish(state, lambda_context)
    message = str(failure.value)
    assert message.startswith(f"s3://{BUCKET}/t.csv: 1 of 1 partitions did not finish: partition ")
    assert "failed: writing line 2 to DynamoDB table 'no-such-table' failed" in message
    assert "0 rows were written and 0 rejected" in message


def test_finish_fails_when_a_result_does_not_account_for_every_row(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """Finish counts: a result whose written and rejected rows do not add up to the partition's rows fails the
    file (no row may go missing silently)."""
    version = aws.upload("t.csv", "customer_id,name\n1,a\n2,b\n")
    state, (item,) = partitioned(aws, job_event(aws, "t.csv", version, size=1), lambda_context)
    result = ingest_partition(item, lambda_context)
    tampered = {**result, "rows_written": result["rows_written"] - 1}
    aws.s3.put_object(Bucket=work, Key=result_key(state["run"]["run_prefix"], 0), Body=json.dumps(tampered).encode())
    settled = r"settled 1 of its rows \(1 written, 0 unchanged, 0 rejected, 0 superseded, 0 deleted\)"
    with pytest.raises(IngestError, match=rf"partition 0 \(2 rows\) {settled}"):
        finish(state, lambda_context)


def test_a_long_rejects_report_is_merged_in_line_order_across_read_blocks(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """Partial reports longer than Finish's read block (each read in ranges) merge into the one-invocation report,
    byte for byte: 400 rejected rows with long cells, over several partitions, between rows that are written."""
    # given: every other row has too many fields; its long cells make the reports ~1 MB
    cell = "z" * 2500
    body = "customer_id,name\n" + "".join(
        f"k{i % 50:02d},{cell},extra\n" if i % 2 else f"k{i % 50:02d},n{i}\n" for i in range(800)
    )
    single_version = aws.upload("single.csv", body)
    _, single_report = single_path(aws, "single.csv", single_version, lambda_context)
    version = aws.upload("large.csv", body)
    # when
    summary = finish(run_tasks(aws, "large.csv", version, lambda_context), lambda_context)
    # then
    report = aws.reports()[rejects_report_key("large.csv", version)]
    assert summary["rows_rejected"] == 400 and summary["partitions"] > 1
    assert len(report) > 1_000_000
    assert report == single_report


def test_finish_deletes_the_work_objects_in_batches_of_a_thousand(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """S3 deletes at most 1,000 keys a request: a partition of 1,200 chunks takes two requests, and no object stays
    but the verdict."""
    # given: a partition whose manifest entry claims 1,200 chunks (S3 deletes a missing key without complaint)
    version = aws.upload("t.csv", "customer_id,name\n1,a\n")
    state, (item,) = partitioned(aws, job_event(aws, "t.csv", version), lambda_context)
    ingest_partition(item, lambda_context)
    entry = {**item["partition"], "chunks": 1200}
    aws.s3.put_object(Bucket=work, Key=state["run"]["items"], Body=json.dumps([entry]).encode())
    batches: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        batches.append(len(params["Delete"]["Objects"]))

    clients.s3_client().meta.events.register("provide-client-params.s3.DeleteObjects", count)
    # when
    finish(state, lambda_context)
    # then
    assert batches == [1000, 204]  # 1,200 chunks, the result, the (absent) partial report, the two manifests
    assert work_objects(aws) == [verdict_key(state["run"]["run_prefix"])]


# -- Finish, twice ---------------------------------------------------------------------------------------------------


def test_finish_run_again_gives_the_first_summary_and_counts_the_file_once(
    aws: Aws, work: str, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """A retry of Finish whose first answer was lost (Lambda.ServiceException after it completed), once the work
    objects are gone: the same summary, no second FilesProcessed or row counts, no FilesFailed, the report kept."""
    # given: a Finish that completed and cleaned up
    version = aws.upload("spread.csv", spread_file())
    state = run_tasks(aws, "spread.csv", version, lambda_context)
    stdout.readouterr()
    first = finish(state, lambda_context)
    assert emf_metrics(stdout.readouterr().out)["FilesProcessed"] == [1.0]
    assert work_objects(aws) == [verdict_key(state["run"]["run_prefix"])]
    # when
    again = finish(state, lambda_context)
    # then
    assert again == first and again["status"] == "ingested"
    metrics = emf_metrics(stdout.readouterr().out)
    assert not {"FilesProcessed", "FilesFailed", "RowsWritten", "RowsRejected"} & set(metrics)
    assert rejects_report_key("spread.csv", version) in aws.reports()


def test_finish_run_again_after_a_failure_raises_the_same_error_and_counts_it_once(
    aws: Aws, work: str, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """A retried (or redriven) Finish on the same pass after it failed the file, with the results since expired:
    the same error, and FilesFailed counted once."""
    # given
    version = aws.upload("spread.csv", spread_file())
    state = run_tasks(aws, "spread.csv", version, lambda_context, skip=0)
    stdout.readouterr()
    with pytest.raises(IngestError) as first:
        finish(state, lambda_context)
    assert emf_metrics(stdout.readouterr().out)["FilesFailed"] == [1.0]
    run_prefix = state["run"]["run_prefix"]
    for key in work_objects(aws):
        if key != verdict_key(run_prefix):
            aws.s3.delete_object(Bucket=work, Key=key)
    # when
    with pytest.raises(IngestError) as again:
        finish(state, lambda_context)
    # then
    assert str(again.value) == str(first.value)
    assert "FilesFailed" not in emf_metrics(stdout.readouterr().out)


def failed_pass_and_rerun(aws: Aws, context: DemoContext) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A pass over spread.csv whose partition 0 did not report (Finish failed it), then a rerun of that partition up
    to its worker: the failed pass's Finish input, the rerun's, and the rerun's one worker event."""
    version = aws.upload("spread.csv", spread_file())
    state = run_tasks(aws, "spread.csv", version, context, skip=0)
    with pytest.raises(IngestError):
        finish(state, context)
    event = {**job_event(aws, "spread.csv", version), "rerun": state["run"]["run_prefix"]}
    rerun, (item,) = partitioned(aws, event, context)
    ingest_partition(item, context)
    return state, rerun, item


def test_finish_on_a_new_pass_judges_the_latest_results_not_the_earlier_verdict(
    aws: Aws, work: str, lambda_context: DemoContext
) -> None:
    """A rerun (a new pass over the run: another attempt) of the partition that failed: Finish counts its new
    result in place of the missing one and the file is in, with a clean run's counts."""
    # given: a pass that failed on partition 0, then partition 0 run again
    state, rerun, item = failed_pass_and_rerun(aws, lambda_context)
    assert item["partition"]["index"] == 0 and rerun["run"]["attempt"] != state["run"]["attempt"]
    # when
    summary = finish(rerun, lambda_context)
    # then
    assert (summary["rows_written"], summary["rows_rejected"]) == (37, 3)
    assert len(aws.items()) == 6


def test_finish_of_the_failed_pass_redriven_after_a_successful_rerun_says_ingested(
    aws: Aws, work: str, lambda_context: DemoContext, stdout: pytest.CaptureFixture[str]
) -> None:
    """The operator reran the failed partition, then also redrove the first execution: its Finish answers with the
    run's ingested verdict instead of failing (and counting) a file that is in."""
    # given
    state, rerun, _ = failed_pass_and_rerun(aws, lambda_context)
    summary = finish(rerun, lambda_context)
    stdout.readouterr()
    # when
    redriven = finish(state, lambda_context)
    # then
    assert redriven == summary
    assert "FilesFailed" not in emf_metrics(stdout.readouterr().out)


def test_finish_succeeds_when_an_earlier_report_cannot_be_deleted(
    aws: Aws,
    work: str,
    lambda_context: DemoContext,
    monkeypatch: pytest.MonkeyPatch,
    stdout: pytest.CaptureFixture[str],
) -> None:
    """Every row is in: S3 refusing to delete the version's earlier report is logged (naming the report to delete),
    and the file is counted ingested, not failed, as on the one-invocation path."""
    # given
    version = aws.upload("clean.csv", "customer_id,name\n1,a\n2,b\n")
    earlier = rejects_report_key("clean.csv", version)
    aws.s3.put_object(Bucket=REJECTS_BUCKET, Key=earlier, Body=b"customer_id,name,rejected_line,rejected_reason\n")
    state = run_tasks(aws, "clean.csv", version, lambda_context)
    stdout.readouterr()

    def refused(**_: object) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "DeleteObject")

    monkeypatch.setattr(clients.s3_client(), "delete_object", refused)
    # when
    summary = finish(state, lambda_context)
    # then
    assert (summary["status"], summary["rows_written"]) == ("ingested", 2)
    assert earlier in aws.reports()
    out = stdout.readouterr().out
    (logged,) = [line for line in json_logs(out) if line["level"] == "ERROR"]
    assert logged["rejects_report"] == f"s3://{REJECTS_BUCKET}/{earlier}"
    assert (emf_metrics(out)["FilesProcessed"], "FilesFailed" in emf_metrics(out)) == ([1.0], False)
