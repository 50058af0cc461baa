"""The delete-marker column from CDK context to the template: told to every function that reads rows, DeleteItem in
the writers' policies only with it, and a column that cannot be the marker refused at synth."""

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from app import props_from_context
from csv_ingest.infra import PipelineProps
from csv_ingest_engine.constants import (
    DEFAULT_ORDER_ATTRIBUTE,
    ENV_DELETE_COLUMN,
    HANDLER_FINISH,
    HANDLER_INGEST_PARTITION,
    HANDLER_TRIGGER,
)
from tests.infra.logical_ids import TABLE_ID
from tests.infra.synth import synthesize
from tests.infra.test_large_files import task_role_statements
from tests.infra.test_schema_context import FILE_READING_HANDLERS, environment_of

MARKER = "_deleted"
WRITERS = [HANDLER_TRIGGER, HANDLER_INGEST_PARTITION]
TABLE_ARN = {"Fn::GetAtt": [TABLE_ID, "Arn"]}


@pytest.fixture(scope="session")
def deleting_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synthesize(tmp_path_factory.mktemp("cdk.out.delete-column"), delete_column=MARKER).template


@pytest.fixture(scope="session")
def deleting_batched_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """replace without ordering (BatchWriteItem), with a delete-marker column."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.delete-column-batched"),
        delete_column=MARKER,
        write_mode="replace",
        ordering="off",
    ).template


def table_actions(template: Template, handler: str) -> list[str]:
    """The actions the function running `handler` may call on the table (one statement on the table itself)."""
    _, statements = task_role_statements(template, handler)
    (statement,) = [s for s in statements if s["Resource"] == TABLE_ARN]
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


@pytest.mark.parametrize("handler", FILE_READING_HANDLERS)
def test_the_marker_column_is_told_to_every_function_that_reads_rows(deleting_template: Template, handler: str) -> None:
    """`-c delete_column=_deleted`: the trigger and the flow's tasks all read the rows (or their header) with it."""
    environment_of(deleting_template, handler, Match.object_like({ENV_DELETE_COLUMN: MARKER}))


@pytest.mark.parametrize("handler", FILE_READING_HANDLERS)
def test_no_marker_column_is_told_by_default(template: Template, handler: str) -> None:
    environment_of(template, handler, Match.object_like({ENV_DELETE_COLUMN: Match.absent()}))


@pytest.mark.parametrize(
    ("template_fixture", "actions"),
    [
        ("deleting_template", ["dynamodb:DeleteItem", "dynamodb:UpdateItem"]),
        ("deleting_batched_template", ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem"]),
    ],
    ids=["merge", "replace-batched"],
)
@pytest.mark.parametrize("handler", WRITERS)
def test_with_a_marker_column_the_writers_may_delete_items_too(
    request: pytest.FixtureRequest, template_fixture: str, actions: list[str], handler: str
) -> None:
    """DeleteItem beside the mode's own writes, on the table only: a marked row is a DeleteItem in every mode."""
    assert table_actions(request.getfixturevalue(template_fixture), handler) == actions


def test_without_a_marker_column_no_policy_allows_delete_item(template: Template) -> None:
    """The default deployment never deletes an item: no policy of the stack names DeleteItem."""
    policies = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert "dynamodb:DeleteItem" not in policies


def test_finish_may_not_write_the_table_with_a_marker_column(deleting_template: Template) -> None:
    """Finish counts the deletes from the workers' results: it gets no table access for them."""
    _, statements = task_role_statements(deleting_template, HANDLER_FINISH)
    assert all(statement["Resource"] != TABLE_ARN for statement in statements)


@pytest.mark.parametrize(
    ("context", "marker"),
    [
        ({}, None),
        ({"delete_column": " _deleted "}, MARKER),
        ({"delete_column": DEFAULT_ORDER_ATTRIBUTE, "ordering": "off"}, DEFAULT_ORDER_ATTRIBUTE),
        ({"delete_column": "loaded_at", "order_attribute": "stamped_at"}, "loaded_at"),
    ],
)
def test_the_context_becomes_the_engines_marker_column(context: dict[str, Any], marker: str | None) -> None:
    """A trimmed name; with ordering off the order attribute's name is free."""
    assert props_from_context(context).engine.schema.delete_column == marker


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"delete_column": "  "}, "context delete_column must be a non-empty string, got '  '"),
        (
            {"delete_column": "customer_id"},
            "delete_column: the delete-marker column 'customer_id' is a key column: a row's key cells say which item "
            "it deletes, so the marker needs a column of its own; name another column",
        ),
        (
            {"sort_key_column": "order_date", "delete_column": "order_date"},
            "delete_column: the delete-marker column 'order_date' is a key column",
        ),
        (
            {"delete_column": DEFAULT_ORDER_ATTRIBUTE},
            f"delete_column: the delete-marker column '{DEFAULT_ORDER_ATTRIBUTE}' is the order attribute, where the "
            "pipeline keeps each item's upload order (no file may have that column); name another column, or give "
            "the order attribute another name",
        ),
        (
            {"delete_column": "loaded_at", "order_attribute": "loaded_at"},
            "delete_column: the delete-marker column 'loaded_at' is the order attribute",
        ),
        (
            {"delete_column": MARKER, "column_types": json.dumps({MARKER: "BOOL"})},
            f"delete_column: column '{MARKER}' is the delete-marker column, read as true, false or empty: remove it "
            "from the column types (it is never written, so it has no type)",
        ),
    ],
    ids=["blank", "key", "sort-key", "order-attribute", "named-order-attribute", "typed"],
)
def test_a_context_marker_that_cannot_be_one_fails_the_synth_naming_it(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        props_from_context(context)


@pytest.mark.parametrize("marker", ["", " _deleted", "_deleted\t"])
def test_props_refuse_a_marker_that_is_not_a_name_as_parsed(marker: str) -> None:
    """PipelineProps built in code hold parsed values: a name with surrounding spaces (or none) fails naming it."""
    message = f"delete_column must be a non-empty name without surrounding spaces, got {marker!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        PipelineProps(delete_column=marker)
