"""The table's key schema, the columns' types and the files' format, from CDK context to the template: the table's
key, every file-reading function's environment, the upload trigger, and the message a bad value fails the synth with.
(cdk-nag and cfn-lint on the schema synth: test_synth_gates.py.)"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from app import build_app, props_from_context
from csv_ingest.infra import PipelineProps
from csv_ingest_engine import schema
from csv_ingest_engine.config import schema_environment
from csv_ingest_engine.constants import (
    CSV_SUFFIXES,
    ENV_COLUMN_TYPES,
    ENV_CSV_DELIMITER,
    ENV_CSV_ENCODING,
    ENV_KEY_TYPE,
    ENV_SORT_KEY_COLUMN,
    ENV_SORT_KEY_TYPE,
    HANDLER_FINISH,
    HANDLER_INGEST_PARTITION,
    HANDLER_PARTITION,
    HANDLER_TRIGGER,
)
from csv_ingest_engine.schema import CsvFormat, KeyAttribute, Schema
from tests.infra.logical_ids import UPLOAD_BUCKET_ID
from tests.infra.synth import cli_context, synthesize
from tests.infra.test_pipeline_template import function_logical_id

# Every function that reads the uploaded file or its rows: the trigger and the large-file flow's three steps.
FILE_READING_HANDLERS = [HANDLER_TRIGGER, HANDLER_PARTITION, HANDLER_INGEST_PARTITION, HANDLER_FINISH]
SCHEMA_VARIABLES = [
    ENV_KEY_TYPE,
    ENV_SORT_KEY_COLUMN,
    ENV_SORT_KEY_TYPE,
    ENV_COLUMN_TYPES,
    ENV_CSV_DELIMITER,
    ENV_CSV_ENCODING,
]


@pytest.fixture(scope="session")
def sort_key_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synthesize(tmp_path_factory.mktemp("cdk.out.sort-key"), sort_key_column="order_date").template


@pytest.fixture(scope="session")
def number_sort_key_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    context = {"sort_key_column": "order_date", "sort_key_type": "N"}
    return synthesize(tmp_path_factory.mktemp("cdk.out.number-sort-key"), **context).template


def key(name: str, role: str) -> dict[str, str]:
    return {"AttributeName": name, "KeyType": role}


def attribute(name: str, type_: str) -> dict[str, str]:
    return {"AttributeName": name, "AttributeType": type_}


def environment_of(template: Template, handler: str, variables: Any) -> None:
    """The function running `handler.<handler>` has environment variables matching `variables`."""
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": f"handler.{handler}", "Environment": {"Variables": variables}}
    )


# -- the table ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template_fixture", "key_schema", "attributes"),
    [
        ("template", [key("customer_id", "HASH")], [attribute("customer_id", "S")]),
        (
            "sort_key_template",
            [key("customer_id", "HASH"), key("order_date", "RANGE")],
            [attribute("customer_id", "S"), attribute("order_date", "S")],
        ),
        (
            "number_sort_key_template",
            [key("customer_id", "HASH"), key("order_date", "RANGE")],
            [attribute("customer_id", "S"), attribute("order_date", "N")],
        ),
        (
            "schema_template",
            [key("customer_id", "HASH"), key("order_date", "RANGE")],
            [attribute("customer_id", "N"), attribute("order_date", "S")],
        ),
    ],
    ids=["default", "sort_key_column", "sort_key_type=N", "key_type=N"],
)
def test_table_key_schema_follows_the_context(
    request: pytest.FixtureRequest, template_fixture: str, key_schema: list[Any], attributes: list[Any]
) -> None:
    """The partition key is key_column of key_type (S by default); sort_key_column adds a sort key of sort_key_type;
    only key attributes are defined."""
    template: Template = request.getfixturevalue(template_fixture)
    template.has_resource_properties(
        "AWS::DynamoDB::Table", {"KeySchema": key_schema, "AttributeDefinitions": attributes}
    )


def test_a_sort_key_keeps_the_tables_removal_policy(sort_key_template: Template) -> None:
    """Without retain_data, a table with a sort key is still deleted with the stack (or on replacement)."""
    assert sort_key_template.find_resources(
        "AWS::DynamoDB::Table", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
    )


# -- the functions' environment ---------------------------------------------------------------------------


@pytest.mark.parametrize("handler", FILE_READING_HANDLERS)
def test_every_file_reading_function_is_told_the_schema_and_format(schema_template: Template, handler: str) -> None:
    """Key types, the sort key, the column types (compact JSON, sorted), the delimiter character and the encoding."""
    environment_of(
        schema_template,
        handler,
        Match.object_like(
            {
                "KEY_COLUMN": "customer_id",
                "KEY_TYPE": "N",
                "SORT_KEY_COLUMN": "order_date",
                "SORT_KEY_TYPE": "S",
                "COLUMN_TYPES": '{"active":"BOOL","age":"N","profile":"JSON"}',
                "CSV_DELIMITER": ";",
                "CSV_ENCODING": "cp1252",
            }
        ),
    )


@pytest.mark.parametrize("handler", FILE_READING_HANDLERS)
def test_the_defaults_add_no_variables(template: Template, handler: str) -> None:
    """Without the new context, no function gets a schema or format variable: the defaults are the engine's."""
    environment_of(template, handler, Match.object_like({name: Match.absent() for name in SCHEMA_VARIABLES}))


