"""Each upload's outcome on the one-invocation path, where people look (S3, EventBridge and Lambda in moto): the
event a rule on the default bus catches, and the tags on the uploaded object version, after a good, a partly
rejected and a failed file; neither a refused event nor refused tags change the file's result; tagging starts no
second ingestion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from csv_ingest.local.lambdas import lambda_in_process
from csv_ingest.local.outcomes import catch_outcome_events, caught_outcome_events, object_tags
from csv_ingest_engine import IngestError, outcome_publishing
from csv_ingest_engine.constants import HANDLER_TRIGGER, OUTCOME_COUNTS
from csv_ingest_engine.objects import rejects_report_key
from csv_ingest_engine.outcome_publishing import EVENT_ATTEMPTS, EVENT_PAUSE_S
from handler import handler
from tests.support import BUCKET, KEY_COLUMN, REJECTS_BUCKET, Aws, DemoContext, emf_metrics, json_logs


class Outcomes:
    """What a subscriber and a person see of the account's uploads: the caught events, and an object's tags."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self.sqs = boto3.client("sqs")
        self.queue_url = catch_outcome_events(boto3.client("events"), self.sqs)

    def events(self) -> list[dict[str, Any]]:
        return caught_outcome_events(self.sqs, self.queue_url)

    def tags(self, key: str, version: str | None) -> dict[str, str]:
        return object_tags(self.aws.s3, BUCKET, key, version)


@pytest.fixture
def outcomes(aws: Aws) -> Outcomes:
    return Outcomes(aws)


def counts(detail: dict[str, Any]) -> dict[str, int]:
    return {name: detail[name] for name in OUTCOME_COUNTS}


def test_a_good_file_is_announced_loaded_and_tagged_on_its_version(aws: Aws, outcomes: Outcomes) -> None:
    """sample-good.csv: one "CSV file loaded" event from csv-ingest naming the object version, its counts, the path
    and how long it took; the version's tags say the same."""
    # given
    key, version = aws.upload_sample("sample-good.csv")
    # when
    handler(aws.event(key, version), DemoContext())
    # then
    (event,) = outcomes.events()
    assert (event["source"], event["detail-type"]) == ("csv-ingest", "CSV file loaded")
    detail = event["detail"]
    seconds = detail.pop("duration_seconds")
    assert isinstance(seconds, float) and seconds >= 0
    assert detail == {
        "bucket": BUCKET,
        "key": key,
        "version_id": version,
        "status": "loaded",
        "rows_written": 5,
        "rows_rejected": 0,
        "rows_superseded": 0,
        "rows_failed": 0,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "rejects_report": None,
        "path": "one-invocation",
        "execution_name": None,
        "error": None,
    }
    tags = outcomes.tags(key, version)
    assert tags.pop("csv-ingest:time").endswith("Z")
    assert tags == {
        "csv-ingest:status": "loaded",
        "csv-ingest:rows": "written=5 rejected=0 superseded=0 failed=0 unchanged=0 deleted=0",
    }


def test_a_partly_rejected_file_names_its_report_in_the_event_and_its_bucket_in_the_tags(
    aws: Aws, outcomes: Outcomes
) -> None:
    """edge-rejected-rows.csv: "CSV file loaded with rejected rows", the counts of the handler's summary and the
    report's URI; the tags name the rejects bucket, where the report is under the upload's key and version."""
    key, version = aws.upload_sample("edge-rejected-rows.csv")
    (entry,) = handler(aws.event(key, version), DemoContext())["files"]
    (event,) = outcomes.events()
    detail = event["detail"]
    report = f"s3://{REJECTS_BUCKET}/{rejects_report_key(key, version)}"
    assert event["detail-type"] == "CSV file loaded with rejected rows"
    assert detail["status"] == "loaded-with-rejected-rows"
    assert counts(detail) == {name: entry.get(name, 0) for name in OUTCOME_COUNTS}
    assert detail["rows_rejected"] == 3 and detail["rejects_report"] == report == entry["rejects_report"]
    tags = outcomes.tags(key, version)
    assert tags["csv-ingest:status"] == "loaded-with-rejected-rows"
    written = entry["rows_written"]
    assert tags["csv-ingest:rows"] == f"written={written} rejected=3 superseded=0 failed=0 unchanged=0 deleted=0"
    assert tags["csv-ingest:rejects-bucket"] == REJECTS_BUCKET
    assert rejects_report_key(key, version) in aws.reports()


