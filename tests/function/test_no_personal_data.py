"""No cell of a file leaves the table and the rejects report on the one-invocation path: not in the log (but the
keys of the first rejected rows), the exception, or the failed-events queue's message (issue 19, item 3). The
state machine's side is in state_machine/test_large_file_logs_and_privacy.py."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from csv_ingest.local.lambdas import InProcessLambda, entry_points
from csv_ingest_engine import IngestError
from csv_ingest_engine.constants import ColumnType, KeyType
from csv_ingest_engine.objects import rejects_report_key
from csv_ingest_engine.rules import Rejection
from csv_ingest_engine.values import ValueProblem, to_attribute, to_key
from handler import handler
from tests.support import Aws, DemoContext
from tests.support.writing import row, table_writer

# A recognisable e-mail address and ID number, and the parts of them that must appear nowhere (a message quoting a
# cell cuts it to 24 characters).
EMAIL = "jane.doe.4711@example.com"
ID_NUMBER = "078-05-1120"
PLANTED = ("jane.doe.4711", "05-1120")
# A file without a header row: its first row is data.
HEADERLESS = f"C-1001,Jane Doe,{EMAIL},{ID_NUMBER}\nC-1002,John Roe,john@example.com,078-05-1121\n"
# Column types that reject rows for their values, with messages that quote them in the report.
COLUMN_TYPES = '{"ssn": "N", "subscribed": "BOOL"}'
TYPED = (
    "customer_id,name,ssn,subscribed\n"
    f"C-1001,{EMAIL},{ID_NUMBER},true\n"  # the ID number is not a number
    f"C-1002,Jane,12,{EMAIL}\n"  # the e-mail address is not a boolean
    f"C-1003,{EMAIL},1201,false\n"  # goes in, e-mail address and all
)


def planted_in(text: str) -> list[str]:
    return [part for part in PLANTED if part in text]


def lambdas_answer(aws: Aws, event: dict[str, Any]) -> dict[str, Any]:
    """What Lambda answers an invocation of the trigger that fails, which its on-failure destination puts in the
    failed-events queue's message as `responsePayload` (beside the event, `requestPayload`)."""
    function = SimpleNamespace(
        handler="handler.handler",
        function_name="csv-ingest",
        timeout=900,
        environment_vars={name: os.environ[name] for name in ("TABLE_NAME", "REJECTS_BUCKET", "KEY_COLUMN")},
    )
    payload, errored, _ = InProcessLambda(entry_points()).invoke(function, json.dumps(event))
    assert errored
    answer: dict[str, Any] = json.loads(payload)
    return answer


def test_a_file_without_a_header_fails_without_quoting_its_first_row(
    aws: Aws, stdout: pytest.CaptureFixture[str]
) -> None:
    """The first row of a header-less file is described, not quoted: in the error, the log, and the message the
    failed-events queue would get."""
    # given
    version = aws.upload("headerless.csv", HEADERLESS)
    event = aws.event("headerless.csv", version)
    # when
    with pytest.raises(IngestError) as failure:
        handler(event, DemoContext())
    answer = lambdas_answer(aws, event)
    # then
    assert "the first row looks like data, not a header (4 cells: an ID, text, an e-mail address and an ID)" in str(
        failure.value
    )
    assert answer["errorMessage"] == str(failure.value)
    assert planted_in(str(failure.value)) == []
    assert planted_in(json.dumps(answer)) == []
    assert planted_in(stdout.readouterr().out) == []
    assert aws.items() == {} and aws.reports() == {}


def test_a_file_without_a_header_whose_first_row_is_words_fails_without_quoting_it(
    aws: Aws, stdout: pytest.CaptureFixture[str]
) -> None:
    """A first row of a person's name, city and job looks like column names as much as like data: without the key
    column to show it is a header, it is counted, not quoted, in the error, the log and the queue's message."""
    # given
    planted = ("Jane Doe", "Springfield", "Nurse")
    version = aws.upload("words.csv", ",".join(planted) + "\nJohn Roe,Shelbyville,Teacher\n")
    event = aws.event("words.csv", version)
    # when
    with pytest.raises(IngestError) as failure:
        handler(event, DemoContext())
    answer = lambdas_answer(aws, event)
    # then
    assert "the header has no 'customer_id' column among its 3 columns (not quoted here" in str(failure.value)
    for text in (str(failure.value), json.dumps(answer), stdout.readouterr().out):
        assert not [word for word in planted if word in text]
    assert aws.items() == {}


