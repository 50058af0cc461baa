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


# An existing table and an existing upload bucket, with a key prefix, as a deployer names them with `-c`.
EXISTING_TABLE = "Customers"
EXISTING_BUCKET = "acme-incoming"
EXISTING_PREFIX = "customers/"
EXISTING_CONTEXT = {
    "table_name": EXISTING_TABLE,
    "upload_bucket_name": EXISTING_BUCKET,
    "upload_prefix": EXISTING_PREFIX,
}
# Customer-managed keys of the account that encrypt them (not the stack's).
TABLE_KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET_KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"


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
def existing_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """`-c table_name=Customers -c upload_bucket_name=acme-incoming -c upload_prefix=customers/`."""
    return synthesize(tmp_path_factory.mktemp("cdk.out.existing"), **EXISTING_CONTEXT)


@pytest.fixture(scope="session")
def existing_kms_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The same with `-c encryption=kms` and the existing table's and bucket's own customer-managed keys."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.existing-kms"),
        **EXISTING_CONTEXT,
        encryption="kms",
        table_key_arn=TABLE_KEY_ARN,
        upload_bucket_key_arn=BUCKET_KEY_ARN,
    )


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


@pytest.fixture(scope="session")
def existing_template(existing_synth: Synthesized) -> Template:
    return existing_synth.template


@pytest.fixture(scope="session")
def existing_kms_template(existing_kms_synth: Synthesized) -> Template:
    return existing_kms_synth.template
