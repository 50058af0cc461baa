"""Upload ordering from CDK context to the template: on by default with nothing added to the functions' environment,
`ordering=off` and `order_attribute` told to every function that reads rows, and bad values refused at synth."""

import re
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from app import props_from_context
from csv_ingest.infra import PipelineProps
from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.constants import (
    DEFAULT_ORDER_ATTRIBUTE,
    ENV_ORDER_ATTRIBUTE,
    ENV_ORDERING,
    HANDLER_INGEST_PARTITION,
    HANDLER_TRIGGER,
)
from tests.infra.logical_ids import TABLE_ID
from tests.infra.synth import synthesize
from tests.infra.test_large_files import task_role_statements
from tests.infra.test_schema_context import FILE_READING_HANDLERS, environment_of


@pytest.fixture(scope="session")
def unordered_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synthesize(tmp_path_factory.mktemp("cdk.out.unordered"), ordering="off").template


@pytest.fixture(scope="session")
def unordered_replace_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.unordered-replace"), ordering="off", write_mode="replace"
    ).template


@pytest.fixture(scope="session")
def renamed_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synthesize(tmp_path_factory.mktemp("cdk.out.renamed-order"), order_attribute="loaded_at").template


@pytest.mark.parametrize("handler", FILE_READING_HANDLERS)
def test_ordering_is_on_by_default_and_adds_no_variables(template: Template, handler: str) -> None:
    """The default (ordering on, `_csv_ingest_order`) is the engine's own: no variable says it."""
    environment_of(
        template, handler, Match.object_like({ENV_ORDERING: Match.absent(), ENV_ORDER_ATTRIBUTE: Match.absent()})
    )


@pytest.mark.parametrize("handler", FILE_READING_HANDLERS)
def test_ordering_off_is_told_to_every_function(unordered_template: Template, handler: str) -> None:
    """`-c ordering=off`: every function that reads rows writes (or sizes them) without the stamp."""
    environment_of(unordered_template, handler, Match.object_like({ENV_ORDERING: "off"}))


@pytest.mark.parametrize("handler", FILE_READING_HANDLERS)
def test_the_order_attribute_is_told_to_every_function(renamed_template: Template, handler: str) -> None:
    """`-c order_attribute=loaded_at`: the stamp goes in that attribute, on every path."""
    environment_of(renamed_template, handler, Match.object_like({ENV_ORDER_ATTRIBUTE: "loaded_at"}))


@pytest.mark.parametrize(
    ("template_fixture", "actions"),
    [
        ("unordered_template", ["dynamodb:PutItem", "dynamodb:UpdateItem"]),
        ("unordered_replace_template", ["dynamodb:BatchWriteItem", "dynamodb:PutItem"]),
    ],
    ids=["merge", "replace"],
)
@pytest.mark.parametrize("handler", [HANDLER_TRIGGER, HANDLER_INGEST_PARTITION])
def test_without_ordering_the_writers_may_make_their_unconditional_calls(
    request: pytest.FixtureRequest, template_fixture: str, actions: list[str], handler: str
) -> None:
    """ordering=off: merge puts a key-only row (PutItem) besides its updates; replace batches its puts
    (BatchWriteItem) and puts one by one the rows of a batch the table refused: exactly those, on the table."""
    template: Template = request.getfixturevalue(template_fixture)
    _, statements = task_role_statements(template, handler)
    table_statements = [s for s in statements if s["Resource"] == {"Fn::GetAtt": [TABLE_ID, "Arn"]}]
    assert table_statements == [{"Effect": "Allow", "Action": actions, "Resource": {"Fn::GetAtt": [TABLE_ID, "Arn"]}}]


@pytest.mark.parametrize(
    ("context", "order_attribute"),
    [
        ({}, DEFAULT_ORDER_ATTRIBUTE),
        ({"ordering": "off"}, None),
        ({"ordering": "on", "order_attribute": " loaded_at "}, "loaded_at"),
        ({"ordering": False}, None),
    ],
)
def test_the_context_becomes_the_engines_order_attribute(context: dict[str, Any], order_attribute: str | None) -> None:
    """on/off (or true/false in cdk.json) and a trimmed name become the one engine configuration."""
    assert props_from_context(context).engine.order_attribute == order_attribute


def test_the_environment_reads_back_as_the_ordering(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the stack writes for ordering, the functions read back as the same setting."""
    for written in (None, "loaded_at", DEFAULT_ORDER_ATTRIBUTE):
        variables = EngineConfig(order_attribute=written).to_env("reading")
        for name in (ENV_ORDERING, ENV_ORDER_ATTRIBUTE):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        assert EngineConfig.from_env().order_attribute == written


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"ordering": "sometimes"}, "context ordering must be on or off, got 'sometimes'"),
        ({"order_attribute": ""}, "context order_attribute must be a non-empty string"),
        ({"order_attribute": "x" * 256}, "context order_attribute: the order attribute's name may be at most 255"),
        ({"order_attribute": "customer_id"}, "order_attribute must not be a key column ('customer_id')"),
        (
            {"order_attribute": "order_date", "sort_key_column": "order_date"},
            "order_attribute must not be a key column ('order_date')",
        ),
        (
            {"column_types": '{"_csv_ingest_order": "N"}'},
            "column_types names '_csv_ingest_order', the order attribute",
        ),
    ],
)
def test_bad_ordering_context_fails_naming_the_key(context: dict[str, Any], message: str) -> None:
    """A value the functions could not use fails the synth with the context key and the fix."""
    with pytest.raises(ValueError, match=re.escape(message)):
        props_from_context(context)


def test_props_refuse_an_order_attribute_with_surrounding_spaces() -> None:
    """Construct props are checked as strictly as context."""
    with pytest.raises(ValueError, match="order_attribute must be a name without surrounding spaces"):
        PipelineProps(order_attribute=" x")