def test_rows_rejected_for_their_values_keep_them_in_the_report_and_out_of_the_log(
    aws: Aws, stdout: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows rejected for a cell that is not a number or a boolean: the report quotes the cell, the log says what is
    wrong without it and names the row's key; the values are in the table and the report only."""
    # given
    monkeypatch.setenv("COLUMN_TYPES", COLUMN_TYPES)
    version = aws.upload("typed.csv", TYPED)
    # when
    (entry,) = handler(aws.event("typed.csv", version), DemoContext())["files"]
    # then
    out = stdout.readouterr().out
    logged = [json.loads(line) for line in out.splitlines() if '"row rejected"' in line]
    assert [(log["line"], log["key"], log["reason"]) for log in logged] == [
        (2, "C-1001", "column 'ssn' (N): the value is not a number"),
        (3, "C-1002", "column 'subscribed' (BOOL): the value is not a boolean (use true or false)"),
    ]
    assert planted_in(out) == []
    assert planted_in(json.dumps(entry)) == []
    report = aws.reports()[rejects_report_key("typed.csv", version)]
    assert "'078-05-1120' is not a number" in report and "'jane.doe.4711@exampl...' is not a boolean" in report
    item = aws.dynamodb.get_item(TableName=aws.table, Key={"customer_id": {"S": "C-1003"}})["Item"]
    assert item["name"] == {"S": EMAIL}


@pytest.mark.parametrize(
    ("text", "kind", "quoted"),
    [
        (ID_NUMBER, "N", "'078-05-1120' is not a number"),
        ("12345678904711" * 3, "N", "'12345678904711123456...' has 42 significant digits"),
        (EMAIL, "BOOL", "'jane.doe.4711@exampl...' is not a boolean"),
        (f'{{"{EMAIL}": 1e999}}', "JSON", f"JSON number '1e999' at $.{EMAIL} is too large"),
        (f'{{"{EMAIL}": "\\ud800"}}', "JSON", f"a JSON string at $.{EMAIL} has half of a surrogate pair"),
    ],
)
def test_a_values_problem_has_words_without_the_value(text: str, kind: ColumnType, quoted: str) -> None:
    """Every problem a cell can have is worded twice: quoting the cell (for the report) and without it (the log)."""
    with pytest.raises(ValueProblem) as problem:
        to_attribute(text, kind)
    assert str(problem.value).startswith(quoted)
    assert "4711" not in problem.value.without_value and planted_in(problem.value.without_value) == []


@pytest.mark.parametrize(("text", "kind"), [(ID_NUMBER, "N"), (EMAIL, "B")])
def test_a_key_values_problem_has_words_without_the_value(text: str, kind: KeyType) -> None:
    """A key cell that is not of the key's type: the log's words do not quote it either."""
    with pytest.raises(ValueProblem) as problem:
        to_key(text, kind)
    assert text[:13] in str(problem.value)
    assert planted_in(problem.value.without_value) == []


def test_dynamodbs_words_on_a_refused_row_stay_in_the_report() -> None:
    """DynamoDB may quote the row's value when it refuses it: the reason keeps its words, the log's does not."""

    class QuotesTheValue:
        def update_item(self, **params: Any) -> None:
            error: Any = {"Error": {"Code": "ValidationException", "Message": f"cannot convert: {ID_NUMBER}"}}
            raise ClientError(error, "UpdateItem")

    rejections: list[Rejection] = []
    session = table_writer(QuotesTheValue()).session(rejections.append)
    session.submit(row(2, "C-1001", ssn=ID_NUMBER))
    session.close()
    (refused,) = rejections
    assert refused.reason == f"DynamoDB refused the row: cannot convert: {ID_NUMBER}"
    assert refused.loggable_reason.startswith("DynamoDB refused the row (")
    assert planted_in(refused.loggable_reason) == []
