"""A second scanner agrees: checkov (its own venv, .venv-checkov) finds nothing in the synthesized templates beyond
the findings tests/infra/checkov_acknowledgements.py acknowledges, with their reasons."""

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.checkov_acknowledgements import (
    ACKNOWLEDGEMENTS,
    CUSTOM,
    DEFAULT,
    EVERY_TEMPLATE,
    EXISTING,
    KMS,
    acknowledged,
)
from tests.infra.synth import REPO_ROOT, Synthesized

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
# The default template plus one queue with no encryption at all, which checkov must report (CKV_AWS_27).
CARELESS = "careless"
CARELESS_QUEUE = "AWS::SQS::Queue.CarelessQueue"


@dataclass(frozen=True)
class Scan:
    """What checkov reported, per template name: its findings as (check, resource), and how many checks passed."""

    findings: dict[str, set[tuple[str, str]]]
    passed: dict[str, int]
    check_names: dict[str, str]
    parsing_errors: int


@pytest.fixture(scope="session")
def checkov_scan(
    default_synth: Synthesized,
    custom_synth: Synthesized,
    kms_synth: Synthesized,
    existing_synth: Synthesized,
    tmp_path_factory: pytest.TempPathFactory,
) -> Scan:
    """One checkov run over every template (each run spends seconds starting up)."""
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} is missing: ./run-unit-tests.sh creates it (scripts/bootstrap.sh checkov)")
    files = {
        DEFAULT: default_synth.template_file,
        CUSTOM: custom_synth.template_file,
        KMS: kms_synth.template_file,
        EXISTING: existing_synth.template_file,
    }
    careless = json.loads(default_synth.template_file.read_text())
    careless["Resources"]["CarelessQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    workdir = tmp_path_factory.mktemp("checkov")
    files[CARELESS] = workdir / "careless.template.json"
    files[CARELESS].write_text(json.dumps(careless))
    # --skip-download: offline, no call to the Prisma Cloud API (guidelines, severities) it otherwise tries.
    command = [str(CHECKOV), "--framework", "cloudformation", "--output", "json", "--compact"]
    command += ["--skip-download", *(arg for path in files.values() for arg in ("--file", str(path)))]
    # Run away from the repository: checkov would read a .checkov.yaml there.
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, check=False)
    # 0: no failed check, 1: some (the acknowledged ones); anything else is checkov itself failing.
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report = json.loads(result.stdout)
    names = {str(path.resolve()): name for name, path in files.items()}

    def template(check: dict[str, Any]) -> str:
        return names[str(Path(check["file_abs_path"]).resolve())]

    findings: dict[str, set[tuple[str, str]]] = {name: set() for name in files}
    check_names: dict[str, str] = {}
    for failed in report["results"]["failed_checks"]:
        findings[template(failed)].add((failed["check_id"], failed["resource"]))
        check_names[failed["check_id"]] = failed["check_name"]
    passed = dict.fromkeys(files, 0)
    for check in report["results"]["passed_checks"]:
        passed[template(check)] += 1
    return Scan(findings, passed, check_names, report["summary"]["parsing_errors"])


def test_checkov_read_every_template(checkov_scan: Scan) -> None:
    """checkov parsed each template and ran its CloudFormation checks: a scan that read nothing would pass anything."""
    assert checkov_scan.parsing_errors == 0
    # ~170 of its checks pass on each (buckets, table, queue, topic, functions, roles, log groups, state machine)
    assert all(count > 100 for count in checkov_scan.passed.values()), checkov_scan.passed


@pytest.mark.parametrize("template", sorted(EVERY_TEMPLATE))
def test_checkov_finds_only_the_acknowledged(checkov_scan: Scan, template: str) -> None:
    """Every finding is acknowledged (with its reason) and every acknowledgement still matches a finding."""
    found, expected = checkov_scan.findings[template], acknowledged(template)
    new = sorted(f"{check} {resource}: {checkov_scan.check_names[check]}" for check, resource in found - expected)
    assert not new, "new checkov findings: fix them, or acknowledge them in checkov_acknowledgements.py:\n" + "\n".join(
        new
    )
    stale = sorted(expected - found)
    assert not stale, f"acknowledged in checkov_acknowledgements.py but not found any more (remove them): {stale}"


def test_checkov_reports_a_finding_nobody_acknowledged(checkov_scan: Scan) -> None:
    """The default template plus an unencrypted queue: checkov reports the queue, and nothing acknowledges it."""
    assert checkov_scan.findings[CARELESS] - acknowledged(DEFAULT) == {("CKV_AWS_27", CARELESS_QUEUE)}


def test_every_acknowledgement_says_why() -> None:
    """Each acknowledgement names resources and gives a reason a reviewer can check."""
    assert all(ack.resources and len(ack.reason) > 40 for ack in ACKNOWLEDGEMENTS)
