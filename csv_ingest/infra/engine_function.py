"""`engine_function`: how every function of the pipeline runs the engine (one code asset, runtime, architecture),
each with its own role and log group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.aws_lambda_python_alpha import BundlingOptions, PythonFunction
from constructs import Construct

from csv_ingest_engine.constants import METRICS_NAMESPACE

# The functions' asset root: handler.py, the engine and requirements.txt. A wheel carries it beside the csv_ingest
# package (pyproject.toml's force-include); a checkout, or an editable install of one, has the repository's lambda/.
# Not inside csv_ingest/: hatch copies force-included files into site-packages for an editable install too, where a
# csv_ingest/ folder would hide the editable csv_ingest package from the `csv-ingest` command.
PACKAGED_LAMBDA_DIR = Path(__file__).resolve().parents[2] / "csv_ingest_function_code"
CHECKOUT_LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
LAMBDA_DIR = PACKAGED_LAMBDA_DIR if PACKAGED_LAMBDA_DIR.is_dir() else CHECKOUT_LAMBDA_DIR


@dataclass(frozen=True, kw_only=True)
class FunctionSizing:
    """Memory (and with it CPU), timeout and /tmp of a function running the engine."""

    memory_size_mb: int
    timeout: Duration
    ephemeral_storage_mib: int


@dataclass(frozen=True)
class EngineFunction:
    """A function running one entry point of lambda/handler.py as its own `role`, logging to its own `log_group`."""

    function: PythonFunction
    role: iam.Role
    log_group: logs.LogGroup


def engine_function(
    scope: Construct,
    id_: str,
    *,
    handler: str,
    environment: Mapping[str, str],
    sizing: FunctionSizing,
    service_name: str,
    encryption_key: kms.IKey | None = None,
    reserved_concurrency: int | None = None,
) -> EngineFunction:
    """The function `id_` (with `{id_}Logs` and `{id_}Role` beside it in `scope`) running `handler.<handler>`, at
    most `reserved_concurrency` invocations at once (None: no reservation, the account's unreserved concurrency).
    `encryption_key` (None: the services' own keys) encrypts its log group and its environment variables. It logs
    and counts its metrics as `service_name` (Powertools' service).

    Every function of the pipeline is built here, so they share one code asset (one bundling), runtime and
    architecture. The role may write to the function's log group and nothing else; whoever composes it grants the
    data access.
    """
    if not (LAMBDA_DIR / "handler.py").is_file():
        raise FileNotFoundError(
            f"the functions' code asset, {LAMBDA_DIR} (handler.py, the engine and requirements.txt), is not there: "
            "this installation of csv-ingest is incomplete. Install it again (pip install 'csv-ingest[cdk]'), or "
            "install a checkout (pip install -e '<checkout>[cdk]') in the app's environment"
        )
    log_group = logs.LogGroup(
        scope,
        f"{id_}Logs",
        retention=logs.RetentionDays.ONE_WEEK,
        removal_policy=RemovalPolicy.DESTROY,
        encryption_key=encryption_key,
    )
    # An explicit role instead of the default one, which would attach the AWSLambdaBasicExecutionRole
    # managed policy (logs:CreateLogGroup and writes to any log group).
    role = iam.Role(scope, f"{id_}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    log_group.grant_write(role)
    function = PythonFunction(
        scope,
        id_,
        entry=str(LAMBDA_DIR),
        index="handler.py",
        handler=handler,
        runtime=lambda_.Runtime.PYTHON_3_14,
        # Graviton costs ~20% less per GB-second; bundling then runs in a linux/arm64 container, which an x86
        # Docker host runs through QEMU emulation.
        architecture=lambda_.Architecture.ARM_64,
        memory_size=sizing.memory_size_mb,
        timeout=sizing.timeout,
        ephemeral_storage_size=Size.mebibytes(sizing.ephemeral_storage_mib),
        log_group=log_group,
        role=role,
        reserved_concurrent_executions=reserved_concurrency,
        # Lambda decrypts the variables through a grant it creates for the role when the function is deployed.
        environment_encryption=encryption_key,
        # Local build artefacts (pip's egg-info from an editable install, bytecode) stay out of the zip.
        bundling=BundlingOptions(asset_excludes=["*.egg-info", "__pycache__", "*.pyc", "requirements.in"]),
        environment={
            **environment,
            "POWERTOOLS_SERVICE_NAME": service_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        },
    )
    return EngineFunction(function, role, log_group)
