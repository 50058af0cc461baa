"""The state machine definition shipped for `csv-ingest demo` (csv_ingest/infra/flows/large_file.asl.json) is the
one the stack deploys."""

import json
import re

import pytest
from aws_cdk.assertions import Template

from scripts.export_asl import ASL_FILE, PLACEHOLDERS, render


def test_packaged_definition_is_the_synthesized_one(template: Template) -> None:
    """The packaged file is byte for byte what scripts/export_asl.py renders from the default synth."""
    assert ASL_FILE.read_text() == render(template.to_json()), (
        f"{ASL_FILE.name} differs from the synthesized state machine: run scripts/export_asl.py"
    )


def test_packaged_definition_names_each_function_by_its_placeholder() -> None:
    """Each task's Resource is its function's placeholder, which the demo replaces with the emulator's ARN."""
    asl = json.loads(ASL_FILE.read_text())
    resources = {
        "Partition": asl["States"]["Partition"]["Resource"],
        "IngestPartition": asl["States"]["Ingest"]["ItemProcessor"]["States"]["IngestPartition"]["Resource"],
        "Finish": asl["States"]["Finish"]["Resource"],
    }
    assert resources == {
        "Partition": "${PartitionFunctionArn}",
        "IngestPartition": "${IngestPartitionFunctionArn}",
        "Finish": "${FinishFunctionArn}",
    }
    assert sorted(resources.values()) == sorted(PLACEHOLDERS.values())


def test_render_refuses_a_reference_it_has_no_placeholder_for() -> None:
    """A definition referring to anything but the three functions fails the export instead of shipping a token."""
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": {"Fn::Join": ["", ['{"Resource":"', {"Ref": "Queue"}, '"}']]}},
            }
        }
    }
    with pytest.raises(ValueError, match=re.escape('refers to {"Ref": "Queue"}, which has no placeholder')):
        render(template)
