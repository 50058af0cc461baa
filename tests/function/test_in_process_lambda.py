"""The seam the large-file tests and the demo stand on: moto runs a Lambda function through
`LambdaFunction._invoke_lambda(self, event)`, which `csv_ingest.local.lambdas.lambda_in_process` replaces; and the entry
points the stack names exist in lambda/handler.py."""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda.models import LambdaFunction

import handler as entry_module
from csv_ingest.local.lambdas import check_moto_invoke, entry_points, lambda_in_process
from csv_ingest_engine import config as settings
from csv_ingest_engine.constants import HANDLER_FINISH, HANDLER_INGEST_PARTITION, HANDLER_PARTITION, HANDLER_TRIGGER


@pytest.fixture
def functions() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("lambda", region_name="us-east-1")
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="r", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
        )["Role"]["Arn"]
        client.create_function(
            FunctionName="echo",
            Runtime="python3.14",
            Role=role,
            Handler=f"handler.{HANDLER_PARTITION}",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},  # an empty zip archive
            Environment={"Variables": {"WORK_BUCKET": "from-the-function"}},
        )
        yield client


def test_moto_still_runs_functions_through_invoke_lambda_self_event() -> None:
    """Fails loudly if a moto upgrade renames `LambdaFunction._invoke_lambda` or changes its arguments: the demo and
    every state machine test would otherwise reach for Docker, or silently not run the engine."""
    assert list(inspect.signature(LambdaFunction._invoke_lambda).parameters) == ["self", "event"]
    check_moto_invoke(LambdaFunction)  # the same check, made every time the patch goes on

    class Renamed:
        def _invoke_lambda(self, payload: str | None = None) -> tuple[str, bool, str]:
            raise AssertionError

    with pytest.raises(RuntimeError, match=r"no longer has LambdaFunction._invoke_lambda\(self, event\)"):
        check_moto_invoke(Renamed)


def test_an_invocation_runs_the_named_entry_point_in_the_functions_environment(functions: Any) -> None:
    """`lambda.invoke` reaches the entry point the function's handler names, whose settings read the function's own
    environment (and none of the other functions' variables), and answers with its return value as JSON."""

    def partition(event: dict[str, Any], context: Any) -> dict[str, Any]:
        variables = settings.environment()
        return {"event": event, "work": variables.get("WORK_BUCKET"), "table": variables.get("TABLE_NAME")}

    with pytest.MonkeyPatch.context() as env, lambda_in_process({HANDLER_PARTITION: partition}) as lambdas:
        env.setenv("TABLE_NAME", "a-variable-of-another-function")
        response = functions.invoke(FunctionName="echo", Payload=json.dumps({"n": 1}))
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"event": {"n": 1}, "work": "from-the-function", "table": None}
    assert [call.entry_point for call in lambdas.calls] == [HANDLER_PARTITION]


def test_an_invocation_leaves_the_process_environment_alone(functions: Any) -> None:
    """The function's variables are lent to the invoking thread, not written to os.environ: moto's threads copy
    os.environ whenever they make a client, and one rewritten under them lost variables (a KeyError) or a task's
    work (a partition that "did not report")."""
    seen: list[dict[str, str]] = []

    def partition(event: dict[str, Any], context: Any) -> None:
        seen.append(dict(os.environ))

    with pytest.MonkeyPatch.context() as env, lambda_in_process({HANDLER_PARTITION: partition}):
        env.setenv("TABLE_NAME", "a-variable-of-another-function")
        before = dict(os.environ)
        functions.invoke(FunctionName="echo", Payload="{}")
        assert seen == [before]
        assert dict(os.environ) == before


def test_an_exception_is_answered_as_lambda_reports_a_function_error(functions: Any) -> None:
    """An entry point that raises gives Lambda's error payload (type and message), which Step Functions reads."""

    def partition(event: dict[str, Any], context: Any) -> None:
        raise ValueError("no such partition")

    with lambda_in_process({HANDLER_PARTITION: partition}):
        response = functions.invoke(FunctionName="echo", Payload="{}")
    assert response["FunctionError"] == "Handled"
    payload = json.loads(response["Payload"].read())
    assert (payload["errorType"], payload["errorMessage"]) == ("ValueError", "no such partition")


def test_lambda_handler_py_exports_every_entry_point_the_stack_names() -> None:
    """handler.handler, .partition, .ingest_partition and .finish are the engine's own, as the demo resolves them."""
    names = (HANDLER_TRIGGER, HANDLER_PARTITION, HANDLER_INGEST_PARTITION, HANDLER_FINISH)
    assert set(entry_module.__all__) == set(names)
    assert {name: getattr(entry_module, name) for name in names} == entry_points()