def test_a_failed_file_is_announced_with_its_message_and_tagged_failed(aws: Aws, outcomes: Outcomes) -> None:
    """sample-bad.csv (no customer_id column): "CSV file failed" with the message the invocation fails with,
    nothing written; the tags say failed."""
    key, version = aws.upload_sample("sample-bad.csv")
    with pytest.raises(IngestError) as raised:
        handler(aws.event(key, version), DemoContext())
    (event,) = outcomes.events()
    detail = event["detail"]
    assert event["detail-type"] == "CSV file failed"
    assert detail["status"] == "failed" and detail["error"] == str(raised.value)
    assert f"no '{KEY_COLUMN}' column" in detail["error"]
    assert counts(detail) == dict.fromkeys(OUTCOME_COUNTS, 0)
    assert (detail["path"], detail["rejects_report"]) == ("one-invocation", None)
    tags = outcomes.tags(key, version)
    assert tags["csv-ingest:status"] == "failed"
    assert tags["csv-ingest:rows"] == "written=0 rejected=0 superseded=0 failed=0 unchanged=0 deleted=0"


def test_a_file_that_fails_after_rejecting_rows_names_their_report(
    aws: Aws, outcomes: Outcomes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows rejected before the file failed (the table is gone, so every write fails): the failed event names their
    report, which is in the rejects bucket, and the tags name its bucket."""
    key = "gone-table.csv"
    version = aws.upload(key, "customer_id,name\n,no key\n1,a\n")
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    with pytest.raises(IngestError):
        handler(aws.event(key, version), DemoContext())
    (event,) = outcomes.events()
    report = f"s3://{REJECTS_BUCKET}/{rejects_report_key(key, version)}"
    assert (event["detail"]["status"], event["detail"]["rows_rejected"]) == ("failed", 1)
    assert event["detail"]["rejects_report"] == report
    assert rejects_report_key(key, version) in aws.reports()
    assert outcomes.tags(key, version)["csv-ingest:rejects-bucket"] == REJECTS_BUCKET


def test_the_users_own_tags_are_kept_and_an_earlier_outcome_replaced(aws: Aws, outcomes: Outcomes) -> None:
    """An object uploaded with tags of its own keeps them; ingested again after a failure, its outcome tags say the
    new outcome, and the earlier report's bucket tag is gone."""
    key = "tagged.csv"
    version = aws.s3.put_object(
        Bucket=BUCKET, Key=key, Body=b"customer_id,name\n1,a\n", Tagging="owner=finance&project=crm"
    )["VersionId"]
    aws.s3.put_object_tagging(
        Bucket=BUCKET,
        Key=key,
        VersionId=version,
        Tagging={
            "TagSet": [
                {"Key": "owner", "Value": "finance"},
                {"Key": "project", "Value": "crm"},
                {"Key": "csv-ingest:status", "Value": "failed"},
                {"Key": "csv-ingest:rejects-bucket", "Value": "old-rejects"},
            ]
        },
    )
    handler(aws.event(key, version), DemoContext())
    tags = outcomes.tags(key, version)
    assert (tags["owner"], tags["project"], tags["csv-ingest:status"]) == ("finance", "crm", "loaded")
    assert "csv-ingest:rejects-bucket" not in tags


def test_the_tags_go_on_the_version_the_event_names(aws: Aws, outcomes: Outcomes) -> None:
    """Two versions of one key: the event of the first tags the first, and the newer version has no outcome."""
    first = aws.upload("customers.csv", "customer_id,name\n1,a\n")
    newer = aws.upload("customers.csv", "customer_id,name\n1,b\n")
    handler(aws.event("customers.csv", first), DemoContext())
    assert outcomes.tags("customers.csv", first)["csv-ingest:status"] == "loaded"
    assert outcomes.tags("customers.csv", newer) == {}
    assert outcomes.events()[0]["detail"]["version_id"] == first


def test_a_bucket_without_versioning_tags_the_object(aws: Aws, outcomes: Outcomes) -> None:
    """An event without a version id (a bucket without versioning) tags the object as it is."""
    aws.s3.create_bucket(Bucket="unversioned")
    aws.s3.put_object(Bucket="unversioned", Key="c.csv", Body=b"customer_id\n1\n")
    event = aws.event("c.csv", None)
    event["Records"][0]["s3"]["bucket"]["name"] = "unversioned"
    handler(event, DemoContext())
    assert object_tags(aws.s3, "unversioned", "c.csv", None)["csv-ingest:status"] == "loaded"
    assert outcomes.events()[0]["detail"]["version_id"] is None


class RefusingEvents:
    """EventBridge answering every PutEvents with the entry refused, as it does when throttled."""

    def __init__(self) -> None:
        self.calls = 0

    def put_events(self, *, Entries: Any) -> dict[str, Any]:
        self.calls += 1
        return {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}],
        }


