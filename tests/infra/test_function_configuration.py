"""The stack and the function agree on the configuration: what the template sets is what the function reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Template

from csv_ingest_engine.config import function_environment
from csv_ingest_engine.constants import (
    DEFAULT_LOGGED_REJECTIONS,
    ENV_KEY_COLUMN,
    ENV_LOGGED_REJECTIONS,
    ENV_REJECTS_BUCKET,
    ENV_TABLE_NAME,
    ENV_WRITE_CONCURRENCY,
    ENV_WRITE_MODE,
    HANDLER_FINISH,
    HANDLER_INGEST_PARTITION,
    HANDLER_PARTITION,
    HANDLER_TRIGGER,
)
from csv_ingest_engine.schema import CsvFormat, KeyAttribute, Schema
from csv_ingest_engine.settings import FinishSettings, IngestPartitionSettings, PartitionSettings, Settings
from tests.infra.test_large_files import task_function_id
from tests.infra.test_pipeline_template import properties

# What SCHEMA_CONTEXT (conftest.py) configures.
SCHEMA = Schema(
    KeyAttribute("customer_id", "N"), KeyAttribute("order_date", "S"), {"age": "N", "active": "BOOL", "profile": "JSON"}
)
CSV_FORMAT = CsvFormat(delimiter=";", encoding="cp1252")


def _deployed_environment(template: Template, handler: str = HANDLER_TRIGGER) -> dict[str, str]:
    """The environment variables of the function running `handler.<handler>`, with each CloudFormation reference
    standing for its resolved value."""
    variables = properties(template, task_function_id(template, handler))["Environment"]["Variables"]

    def resolved(value: Any) -> str:
        return value if isinstance(value, str) else f"<{json.dumps(value, sort_keys=True)}>"

    return {name: resolved(value) for name, value in variables.items()}


@pytest.mark.parametrize(
    ("template_fixture", "key_column", "write_mode", "concurrency"),
    [("template", "customer_id", "merge", 16), ("custom_template", "account_id", "replace", 32)],
)
def test_the_function_reads_the_settings_the_stack_gives_it(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    template_fixture: str,
    key_column: str,
    write_mode: str,
    concurrency: int,
) -> None:
    """Every setting the stack passes reaches the function under the name it reads, from the one constants module."""
    template: Template = request.getfixturevalue(template_fixture)
    environment = _deployed_environment(template)
    for name in (ENV_TABLE_NAME, ENV_KEY_COLUMN, ENV_REJECTS_BUCKET, ENV_WRITE_MODE, ENV_WRITE_CONCURRENCY):
        monkeypatch.delenv(name, raising=False)  # nothing from the test run's own environment may stand in
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    settings = Settings.from_env()

    assert settings.table_name.startswith('<{"Ref": "PipelineTable')
    assert settings.rejects_bucket is not None and settings.rejects_bucket.startswith('<{"Ref": "PipelineRejectsBucket')
    assert settings.key_column == key_column
    assert (settings.write_mode, settings.write_concurrency) == (write_mode, concurrency)


@pytest.mark.parametrize(
    ("handler", "read", "expected"),
    [
        (HANDLER_TRIGGER, Settings.from_env, {"schema": SCHEMA, "fmt": CSV_FORMAT}),
        (HANDLER_PARTITION, PartitionSettings.from_env, {"schema": SCHEMA, "fmt": CSV_FORMAT}),
        (HANDLER_INGEST_PARTITION, IngestPartitionSettings.from_env, {"schema": SCHEMA}),
        (HANDLER_FINISH, FinishSettings.from_env, {"fmt": CSV_FORMAT}),
    ],
)
def test_each_function_reads_the_schema_and_format_the_stack_gives_it(
    schema_template: Template, handler: str, read: Callable[[], object], expected: dict[str, object]
) -> None:
    """The key schema, column types and file format of SCHEMA_CONTEXT are what each function's settings read."""
    with function_environment(_deployed_environment(schema_template, handler)):
        settings = read()
    assert {name: getattr(settings, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("handler", "read"),
    [
        (HANDLER_TRIGGER, Settings.from_env),
        (HANDLER_INGEST_PARTITION, IngestPartitionSettings.from_env),
        (HANDLER_FINISH, FinishSettings.from_env),
    ],
)
def test_the_functions_that_log_rejected_rows_read_logged_rejections(
    template: Template, custom_template: Template, handler: str, read: Callable[[], Any]
) -> None:
    """logged_rejections=5 reaches the trigger, the workers and Finish; left at its default, no variable is set and
    each reads 20."""
    with function_environment(_deployed_environment(custom_template, handler)):
        assert read().engine.logged_rejections == 5
    default = _deployed_environment(template, handler)
    assert ENV_LOGGED_REJECTIONS not in default
    with function_environment(default):
        assert read().engine.logged_rejections == DEFAULT_LOGGED_REJECTIONS


def test_the_partition_task_is_not_told_logged_rejections(custom_template: Template) -> None:
    """Partition rejects no row: it is not told how many to log."""
    assert ENV_LOGGED_REJECTIONS not in _deployed_environment(custom_template, HANDLER_PARTITION)