@pytest.mark.parametrize("handler", FILE_READING_HANDLERS)
def test_a_sort_key_alone_adds_its_column_and_type(sort_key_template: Template, handler: str) -> None:
    """sort_key_column=order_date gives SORT_KEY_COLUMN and SORT_KEY_TYPE=S, and nothing else new."""
    environment_of(
        sort_key_template,
        handler,
        Match.object_like(
            {
                "SORT_KEY_COLUMN": "order_date",
                "SORT_KEY_TYPE": "S",
                **{
                    name: Match.absent()
                    for name in (ENV_KEY_TYPE, ENV_COLUMN_TYPES, ENV_CSV_DELIMITER, ENV_CSV_ENCODING)
                },
            }
        ),
    )


def test_the_environment_reads_back_as_the_schema_and_format() -> None:
    """What the stack writes, the engine's own parsers (which the functions use) read back as the same settings."""
    # given
    written = Schema(KeyAttribute("id", "B"), KeyAttribute("at", "N"), {"naïve": "JSON", "age": "N"})
    # when
    variables = schema_environment(written, CsvFormat(delimiter="\t", encoding="utf-16"))
    # then
    read = Schema(
        KeyAttribute(variables["KEY_COLUMN"], schema.key_type(variables[ENV_KEY_TYPE], origin=ENV_KEY_TYPE)),
        KeyAttribute(
            variables[ENV_SORT_KEY_COLUMN], schema.key_type(variables[ENV_SORT_KEY_TYPE], origin=ENV_SORT_KEY_TYPE)
        ),
        schema.column_types(variables[ENV_COLUMN_TYPES], origin=ENV_COLUMN_TYPES),
    )
    assert read == written
    assert schema.delimiter(variables[ENV_CSV_DELIMITER], origin=ENV_CSV_DELIMITER) == "\t"
    assert schema.encoding(variables[ENV_CSV_ENCODING], origin=ENV_CSV_ENCODING) == "utf-16"


# -- the trigger ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", CSV_SUFFIXES)
def test_every_suffix_the_engine_ingests_triggers_the_function(template: Template, suffix: str) -> None:
    """Each of the engine's CSV_SUFFIXES (.csv, .csv.gz) has an ObjectCreated notification of its own."""
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "BucketName": {"Ref": UPLOAD_BUCKET_ID},
            "NotificationConfiguration": {
                "LambdaFunctionConfigurations": Match.array_with(
                    [
                        {
                            "Events": ["s3:ObjectCreated:*"],
                            "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": suffix}]}},
                            "LambdaFunctionArn": {"Fn::GetAtt": [function_logical_id(template), "Arn"]},
                        }
                    ]
                )
            },
        },
    )


# -- parsing context values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ['{"age":"N","active":"BOOL"}', ' { "age": "n", "active": "bool" } ', {"age": "N", "active": "BOOL"}],
    ids=["command line", "spaced, lower case", "cdk.json object"],
)
def test_column_types_accept_json_text_or_an_object(raw: object) -> None:
    """`-c column_types='{...}'` arrives as text, cdk.json may hold the object itself."""
    assert props_from_context({"column_types": raw}).column_types == {"age": "N", "active": "BOOL"}


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("key_type", "N", "N"),
        ("key_type", "b", "B"),
        ("csv_delimiter", ";", ";"),
        ("csv_delimiter", "tab", "\t"),
        ("csv_delimiter", "|", "|"),
        ("csv_encoding", "cp1252", "cp1252"),
        ("csv_encoding", "Windows-1252", "cp1252"),
        ("csv_encoding", "latin1", "latin-1"),
    ],
)
def test_key_type_delimiter_and_encoding_context(key: str, raw: str, expected: str) -> None:
    """Key types by letter, the delimiter by character or `tab`, the encoding by name or a common alias."""
    assert getattr(props_from_context({key: raw}), key) == expected


def test_a_sort_key_is_a_string_unless_typed() -> None:
    """sort_key_column alone gives a string sort key; sort_key_type=N a number one."""
    assert props_from_context({"sort_key_column": "order_date"}).schema.sort_key == KeyAttribute("order_date", "S")
    typed = props_from_context({"sort_key_column": "order_date", "sort_key_type": "N"})
    assert typed.schema.sort_key == KeyAttribute("order_date", "N")


