#!/usr/bin/env python3
"""The CDK app: CDK context -> PipelineProps (and the existing resources it names) -> CsvIngestStack, with the cdk-nag
AwsSolutions gate on every synth."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from csv_ingest.infra import CsvIngestStack, ExistingResources, PipelineProps
from csv_ingest.infra.props import ENCRYPTIONS, SAME_AS_MAX_WORKERS
from csv_ingest_engine import schema
from csv_ingest_engine.constants import WRITE_MODES

STACK_ID = "CsvIngest"
CONTEXT_KEYS = (
    "retain_data",
    "alarm_email",
    "key_column",
    "key_type",
    "sort_key_column",
    "sort_key_type",
    "column_types",
    "delete_column",
    "csv_delimiter",
    "csv_encoding",
    "csv_max_cells",
    "ordering",
    "order_attribute",
    "memory_size_mb",
    "timeout_minutes",
    "ephemeral_storage_mib",
    "noncurrent_version_expiration_days",
    "rejects_expiration_days",
    "encryption",
    "logged_rejections",
    "write_mode",
    "consistent_reads",
    "write_concurrency",
    "large_file_bytes",
    "partition_bytes",
    "max_workers",
    "trigger_reserved_concurrency",
    "worker_reserved_concurrency",
    "upload_prefix",
)
# An existing table and upload bucket (and the keys that encrypt them), instead of the stack's own.
EXISTING_KEYS = ("table_name", "table_key_arn", "upload_bucket_name", "upload_bucket_key_arn")


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None) -> cdk.App:
    """The app `cdk synth` runs; the tests build it too, passing the context the CLI would."""
    post_cli_context: dict[str, Any] = {}
    # PythonFunction bundles in Docker; CDK_SKIP_BUNDLING=1 lets `cdk synth` run on a machine without it.
    if os.environ.get("CDK_SKIP_BUNDLING") == "1":
        post_cli_context["aws:cdk:bundling-stacks"] = []
    app = cdk.App(context=dict(context or {}), post_cli_context=post_cli_context, outdir=outdir)
    CsvIngestStack(
        app,
        STACK_ID,
        description="csv-ingest: CSV files uploaded to S3 are upserted into DynamoDB by a Lambda function",
        props=props_from_context({key: app.node.try_get_context(key) for key in CONTEXT_KEYS}),
        existing=existing_from_context({key: app.node.try_get_context(key) for key in EXISTING_KEYS}),
    )
    # Unacknowledged findings fail the synth (and `cdk synth` exits non-zero).
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def props_from_context(context: Mapping[str, Any]) -> PipelineProps:
    """Parse the context keys; `cdk synth -c key=value` passes strings, cdk.json passes JSON values.

    Absent (None) keys keep the PipelineProps defaults.
    """
    values: dict[str, Any] = _schema_and_format(context)
    for key in ("retain_data", "consistent_reads"):
        if (raw := context.get(key)) is not None:
            values[key] = _parse_bool(key, raw)
    for key in ("alarm_email", "key_column", "upload_prefix"):
        if (raw := context.get(key)) is not None:
            values[key] = _parse_str(key, raw)
    if (raw := context.get("timeout_minutes")) is not None:
        values["timeout"] = cdk.Duration.minutes(_parse_int("timeout_minutes", raw))
    for key in (
        "memory_size_mb",
        "ephemeral_storage_mib",
        "noncurrent_version_expiration_days",
        "rejects_expiration_days",
        "logged_rejections",
        "write_concurrency",
        "large_file_bytes",
        "partition_bytes",
        "max_workers",
    ):
        if (raw := context.get(key)) is not None:
            values[key] = _parse_int(key, raw)
    values.update(_choices(context))
    if (raw := context.get("trigger_reserved_concurrency")) is not None:
        values["trigger_reserved_concurrency"] = _parse_reservation("trigger_reserved_concurrency", raw)
    if (raw := context.get("worker_reserved_concurrency")) is not None:
        values["worker_reserved_concurrency"] = (
            SAME_AS_MAX_WORKERS
            if isinstance(raw, str) and raw.strip() == SAME_AS_MAX_WORKERS
            else _parse_reservation("worker_reserved_concurrency", raw)
        )
    return PipelineProps(**values)


def existing_from_context(context: Mapping[str, Any]) -> ExistingResources:
    """The existing table and upload bucket named by context keys (absent keys: the stack creates its own)."""
    return ExistingResources(
        **{key: _parse_str(key, raw) for key in EXISTING_KEYS if (raw := context.get(key)) is not None}
    )


def _schema_and_format(context: Mapping[str, Any]) -> dict[str, Any]:
    """The table's key, the columns' types and the files' format, parsed by csv_ingest_engine.schema: the rules the
    functions and the command line apply to the same settings.

    `column_types` is a JSON object (column -> S, N, BOOL or JSON), as text from `-c` or as an object in cdk.json.
    """
    values: dict[str, Any] = {}
    if (raw := context.get("key_type")) is not None:
        values["key_type"] = schema.key_type(raw, origin="context key_type")
    if (raw := context.get("sort_key_column")) is not None:
        values["sort_key_column"] = _parse_str("sort_key_column", raw)
    if (raw := context.get("sort_key_type")) is not None:
        if "sort_key_column" not in values:
            raise ValueError(f"context sort_key_type ({raw!r}) is the sort key's type: set sort_key_column too")
        values["sort_key_type"] = schema.key_type(raw, origin="context sort_key_type")
    if (raw := context.get("column_types")) is not None:
        values["column_types"] = schema.column_types(raw, origin="context column_types")
    if (raw := context.get("delete_column")) is not None:
        values["delete_column"] = schema.delete_column(_parse_str("delete_column", raw), origin="context delete_column")
    values |= _format(context)
    if (raw := context.get("ordering")) is not None:
        values["ordering"] = _parse_switch("ordering", raw)
    if (raw := context.get("order_attribute")) is not None:
        values["order_attribute"] = schema.order_attribute(
            _parse_str("order_attribute", raw), origin="context order_attribute"
        )
    return values


def _choices(context: Mapping[str, Any]) -> dict[str, str]:
    """The keys that take one of a few words: write_mode (merge, replace, changed) and encryption (aws, kms)."""
    keys = {"write_mode": WRITE_MODES, "encryption": ENCRYPTIONS}
    return {key: _parse_choice(key, raw, keys[key]) for key in keys if (raw := context.get(key)) is not None}


def _format(context: Mapping[str, Any]) -> dict[str, Any]:
    """The files' delimiter, encoding and widest row."""
    values: dict[str, Any] = {}
    if (raw := context.get("csv_delimiter")) is not None:
        values["csv_delimiter"] = schema.delimiter(raw, origin="context csv_delimiter")
    if (raw := context.get("csv_encoding")) is not None:
        values["csv_encoding"] = schema.encoding(raw, origin="context csv_encoding")
    if (raw := context.get("csv_max_cells")) is not None:
        values["csv_max_cells"] = schema.max_cells(raw, origin="context csv_max_cells")
    return values


