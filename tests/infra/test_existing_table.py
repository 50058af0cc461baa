"""An existing table (`-c table_name=Customers`): not a resource of the stack, written with exactly the calls the
functions make, on its ARN only, and read by the dashboard; its own key, when it has one, used through DynamoDB."""

from typing import Any

import pytest
from aws_cdk.assertions import Template

from app import existing_from_context
from csv_ingest_engine.constants import (
    DEFAULT_WRITE_MODE,
    ENV_TABLE_NAME,
    HANDLER_FINISH,
    HANDLER_INGEST_PARTITION,
    HANDLER_PARTITION,
    HANDLER_TRIGGER,
)
from csv_ingest_engine.requests import write_actions
from tests.infra.conftest import EXISTING_TABLE, TABLE_KEY_ARN
from tests.infra.test_encryption import TABLE_WRITES, kms_statements, via
from tests.infra.test_large_files import function_role_id, role_statements, task_function_id
from tests.infra.test_pipeline_template import as_list, dashboard_widgets, properties

# The table's ARN as CDK writes it for a table imported by name: the stack's partition, region and account.
TABLE_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":dynamodb:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            f":table/{EXISTING_TABLE}",
        ],
    ]
}
WRITERS = (HANDLER_TRIGGER, HANDLER_INGEST_PARTITION)


def dynamodb_statements(template: Template, handler: str) -> list[dict[str, Any]]:
    """The statements of `handler`'s function's role that allow a DynamoDB action."""
    role_id = function_role_id(template, task_function_id(template, handler))
    return [
        statement
        for statement in role_statements(template, role_id)
        if any(action.startswith("dynamodb:") for action in as_list(statement["Action"]))
    ]


def test_an_existing_table_is_not_a_resource_of_the_stack(existing_template: Template) -> None:
    """No AWS::DynamoDB::Table: nothing in the stack can replace the table, and `cdk destroy` leaves it."""
    existing_template.resource_count_is("AWS::DynamoDB::Table", 0)


@pytest.mark.parametrize("handler", WRITERS)
def test_the_writers_may_make_exactly_their_writes_on_the_existing_table(
    existing_template: Template, handler: str
) -> None:
    """The trigger and the worker may call exactly the writes of the deployed mode, on the table's ARN only."""
    expected = write_actions(DEFAULT_WRITE_MODE, ordered=True)
    assert dynamodb_statements(existing_template, handler) == [
        {"Effect": "Allow", "Action": expected[0] if len(expected) == 1 else list(expected), "Resource": TABLE_ARN}
    ]


@pytest.mark.parametrize("handler", [HANDLER_PARTITION, HANDLER_FINISH])
def test_the_other_steps_may_not_touch_the_table(existing_template: Template, handler: str) -> None:
    """Partition and Finish write nothing to the table, and may call nothing on it."""
    assert dynamodb_statements(existing_template, handler) == []


@pytest.mark.parametrize("handler", WRITERS)
def test_the_writers_are_told_the_existing_tables_name(existing_template: Template, handler: str) -> None:
    """TABLE_NAME is the existing table's name."""
    function_id = task_function_id(existing_template, handler)
    variables = properties(existing_template, function_id)["Environment"]["Variables"]
    assert variables[ENV_TABLE_NAME] == EXISTING_TABLE


def test_the_dashboard_shows_the_existing_tables_write_throttles(existing_template: Template) -> None:
    """The throttles widget reads the existing table's WriteThrottleEvents."""
    metrics = [
        metric for widget in dashboard_widgets(existing_template) for metric in widget["properties"].get("metrics", [])
    ]
    assert ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", EXISTING_TABLE] in [m[:4] for m in metrics]


def test_the_table_name_output_is_the_existing_table(existing_template: Template) -> None:
    """The TableName output names the existing table."""
    outputs = existing_template.find_outputs("*", {"Description": "DynamoDB table receiving the rows"})
    assert [output["Value"] for output in outputs.values()] == [EXISTING_TABLE]


@pytest.mark.parametrize("handler", WRITERS)
def test_the_writers_may_use_the_existing_tables_key_through_dynamodb_only(
    existing_kms_template: Template, handler: str
) -> None:
    """With `table_key_arn`, the writers may use that key for their writes, through DynamoDB only; the stack's own
    key (encryption=kms) is not the table's, and no role may use it through DynamoDB."""
    role_id = function_role_id(existing_kms_template, task_function_id(existing_kms_template, handler))
    statements = kms_statements(existing_kms_template, role_id)
    through_dynamodb = [s for s in statements if s.get("Condition") == via("dynamodb")]
    assert through_dynamodb == [
        {"Effect": "Allow", "Action": TABLE_WRITES, "Resource": TABLE_KEY_ARN, "Condition": via("dynamodb")}
    ]


@pytest.mark.parametrize("handler", [HANDLER_PARTITION, HANDLER_FINISH])
def test_no_other_role_may_use_the_existing_tables_key(existing_kms_template: Template, handler: str) -> None:
    """Only the writers are granted the table's key."""
    role_id = function_role_id(existing_kms_template, task_function_id(existing_kms_template, handler))
    assert [s for s in kms_statements(existing_kms_template, role_id) if s["Resource"] == TABLE_KEY_ARN] == []


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"table_name": "my table"}, "table_name must be a DynamoDB table's name"),
        ({"table_name": "ab"}, "table_name must be a DynamoDB table's name"),
        ({"table_name": ""}, "context table_name must be a non-empty string"),
        ({"table_key_arn": TABLE_KEY_ARN}, "table_key_arn is the key of an existing resource, table_name: set"),
        (
            {"table_name": EXISTING_TABLE, "table_key_arn": "arn:aws:kms:eu-west-1:111122223333:alias/customers"},
            "table_key_arn must be a KMS key's ARN",
        ),
    ],
)
def test_a_bad_table_context_names_the_key_and_the_rule(context: dict[str, str], message: str) -> None:
    """A table name or key DynamoDB or KMS would refuse stops the synth, naming the context key and the rule."""
    with pytest.raises(ValueError, match=message):
        existing_from_context(context)


def test_a_table_name_is_taken_as_given() -> None:
    """Table names are case-sensitive and may hold dots, dashes and underscores."""
    assert existing_from_context({"table_name": " Shop.Customers_v2-prod "}).table_name == "Shop.Customers_v2-prod"


@pytest.mark.parametrize(
    ("context", "warned"),
    [
        ({"table_name": EXISTING_TABLE}, True),
        ({"upload_bucket_name": "acme-incoming"}, True),
        ({"table_name": EXISTING_TABLE, "retain_data": "true"}, False),
        ({}, False),
    ],
)
def test_the_synth_warns_that_switching_to_an_existing_table_or_bucket_deletes_the_stacks_own(
    context: dict[str, str], warned: bool
) -> None:
    """The stack's own table or bucket leaves the template when an existing one is named: CloudFormation deletes
    it, with its data, unless retain_data kept it."""
    from aws_cdk.assertions import Annotations, Match

    from app import STACK_ID, build_app

    stack = build_app({**context, "aws:cdk:bundling-stacks": []}).node.find_child(STACK_ID)
    found = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("retain_data=true"))  # type: ignore[arg-type]
    assert bool(found) is warned
    if warned:
        assert "deletes it, with its items or objects" in str(found[0].entry.data)
