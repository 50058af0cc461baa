"""The stack's large-file state machine in moto: its three task functions, its packaged definition, and an
execution waited on."""

from __future__ import annotations

import importlib.util
import io
import json
import time
import zipfile
from collections.abc import Mapping
from importlib import resources
from typing import Any

from csv_ingest_engine.config import EngineConfig
from csv_ingest_engine.constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_ORDER_ATTRIBUTE,
    DEFAULT_PARTITION_BYTES,
    DEFAULT_WRITE_MODE,
    ENV_REJECTS_BUCKET,
    ENV_TABLE_NAME,
    ENV_WORK_BUCKET,
    HANDLER_FINISH,
    HANDLER_INGEST_PARTITION,
    HANDLER_PARTITION,
    METRICS_NAMESPACE,
    SERVICE_NAME,
    WriteMode,
)
from csv_ingest_engine.schema import CsvFormat, Schema

# moto executes state machines only when asked; its Lambda tasks then call `LambdaFunction._invoke_lambda`.
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}}
# The stack's definition of the state machine, packaged with the CLI; the functions' ARNs are placeholders in it.
FLOW_DEFINITION: Any = resources.files("csv_ingest") / "infra" / "flows" / "large_file.asl.json"
FLOW_FUNCTIONS = {
    HANDLER_PARTITION: "PartitionFunctionArn",
    HANDLER_INGEST_PARTITION: "IngestPartitionFunctionArn",
    HANDLER_FINISH: "FinishFunctionArn",
}
# The bucket the Map reads its items from and writes its results to.
WORK_BUCKET_PLACEHOLDER = "WorkBucketName"
POLL_S = 0.05


def missing_state_machine_support() -> str | None:
    """The modules moto's state machine interpreter needs that are not installed (its `stepfunctions` extra)."""
    missing = [module for module in ("antlr4", "jsonpath_ng") if importlib.util.find_spec(module) is None]
    return " and ".join(missing) or None


def create_large_file_flow(
    *,
    table_name: str,
    key_column: str,
    rejects_bucket: str,
    work_bucket: str,
    partition_bytes: int = DEFAULT_PARTITION_BYTES,
    write_mode: WriteMode = DEFAULT_WRITE_MODE,
    write_concurrency: int = DEFAULT_CONCURRENCY,
    schema: Schema | None = None,
    fmt: CsvFormat | None = None,
    order_attribute: str | None = DEFAULT_ORDER_ATTRIBUTE,
    consistent_reads: bool = False,
) -> str:
    """In moto: the work bucket, the three task functions with the environment the stack gives them, and the state
    machine of the stack's packaged definition; return the state machine's ARN. `schema` (default: a string key in
    `key_column`), `fmt`, `order_attribute` (None: ordering off) and `consistent_reads` as the stack's context sets
    them."""
    import boto3

    boto3.client("s3").create_bucket(Bucket=work_bucket)
    iam, functions = boto3.client("iam"), boto3.client("lambda")
    role = iam.create_role(RoleName="csv-ingest-demo", AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST))["Role"]
    config = EngineConfig(
        schema=schema or Schema.keyed_on(key_column),
        fmt=fmt or CsvFormat(),
        write_mode=write_mode,
        consistent_reads=consistent_reads,
        write_concurrency=write_concurrency,
        partition_bytes=partition_bytes,
        order_attribute=order_attribute,
    )
    # What the stack gives each task: the work bucket, the resources it is told of, its parts of the configuration.
    resources = {
        HANDLER_PARTITION: {},
        HANDLER_INGEST_PARTITION: {ENV_TABLE_NAME: table_name},
        HANDLER_FINISH: {ENV_REJECTS_BUCKET: rejects_bucket},
    }
    environments = {
        handler: {ENV_WORK_BUCKET: work_bucket, **own, **config.for_function(handler)}
        for handler, own in resources.items()
    }
    arns = {}
    for entry_point, variables in environments.items():
        created = functions.create_function(
            FunctionName=f"csv-ingest-demo-{entry_point.replace('_', '-')}",
            Runtime="python3.14",
            Role=role["Arn"],
            Handler=f"handler.{entry_point}",
            Code={"ZipFile": _EMPTY_ZIP},
            Timeout=15 * 60,
            Environment={"Variables": {**variables, **_POWERTOOLS}},
        )
        arns[FLOW_FUNCTIONS[entry_point]] = created["FunctionArn"]
    machine = boto3.client("stepfunctions").create_state_machine(
        name="csv-ingest-demo-large-files",
        definition=flow_definition({**arns, WORK_BUCKET_PLACEHOLDER: work_bucket}),
        roleArn=role["Arn"],
        type="STANDARD",
    )
    return str(machine["stateMachineArn"])


def flow_definition(values: Mapping[str, str]) -> str:
    """The packaged definition with the functions' ARNs and the work bucket's name in place of its placeholders, as
    moto can read it.

    What moto 5.2.5 does not do as Step Functions does (the tests judge by the table and Finish's verdict): its
    ItemReader reads the JSON manifest as Step Functions does, but a missing manifest fails the Map with
    States.Runtime, not States.ItemReaderFailed; its ResultWriter writes a `manifest.json` listing no result files
    (it writes none) and evaluates a JSONPath `Prefix` against the Map's results, not its input; a failing
    iteration yields null and the Map still succeeds; state and execution timeouts are parsed, not enforced by the
    tests' runs (nothing runs that long)."""
    text = FLOW_DEFINITION.read_text(encoding="utf-8")
    for placeholder, value in values.items():
        text = text.replace(f"${{{placeholder}}}", value)
    if "${" in text:
        raise ValueError(f"{FLOW_DEFINITION} has placeholders the demo does not fill: {text[text.index('${') :][:40]}")
    return json.dumps(_for_moto(json.loads(text)))


def _for_moto(node: Any) -> Any:
    """moto's ASL grammar takes ToleratedFailurePercentage only as a decimal (100.0), where AWS takes any number."""
    if isinstance(node, dict):
        return {
            name: float(value) if name == "ToleratedFailurePercentage" else _for_moto(value)
            for name, value in node.items()
        }
    if isinstance(node, list):
        return [_for_moto(value) for value in node]
    return node


def wait_for_execution(stepfunctions: Any, execution_arn: str) -> dict[str, Any]:
    """Poll the execution until it ends; return its description."""
    while True:
        execution: dict[str, Any] = stepfunctions.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(POLL_S)


_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
_POWERTOOLS = {"POWERTOOLS_SERVICE_NAME": SERVICE_NAME, "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE}


def _empty_zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "# run in process by the demo\n")
    return archive.getvalue()


_EMPTY_ZIP = _empty_zip()
