"""`-c write_mode=changed` (and `consistent_reads`) from CDK context to the template: the writing functions are told
the mode, and may read items back (BatchGetItem) on the table besides merge's UpdateItem; no other mode may."""

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.constants import (
    ENV_CONSISTENT_READS,
    ENV_WRITE_MODE,
    HANDLER_FINISH,
    HANDLER_INGEST_PARTITION,
    HANDLER_PARTITION,
    HANDLER_TRIGGER,
)
from tests.infra.logical_ids import TABLE_ID
from tests.infra.synth import synthesize
from tests.infra.test_large_files import task_role_statements
from tests.infra.test_schema_context import environment_of

WRITING_HANDLERS = [HANDLER_TRIGGER, HANDLER_INGEST_PARTITION]
TABLE_ARN = {"Fn::GetAtt": [TABLE_ID, "Arn"]}


@pytest.fixture(scope="session")
def changed_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synthesize(tmp_path_factory.mktemp("cdk.out.changed"), write_mode="changed").template


@pytest.fixture(scope="session")
def consistent_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.changed-consistent"), write_mode="changed", consistent_reads="true"
    ).template


def table_statements(template: Template, handler: str) -> list[dict[str, Any]]:
    _, statements = task_role_statements(template, handler)
    return [statement for statement in statements if statement["Resource"] == TABLE_ARN]


@pytest.mark.parametrize("handler", WRITING_HANDLERS)
def test_changed_mode_may_read_items_back_and_update_them_only(changed_template: Template, handler: str) -> None:
    """BatchGetItem and merge's UpdateItem on the table, exactly; the mode is in the function's environment, and
    the reads are eventually consistent unless asked (no CONSISTENT_READS)."""
    assert table_statements(changed_template, handler) == [
        {"Effect": "Allow", "Action": ["dynamodb:BatchGetItem", "dynamodb:UpdateItem"], "Resource": TABLE_ARN}
    ]
    environment_of(
        changed_template, handler, Match.object_like({ENV_WRITE_MODE: "changed", ENV_CONSISTENT_READS: Match.absent()})
    )


@pytest.mark.parametrize("handler", WRITING_HANDLERS)
@pytest.mark.parametrize("template_fixture", ["template", "custom_template"], ids=["merge", "replace"])
def test_no_other_mode_may_read_items(request: pytest.FixtureRequest, template_fixture: str, handler: str) -> None:
    """merge and replace never read the table: no BatchGetItem in their policies."""
    template: Template = request.getfixturevalue(template_fixture)
    actions = [statement["Action"] for statement in table_statements(template, handler)]
    assert actions and "dynamodb:BatchGetItem" not in str(actions)


@pytest.mark.parametrize("handler", WRITING_HANDLERS)
def test_consistent_reads_is_told_to_the_writing_functions(consistent_template: Template, handler: str) -> None:
    environment_of(consistent_template, handler, Match.object_like({ENV_CONSISTENT_READS: "true"}))


@pytest.mark.parametrize("handler", [HANDLER_PARTITION, HANDLER_FINISH])
def test_functions_that_do_not_write_are_not_told_how_to_read_back(consistent_template: Template, handler: str) -> None:
    environment_of(consistent_template, handler, Match.object_like({ENV_CONSISTENT_READS: Match.absent()}))


@pytest.mark.parametrize("consistent", [True, False])
def test_the_environment_reads_back_as_the_setting(monkeypatch: pytest.MonkeyPatch, consistent: bool) -> None:
    """What the stack writes for write_mode and consistent_reads, the functions read back as the same settings."""
    monkeypatch.delenv(ENV_CONSISTENT_READS, raising=False)
    for name, value in EngineConfig(write_mode="changed", consistent_reads=consistent).to_env("writing").items():
        monkeypatch.setenv(name, value)
    config = EngineConfig.from_env()
    assert (config.write_mode, config.consistent_reads) == ("changed", consistent)


def test_a_consistent_reads_variable_that_is_not_true_or_false_fails_the_invocation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_CONSISTENT_READS, "yes")
    with pytest.raises(RuntimeError, match="CONSISTENT_READS must be true or false, not 'yes'"):
        EngineConfig.from_env()