def _parse_switch(key: str, raw: object) -> bool:
    """on/off (or true/false): `-c ordering=off`."""
    if isinstance(raw, str) and raw.strip().lower() in ("on", "off"):
        return raw.strip().lower() == "on"
    try:
        return _parse_bool(key, raw)
    except ValueError:
        raise ValueError(f"context {key} must be on or off, got {raw!r}") from None


def _parse_bool(key: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError(f"context {key} must be true or false, got {raw!r}")


def _parse_int(key: str, raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        return int(raw)
    raise ValueError(f"context {key} must be a whole number, got {raw!r}")


def _parse_reservation(key: str, raw: object) -> int | None:
    """A reserved concurrency: a whole number, or `none` for no reservation (JSON null in cdk.json means the
    default, as for every key)."""
    if isinstance(raw, str) and raw.strip().lower() == "none":
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        return int(raw)
    raise ValueError(f"context {key} must be a whole number, or none to reserve no concurrency, got {raw!r}")


def _parse_choice(key: str, raw: object, choices: tuple[str, ...]) -> str:
    if isinstance(raw, str) and raw.strip() in choices:
        return raw.strip()
    raise ValueError(f"context {key} must be one of {', '.join(choices)}, got {raw!r}")


def _parse_str(key: str, raw: object) -> str:
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    raise ValueError(f"context {key} must be a non-empty string, got {raw!r}")


if __name__ == "__main__":
    build_app().synth()