def test_a_refused_event_does_not_fail_a_loaded_file(
    aws: Aws, stdout: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PutEvents refuses the entry every time: it is sent EVENT_ATTEMPTS times, pausing 0.2 s then 0.4 s, then the
    log says so and OutcomeEventsNotSent counts it; the file is loaded, its rows written and its tags in place."""
    refusing = RefusingEvents()
    pauses: list[float] = []
    monkeypatch.setattr(outcome_publishing, "events_client", lambda: refusing)
    monkeypatch.setattr(outcome_publishing, "time", SimpleNamespace(sleep=pauses.append))
    key, version = aws.upload_sample("sample-good.csv")
    (entry,) = handler(aws.event(key, version), DemoContext())["files"]
    assert (entry["status"], entry["rows_written"]) == ("ingested", 5)
    assert refusing.calls == EVENT_ATTEMPTS and pauses == [EVENT_PAUSE_S, 2 * EVENT_PAUSE_S]
    out = stdout.readouterr().out
    (logged,) = [line for line in json_logs(out) if line["message"].startswith("the outcome event could not be sent")]
    assert logged["level"] == "ERROR" and logged["error"] == "ThrottlingException: Rate exceeded"
    assert emf_metrics(out)["OutcomeEventsNotSent"] == [1.0]
    assert object_tags(aws.s3, BUCKET, key, version)["csv-ingest:status"] == "loaded"


class RefusedTagging:
    """The function's S3 client, but refusing to tag (a role without s3:PutObjectVersionTagging)."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def put_object_tagging(self, **request: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObjectTagging")


def test_refused_tags_do_not_fail_a_loaded_file_and_the_event_still_goes(
    aws: Aws, outcomes: Outcomes, stdout: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 refuses the tags: the log says which permission to check, OutcomeTagsNotWritten counts it, the event is
    sent and the file is loaded."""
    monkeypatch.setattr(outcome_publishing, "s3_client", lambda: RefusedTagging(boto3.client("s3")))
    key, version = aws.upload_sample("sample-good.csv")
    (entry,) = handler(aws.event(key, version), DemoContext())["files"]
    assert entry["status"] == "ingested"
    assert [event["detail"]["status"] for event in outcomes.events()] == ["loaded"]
    out = stdout.readouterr().out
    (logged,) = [line for line in json_logs(out) if line["message"].startswith("the outcome could not be tagged")]
    assert logged["level"] == "ERROR" and "AccessDenied" in logged["error"]
    assert emf_metrics(out)["OutcomeTagsNotWritten"] == [1.0]
    assert object_tags(aws.s3, BUCKET, key, version) == {}


@pytest.fixture
def trigger_on_uploads(aws: Aws) -> Iterator[Any]:
    """The trigger as a Lambda function in moto, run in this process, with the stack's environment; yields a
    function that subscribes it to the upload bucket's `events` as the stack's notification does (suffix .csv)."""
    functions = boto3.client("lambda")
    role = boto3.client("iam").create_role(
        RoleName="trigger",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    arn = functions.create_function(
        FunctionName="csv-ingest-trigger",
        Runtime="python3.14",
        Role=role,
        Handler=f"handler.{HANDLER_TRIGGER}",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        Timeout=900,
        Environment={
            "Variables": {"TABLE_NAME": aws.table, "KEY_COLUMN": KEY_COLUMN, "REJECTS_BUCKET": REJECTS_BUCKET}
        },
    )["FunctionArn"]

    def subscribe(events: list[str]) -> None:
        aws.s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {
                        "LambdaFunctionArn": arn,
                        "Events": events,
                        "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}},
                    }
                ]
            },
        )

    with lambda_in_process() as lambdas:
        yield SimpleNamespace(subscribe=subscribe, lambdas=lambdas)


def test_tagging_the_outcome_starts_no_second_ingestion(
    aws: Aws, outcomes: Outcomes, trigger_on_uploads: Any, stdout: pytest.CaptureFixture[str]
) -> None:
    """Subscribed as the stack subscribes it (s3:ObjectCreated:*), the trigger runs once per upload, though it tags
    the object: S3 reports a tagging as s3:ObjectTagging:Put, which the notification does not include.

    moto notifies before it applies the upload's own tag set (none here) over the outcome's, so these two tests count
    invocations; the tags themselves are checked above, where the event is handed over after the upload."""
    trigger_on_uploads.subscribe(["s3:ObjectCreated:*"])
    aws.upload("customers.csv", "customer_id,name\n1,a\n")
    calls = trigger_on_uploads.lambdas.calls
    assert [call.entry_point for call in calls] == [HANDLER_TRIGGER]
    assert calls[0].returned["files"][0]["status"] == "ingested"
    assert [event["detail"]["status"] for event in outcomes.events()] == ["loaded"]
    assert not [line for line in json_logs(stdout.readouterr().out) if line["level"] == "ERROR"]


def test_a_notification_of_tagging_would_invoke_the_trigger_again_which_skips_it(
    aws: Aws, outcomes: Outcomes, trigger_on_uploads: Any
) -> None:
    """The control for the test above: subscribed to tagging events too, the trigger is invoked again by the
    outcome's tagging (and by the upload's own, in moto), and skips those events (it ingests ObjectCreated events
    only): still one ingestion, one outcome event."""
    trigger_on_uploads.subscribe(["s3:ObjectCreated:*", "s3:ObjectTagging:*"])
    aws.upload("customers.csv", "customer_id,name\n1,a\n")
    entries = [call.returned["files"][0] for call in trigger_on_uploads.lambdas.calls]
    ingested = [entry for entry in entries if entry["status"] == "ingested"]
    skipped = [entry for entry in entries if entry["status"] == "skipped"]
    assert len(ingested) == 1 and len(skipped) == len(entries) - 1 >= 1
    assert all("ObjectTagging:Put" in entry["reason"] for entry in skipped)
    assert len(outcomes.events()) == 1


# A recognisable e-mail address and ID number, and the parts of them that must appear nowhere (a message quoting a
# cell cuts it to 24 characters), as in test_no_personal_data.py.
EMAIL = "jane.doe.4711@example.com"
ID_NUMBER = "078-05-1120"
PLANTED = ("jane.doe.4711", "05-1120")


def test_no_cell_of_a_file_reaches_its_outcome(aws: Aws, outcomes: Outcomes, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose first row is a person's data fails, and one whose typed cells are not numbers has rows rejected:
    neither outcome's event nor tags quote a cell (the message describes the first row; the reasons stay in the
    report)."""
    monkeypatch.setenv("COLUMN_TYPES", '{"ssn": "N"}')
    headerless = aws.upload("headerless.csv", f"C-1001,Jane Doe,{EMAIL},{ID_NUMBER}\n")
    typed = aws.upload("typed.csv", f"customer_id,name,ssn\nC-1001,{EMAIL},{ID_NUMBER}\n")
    with pytest.raises(IngestError):
        handler(aws.event("headerless.csv", headerless), DemoContext())
    handler(aws.event("typed.csv", typed), DemoContext())
    events = outcomes.events()
    assert [event["detail"]["status"] for event in events] == ["failed", "loaded-with-rejected-rows"]
    assert "the first row looks like data, not a header" in events[0]["detail"]["error"]
    shown = json.dumps([events, outcomes.tags("headerless.csv", headerless), outcomes.tags("typed.csv", typed)])
    assert [part for part in PLANTED if part in shown] == []
    assert ID_NUMBER in aws.reports()[rejects_report_key("typed.csv", typed)]
