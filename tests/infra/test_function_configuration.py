"""The stack and the function agree on the configuration: what the template sets is what the function reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from csv_ingest_engine.constants import (
    ENV_KEY_COLUMN,
    ENV_REJECTS_BUCKET,
    ENV_TABLE_NAME,
    ENV_WRITE_CONCURRENCY,
    ENV_WRITE_MODE,
)
from csv_ingest_engine.settings import Settings
from tests.infra.test_pipeline_template import function_logical_id, properties


def _deployed_environment(template: Template) -> dict[str, str]:
    """The function's environment variables, with each CloudFormation reference standing for its resolved value."""
    variables = properties(template, function_logical_id(template))["Environment"]["Variables"]

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
