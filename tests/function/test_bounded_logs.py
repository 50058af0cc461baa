"""A file's log is as long for a thousand rejected rows as for twenty: the first `logged_rejections` of them (line,
key and reason) by line, then one line with the count and the report (issue 19, item 1). The state machine's side
is in state_machine/test_large_file_logs_and_privacy.py."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.config import EngineConfig, function_environment
from csv_ingest_engine.constants import DEFAULT_LOGGED_REJECTIONS, ENV_LOGGED_REJECTIONS, HANDLER_TRIGGER
from csv_ingest_engine.rejection_log import LOGGED_KEY_CHARS, FirstRejections, LoggedRejection, first_of
from csv_ingest_engine.rules import Rejection
from handler import handler
from tests.support import REJECTS_BUCKET, Aws, DemoContext, json_logs


def rejected_rows_gz(rows: int) -> bytes:
    """Issue 19's file: a .csv.gz whose every row is rejected (its key cell is empty); 173,000 rows gzip to a few
    hundred bytes."""
    return gzip.compress(b"customer_id,name\n" + b",x\n" * rows, compresslevel=9)


def ingest(aws: Aws, key: str, body: bytes | str, stdout: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    """The summary entry of `body` uploaded as `key` and ingested, and what the function printed meanwhile."""
    stdout.readouterr()
    version = aws.upload(key, body)
    (entry,) = handler(aws.event(key, version), DemoContext())["files"]
    return entry, stdout.readouterr().out


def test_a_files_log_is_as_long_for_2000_rejected_rows_as_for_40(aws: Aws, stdout: pytest.CaptureFixture[str]) -> None:
    """40 and 2,000 rejected rows log as many lines, about as many bytes: 20 rows each, then the count."""
    _, few = ingest(aws, "few.csv.gz", rejected_rows_gz(40), stdout)
    _, many = ingest(aws, "many.csv.gz", rejected_rows_gz(2000), stdout)
    assert len(many.splitlines()) == len(few.splitlines())
    assert abs(len(many) - len(few)) < 200  # the counts' digits, the keys' lengths
    assert len(many) < 20_000


def test_the_first_rejected_rows_are_logged_by_line_then_the_count_and_the_report(
    aws: Aws, stdout: pytest.CaptureFixture[str]
) -> None:
    """Of 50 rejected rows, lines 2 to 21 are logged with their key and reason; one line then counts all 50 and names
    the report the summary names."""
    body = "customer_id,name\n" + "".join(f"k{i},x,extra\n" for i in range(50)) + "ok,fine\n"
    entry, out = ingest(aws, "rejects.csv", body, stdout)
    logs = json_logs(out)
    rejected = [log for log in logs if log["message"] == "row rejected"]
    assert [(log["line"], log["key"]) for log in rejected] == [(i + 2, f"k{i}") for i in range(20)]
    assert {log["reason"] for log in rejected} == {
        "the row has 3 fields but the header has 2 columns (an unquoted comma in a cell?)"
    }
    (counted,) = [log for log in logs if log["message"] == "rejected rows reported"]
    assert (counted["rows_rejected"], counted["rows_logged"]) == (50, 20)
    assert counted["rejects_report"] == entry["rejects_report"]
    assert entry["rejects_report"].startswith(f"s3://{REJECTS_BUCKET}/")


@pytest.mark.parametrize("logged", [0, 3])
def test_logged_rejections_sets_how_many_rows_are_logged(
    aws: Aws, stdout: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, logged: int
) -> None:
    """LOGGED_REJECTIONS=3 logs three rows, 0 none; the count line says how many of how many."""
    monkeypatch.setenv(ENV_LOGGED_REJECTIONS, str(logged))
    _, out = ingest(aws, "rejects.csv.gz", rejected_rows_gz(10), stdout)
    logs = json_logs(out)
    assert [log["line"] for log in logs if log["message"] == "row rejected"] == list(range(2, 2 + logged))
    (counted,) = [log for log in logs if log["message"] == "rejected rows reported"]
    assert (counted["rows_rejected"], counted["rows_logged"]) == (10, logged)


def test_without_a_rejects_bucket_the_count_line_says_so(
    aws: Aws, stdout: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No rejects bucket: the first rows are logged, then a line counting them with no report."""
    monkeypatch.delenv("REJECTS_BUCKET")
    _, out = ingest(aws, "rejects.csv.gz", rejected_rows_gz(30), stdout)
    logs = json_logs(out)
    assert len([log for log in logs if log["message"] == "row rejected"]) == DEFAULT_LOGGED_REJECTIONS
    (counted,) = [log for log in logs if log["message"] == "rejected rows not reported"]
    assert counted["rows_rejected"] == 30 and "rejects_report" not in counted


