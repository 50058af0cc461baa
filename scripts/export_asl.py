#!/usr/bin/env python3
"""Write csv_ingest/infra/flows/large_file.asl.json: the large-file state machine's definition as the default synth
renders it, each function's ARN a placeholder, for `csv-ingest demo`, which creates the state machine without CDK.

Run it after changing the state machine (tests/infra/test_packaged_definition.py fails until you do):
    .venv/bin/python scripts/export_asl.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from csv_ingest_engine.constants import HANDLER_FINISH, HANDLER_INGEST_PARTITION, HANDLER_PARTITION

REPO_ROOT = Path(__file__).resolve().parent.parent
ASL_FILE = REPO_ROOT / "csv_ingest" / "infra" / "flows" / "large_file.asl.json"
# The entry point each task's function runs -> the placeholder standing for that function's ARN.
PLACEHOLDERS = {
    f"handler.{HANDLER_PARTITION}": "${PartitionFunctionArn}",
    f"handler.{HANDLER_INGEST_PARTITION}": "${IngestPartitionFunctionArn}",
    f"handler.{HANDLER_FINISH}": "${FinishFunctionArn}",
}
# The Map reads its items from, and writes its results to, the work bucket (the bucket whose lifecycle rule is this).
WORK_BUCKET_RULE = "ExpireWorkObjects"
WORK_BUCKET_PLACEHOLDER = "${WorkBucketName}"


def render(template: Mapping[str, Any]) -> str:
    """The definition of `template`'s one state machine, as the packaged file holds it (indented JSON)."""
    resources: Mapping[str, Any] = template["Resources"]
    (definition,) = [
        resource["Properties"]["DefinitionString"]
        for resource in resources.values()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    arns = {
        logical_id: PLACEHOLDERS[resource["Properties"]["Handler"]]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("Handler") in PLACEHOLDERS
    }
    arns.update(
        {
            logical_id: WORK_BUCKET_PLACEHOLDER
            for logical_id, resource in resources.items()
            if resource["Type"] == "AWS::S3::Bucket"
            and any(
                rule.get("Id") == WORK_BUCKET_RULE
                for rule in resource["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
            )
        }
    )
    if isinstance(definition, str):
        text = definition
    else:
        separator, parts = definition["Fn::Join"]
        text = separator.join(_placeholder(part, arns) for part in parts)
    return json.dumps(json.loads(text), indent=2) + "\n"


def _placeholder(part: Any, arns: Mapping[str, str]) -> str:
    if isinstance(part, str):
        return part
    match part:
        case {"Fn::GetAtt": [str(logical_id), "Arn"]} if logical_id in arns:
            return arns[logical_id]
        case {"Ref": str(logical_id)} if logical_id in arns:
            return arns[logical_id]
        case {"Ref": "AWS::Partition"}:  # in the ARNs of the Map's S3 integrations
            return "aws"
    raise ValueError(f"the definition refers to {json.dumps(part)}, which has no placeholder: add one to PLACEHOLDERS")


def synthesized_template() -> dict[str, Any]:
    """The default deployment's template, synthesized as `cdk synth` does (cdk.json's context, no bundling)."""
    sys.path[:0] = [str(REPO_ROOT)]  # app.py, which is not installed
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # read when aws_cdk is imported
    from app import STACK_ID, build_app

    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    with tempfile.TemporaryDirectory() as outdir:
        build_app({**context, "aws:cdk:bundling-stacks": []}, outdir=outdir).synth()
        return cast(dict[str, Any], json.loads((Path(outdir) / f"{STACK_ID}.template.json").read_text()))


def main() -> None:
    ASL_FILE.parent.mkdir(exist_ok=True)
    ASL_FILE.write_text(render(synthesized_template()))
    print(f"wrote {ASL_FILE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
