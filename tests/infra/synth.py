"""Synthesizing the real app (`build_app`, cdk-nag included) the way `cdk synth` does, for the tests."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Stack
from aws_cdk.assertions import Template

from app import STACK_ID, build_app

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli_context(**overrides: Any) -> dict[str, Any]:
    """The context `cdk synth` gives the app: cdk.json's feature flags, bundling skipped (no Docker), then `-c`s."""
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return {**context, "aws:cdk:bundling-stacks": [], **overrides}


@dataclass(frozen=True)
class Synthesized:
    template: Template
    template_file: Path
    validation_report: dict[str, Any]


def synthesize(outdir: Path, **context: Any) -> Synthesized:
    app = build_app(cli_context(**context), outdir=str(outdir))
    # Runs the validation plugins: raises on any unacknowledged cdk-nag finding.
    assembly = app.synth()
    stack = app.node.find_child(STACK_ID)
    assert isinstance(stack, Stack)
    return Synthesized(
        template=Template.from_stack(stack),
        template_file=Path(assembly.get_stack_artifact(stack.artifact_id).template_full_path),
        validation_report=json.loads((outdir / "validation-report.json").read_text()),
    )