def test_absent_schema_context_keeps_the_lossless_defaults() -> None:
    """No new context: one string partition key, every column a string, comma-separated UTF-8."""
    props = props_from_context({})
    assert props.schema == Schema.keyed_on("customer_id")
    assert props.csv_format == CsvFormat(delimiter=",", encoding="utf-8")


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"column_types": "{age: N}"}, "context column_types is not valid JSON"),
        ({"column_types": '["age", "N"]'}, "context column_types must be a JSON object of column -> type"),
        (
            {"column_types": '{"age": "NUM"}'},
            "context column_types, column 'age': 'NUM' is not a column type; use one of S, N, BOOL, JSON",
        ),
        (
            {"column_types": {"active": "bool", "age": "int"}},
            "context column_types, column 'age': 'int' is not a column type",
        ),
        ({"column_types": {"": "N"}}, "context column_types: '' is not a column name"),
        (
            {"column_types": '{"customer_id": "N"}'},
            "column_types: column 'customer_id' is a key column, whose type is the key's (S)",
        ),
        (
            {"sort_key_column": "order_date", "column_types": '{"order_date": "N"}'},
            "column_types: column 'order_date' is a key column",
        ),
        ({"key_type": "STRING"}, "context key_type: 'STRING' is not a key type; DynamoDB keys are one of S, N, B"),
        ({"key_type": "BOOL"}, "context key_type: 'BOOL' is not a key type"),
        ({"sort_key_column": "order_date", "sort_key_type": "X"}, "context sort_key_type: 'X' is not a key type"),
        ({"sort_key_type": "N"}, "context sort_key_type ('N') is the sort key's type: set sort_key_column too"),
        ({"sort_key_column": " "}, "context sort_key_column must be a non-empty string"),
        (
            {"sort_key_column": "customer_id"},
            "sort_key_column must not be the partition key's column ('customer_id'): name another column",
        ),
        (
            {"key_column": "account_id", "sort_key_column": "account_id"},
            "sort_key_column must not be the partition key's column ('account_id')",
        ),
        (
            {"csv_delimiter": ":"},
            "context csv_delimiter: ':' is not a delimiter this pipeline reads; use one of , ; | tab",
        ),
        ({"csv_delimiter": "semicolon"}, "context csv_delimiter: 'semicolon' is not a delimiter"),
        (
            {"csv_encoding": "utf-32"},
            "context csv_encoding: 'utf-32' is not an encoding this pipeline reads; use one of utf-8, cp1252, "
            "latin-1, utf-16",
        ),
    ],
)
def test_bad_schema_context_fails_naming_the_key(context: dict[str, Any], message: str) -> None:
    """A value the functions could not use fails the synth with the context key, the bad entry and the fix."""
    with pytest.raises(ValueError, match=re.escape(message)):
        props_from_context(context)


def test_bad_column_types_fail_the_synth(tmp_path: Path) -> None:
    """The app itself refuses to build with an unknown column type: `cdk synth` exits with the message."""
    with pytest.raises(ValueError, match=re.escape("context column_types, column 'age': 'NUM' is not a column type")):
        build_app(cli_context(column_types=json.dumps({"age": "NUM"})), outdir=str(tmp_path))


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"key_type": "STRING"}, "key_type must be one of S, N, B, got 'STRING'"),
        ({"sort_key_column": "order_date", "sort_key_type": "n"}, "sort_key_type must be one of S, N, B, got 'n'"),
        ({"sort_key_type": "N"}, "sort_key_type ('N') is the sort key's type: set sort_key_column too"),
        ({"sort_key_column": "order_date "}, "sort_key_column must be a non-empty name without surrounding spaces"),
        ({"sort_key_column": "é" * 128}, "sort_key_column must be at most 255 bytes"),
        ({"sort_key_column": "customer_id"}, "sort_key_column must not be the partition key's column"),
        ({"column_types": {"age": "int"}}, "column_types, column 'age': 'int' is not a column type"),
        ({"column_types": {" age": "N"}}, "column_types: ' age' is not a column name"),
        ({"column_types": {"customer_id": "S"}}, "column_types: column 'customer_id' is a key column"),
        ({"csv_delimiter": "tab"}, "csv_delimiter must be one of , ; | or a tab (the character), got 'tab'"),
        ({"csv_encoding": "utf8"}, "csv_encoding must be one of utf-8, cp1252, latin-1, utf-16, got 'utf8'"),
        (
            {"column_types": {f"a_rather_long_column_name_{i}": "N" for i in range(120)}},
            "as the functions' COLUMN_TYPES variable; Lambda allows 4 KB for all of a function's variables",
        ),
    ],
)
def test_props_reject_a_schema_or_format_the_functions_could_not_use(props: dict[str, Any], message: str) -> None:
    """PipelineProps built in code (not from context) hold parsed values: anything else fails naming the prop."""
    with pytest.raises(ValueError, match=re.escape(message)):
        PipelineProps(**props)
