"""The gates every synth passes: cdk-nag AwsSolutions, cfn-lint, and the real `cdk synth` CLI, offline."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from aws_cdk import Stack
from aws_cdk import aws_s3 as s3

from app import STACK_ID, build_app
from tests.infra.logical_ids import REJECTS_BUCKET_ID, STATE_MACHINE_ID, UPLOAD_BUCKET_ID, WORK_BUCKET_ID
from tests.infra.synth import REPO_ROOT, Synthesized, cli_context

LARGE_FILES = f"{STACK_ID}/Pipeline/LargeFiles"
# CDK's IDs for the large-file functions (the state machine's role may invoke each, versions included).
LARGE_FILE_FUNCTION_IDS = [
    "PipelineLargeFilesPartitionFunction28844A41",
    "PipelineLargeFilesIngestPartitionFunction54E98B1A",
    "PipelineLargeFilesFinishFunction60D1FB9F",
]
# How cdk-nag writes the ARN of the state machine's executions: "execution:" and the name, from its ARN.
EXECUTIONS = (
    "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
    f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{STATE_MACHINE_ID}"}}]}}]}}'
)

# Each one a finding that is inherent to the design, acknowledged with a reason at the narrowest construct.
EXPECTED_ACKNOWLEDGEMENTS = {
    (
        f"AwsSolutions-IAM5[Resource::<{UPLOAD_BUCKET_ID}.Arn>/*]",
        f"{STACK_ID}/Pipeline/Ingestion/FunctionRole/DefaultPolicy",
    ),
    (
        f"AwsSolutions-IAM5[Resource::<{REJECTS_BUCKET_ID}.Arn>/*]",
        f"{STACK_ID}/Pipeline/Ingestion/FunctionRole/DefaultPolicy",
    ),
    ("AwsSolutions-SQS3", f"{STACK_ID}/Pipeline/Storage/FailedEventsQueue/Resource"),
    (
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        f"{STACK_ID}/BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Role",
    ),
    # Every key of a bucket: object keys follow the upload's or the execution's name, chosen at run time.
    (f"AwsSolutions-IAM5[Resource::<{UPLOAD_BUCKET_ID}.Arn>/*]", f"{LARGE_FILES}/PartitionFunctionRole/DefaultPolicy"),
    (f"AwsSolutions-IAM5[Resource::<{WORK_BUCKET_ID}.Arn>/*]", f"{LARGE_FILES}/PartitionFunctionRole/DefaultPolicy"),
    (
        f"AwsSolutions-IAM5[Resource::<{WORK_BUCKET_ID}.Arn>/*]",
        f"{LARGE_FILES}/IngestPartitionFunctionRole/DefaultPolicy",
    ),
    (f"AwsSolutions-IAM5[Resource::<{WORK_BUCKET_ID}.Arn>/*]", f"{LARGE_FILES}/FinishFunctionRole/DefaultPolicy"),
    (f"AwsSolutions-IAM5[Resource::<{REJECTS_BUCKET_ID}.Arn>/*]", f"{LARGE_FILES}/FinishFunctionRole/DefaultPolicy"),
    # Finish tags the upload with the file's outcome (the trigger and Partition read the upload bucket anyway).
    (f"AwsSolutions-IAM5[Resource::<{UPLOAD_BUCKET_ID}.Arn>/*]", f"{LARGE_FILES}/FinishFunctionRole/DefaultPolicy"),
    # The state machine's role: CDK's invoke grant covers each function's versions, log delivery and X-Ray take
    # Resource * only, and the Distributed Map reaches its executions by name pattern.
    *(
        (f"AwsSolutions-IAM5[Resource::<{function_id}.Arn>:*]", f"{LARGE_FILES}/StateMachine/Role/DefaultPolicy")
        for function_id in LARGE_FILE_FUNCTION_IDS
    ),
    ("AwsSolutions-IAM5[Resource::*]", f"{LARGE_FILES}/StateMachine/Role/DefaultPolicy"),
    # The Map's item reader and result writer, under prefixes chosen at run time.
    (
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<{WORK_BUCKET_ID}>/*]",
        f"{LARGE_FILES}/StateMachine/Role/DefaultPolicy",
    ),
    (f"AwsSolutions-IAM5[Resource::{EXECUTIONS}:*]", f"{LARGE_FILES}/StateMachine/DistributedMapPolicy"),
    (f"AwsSolutions-IAM5[Resource::{EXECUTIONS}/*:*]", f"{LARGE_FILES}/StateMachine/DistributedMapPolicy"),
}


def nag_report(synth: Synthesized) -> dict[str, Any]:
    reports = [r for r in synth.validation_report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert len(reports) == 1, "cdk-nag did not report: is the AwsSolutions plugin registered?"
    return cast(dict[str, Any], reports[0])


@pytest.mark.parametrize("synth_name", ["default_synth", "custom_synth", "schema_synth", "kms_synth"])
def test_cdk_nag_passes_with_only_the_inherent_acknowledgements(
    synth_name: str, request: pytest.FixtureRequest
) -> None:
    """cdk-nag finds nothing unacknowledged, and each acknowledgement suppresses a real finding where expected."""
    report = nag_report(request.getfixturevalue(synth_name))
    assert report["violations"] == []
    acknowledged = {(v["ruleName"], v["acknowledgedAt"]) for v in report["suppressedViolations"]}
    assert acknowledged == EXPECTED_ACKNOWLEDGEMENTS


def test_cdk_nag_fails_the_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    """The same app plus a bucket without access logs or TLS enforcement does not synthesize."""
    # given
    app = build_app(cli_context(), outdir=str(tmp_path))
    s3.Bucket(cast(Stack, app.node.find_child(STACK_ID)), "Careless")
    # when / then
    with pytest.raises(RuntimeError, match="ValidationFailed") as raised:
        app.synth()
    assert "AwsSolutions-S1" in str(raised.value)
    assert "AwsSolutions-S10" in str(raised.value)


@pytest.mark.parametrize("synth_name", ["default_synth", "custom_synth", "schema_synth", "kms_synth"])
def test_template_passes_cfn_lint(synth_name: str, request: pytest.FixtureRequest) -> None:
    """cfn-lint (with the repository's .cfnlintrc.yaml) reports nothing on the synthesized template."""
    template_file = request.getfixturevalue(synth_name).template_file
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), str(template_file)], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cdk_cli_synthesizes_offline_without_docker(tmp_path: Path) -> None:
    """`CDK_SKIP_BUNDLING=1 cdk synth -q` from the repository root exits 0 and writes the stack's template."""
    cdk = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        pytest.skip("the pinned CDK CLI is not installed (./run-unit-tests.sh installs it when npm is available)")
    env = {
        **os.environ,
        "CDK_SKIP_BUNDLING": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(
        [str(cdk), "synth", "-q", "--output", str(tmp_path / "cdk.out")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "cdk.out" / f"{STACK_ID}.template.json").is_file()