def test_a_report_that_cannot_be_written_says_how_many_rows_the_log_names(
    aws: Aws, stdout: pytest.CaptureFixture[str]
) -> None:
    """With the rejects bucket gone, the file fails saying the log names the first 20 of its 30 rejected rows,
    which it does."""
    aws.s3.delete_bucket(Bucket=REJECTS_BUCKET)
    version = aws.upload("rejects.csv.gz", rejected_rows_gz(30))
    stdout.readouterr()
    with pytest.raises(IngestError, match="this function's log names the first 20 rows"):
        handler(aws.event("rejects.csv.gz", version), DemoContext())
    logs = json_logs(stdout.readouterr().out)
    assert len([log for log in logs if log["message"] == "row rejected"]) == 20


def rejection(line: int, key: str | None = "k") -> Rejection:
    return Rejection(line, key, f"reason {line}", ["cell"])


def test_the_first_rejections_are_kept_by_line_whatever_order_they_come_in() -> None:
    """The writer's threads reject out of line order: the lowest lines are kept, and all are counted."""
    first = FirstRejections(3)
    for line in (50, 7, 90, 3, 12, 5, 60):
        first.add(rejection(line))
    assert [logged.line for logged in first.in_line_order()] == [3, 5, 7]
    assert (first.count, len(first)) == (7, 3)


def test_the_files_first_rejections_are_the_first_of_its_partitions_first() -> None:
    """Finish takes the lowest lines of every partition's first ones: the file's first ones."""
    partitions = [[LoggedRejection(line, "k", "r") for line in lines] for lines in ([4, 9, 30], [2, 40], [11])]
    assert [logged.line for logged in first_of(partitions, 4)] == [2, 4, 9, 11]


def test_a_logged_key_is_cut_short() -> None:
    """A row rejected for its 1 MB key logs the key's first LOGGED_KEY_CHARS characters only."""
    logged = LoggedRejection.of(rejection(2, "k" * 1_000_000))
    assert logged.key is not None and len(logged.key) == LOGGED_KEY_CHARS and logged.key.endswith("...")


@pytest.mark.parametrize("value", ["-1", "1001", "many"])
def test_a_logged_rejections_setting_out_of_range_fails_the_invocation_naming_it(value: str) -> None:
    """LOGGED_REJECTIONS must be a whole number from 0 to 1,000."""
    with (
        function_environment({ENV_LOGGED_REJECTIONS: value}),
        pytest.raises(RuntimeError, match="LOGGED_REJECTIONS must be a whole number of at least 0 and at most 1,000"),
    ):
        EngineConfig.from_env()


def test_logged_rejections_reaches_the_function_as_set_and_is_left_out_at_its_default() -> None:
    """The trigger is told a non-default setting and reads it back; at the default the variable is left out."""
    told = EngineConfig(logged_rejections=5).for_function(HANDLER_TRIGGER)
    assert told[ENV_LOGGED_REJECTIONS] == "5"
    with function_environment(told):
        assert EngineConfig.from_env().logged_rejections == 5
    assert ENV_LOGGED_REJECTIONS not in EngineConfig().for_function(HANDLER_TRIGGER)
