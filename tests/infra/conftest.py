"""Fixtures for the infrastructure tests: the real app synthesized once per variant and session."""

import os

# Read by the jsii runtime when aws_cdk is first imported, so set before any import of it: a deprecated CDK API
# then raises instead of warning, and Node 20's end-of-life banner stays out of the output.
os.environ["JSII_DEPRECATED"] = "fail"
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest
from aws_cdk.assertions import Template

from tests.infra.synth import Synthesized, synthesize

# What a deployer would pass with `cdk synth -c key=value`: strings, every one different from the default.
CUSTOM_CONTEXT = {
    "retain_data": "true",
    "alarm_email": "ops@example.com",
    "key_column": "account_id",
    "memory_size_mb": "2048",
    "timeout_minutes": "5",
    "ephemeral_storage_mib": "1024",
    "noncurrent_version_expiration_days": "7",
    "rejects_expiration_days": "14",
    "logged_rejections": "5",
    "write_mode": "replace",
    "write_concurrency": "32",
    "large_file_bytes": "1048576",
    "partition_bytes": "524288",
    "max_workers": "16",
    "trigger_reserved_concurrency": "none",
    "worker_reserved_concurrency": "24",
}
# Every key of the table's key schema, the columns' types and the files' format, each different from the default.
SCHEMA_CONTEXT = {
    "key_type": "N",
    "sort_key_column": "order_date",
    "sort_key_type": "S",
    "column_types": '{"age": "N", "active": "BOOL", "profile": "JSON"}',
    "csv_delimiter": ";",
    "csv_encoding": "cp1252",
}


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out.default"))


@pytest.fixture(scope="session")
def custom_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out.custom"), **CUSTOM_CONTEXT)


@pytest.fixture(scope="session")
def schema_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out.schema"), **SCHEMA_CONTEXT)


@pytest.fixture(scope="session")
def kms_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default deployment but for `-c encryption=kms`: the stack's own customer-managed key."""
    return synthesize(tmp_path_factory.mktemp("cdk.out.kms"), encryption="kms")


@pytest.fixture(scope="session")
def template(default_synth: Synthesized) -> Template:
    return default_synth.template


@pytest.fixture(scope="session")
def custom_template(custom_synth: Synthesized) -> Template:
    return custom_synth.template


@pytest.fixture(scope="session")
def schema_template(schema_synth: Synthesized) -> Template:
    return schema_synth.template


@pytest.fixture(scope="session")
def kms_template(kms_synth: Synthesized) -> Template:
    return kms_synth.template
