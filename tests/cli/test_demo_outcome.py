"""`csv-ingest demo` and ./run-local.sh show each upload's outcome after the table, as a subscriber and a person would
see it on AWS: the event a rule on the default bus caught, and the object version's tags, on both paths."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.runner import ROOT, SAMPLES, run

PATHS = pytest.mark.parametrize("large_file_bytes", ["8388608", "0"], ids=["one-invocation", "state-machine"])
CAUGHT = "Outcome event on the default EventBridge bus, caught by a rule on source csv-ingest: "


def shown_detail(output: str) -> dict[str, object]:
    """The event's detail, as the demo prints it (indented JSON after the event's line)."""
    start = output.index("{", output.index(CAUGHT))
    detail, _ = json.JSONDecoder().raw_decode(output[start:])
    assert isinstance(detail, dict)
    return detail


def shown_tags(output: str) -> dict[str, str]:
    """The tags table's rows: tag -> value (a value the table wraps onto lines of its own, joined by a space)."""
    tags: dict[str, str] = {}
    name = ""
    for first, value in re.findall(
        r"│ (csv-ingest:[\w-]+|\w+|) +│ ([^│]*?) +│", output[output.index("Tags of s3://") :]
    ):
        if first:
            name = first
            tags[name] = value
        elif name:
            tags[name] += f" {value}"
    return tags


@PATHS
@pytest.mark.parametrize(
    ("sample", "exit_code", "detail_type", "status", "rows"),
    [
        (
            "sample-good.csv",
            0,
            "CSV file loaded",
            "loaded",
            "written=5 rejected=0 superseded=0 failed=0 unchanged=0 deleted=0",
        ),
        (
            "edge-rejected-rows.csv",
            2,
            "CSV file loaded with rejected rows",
            "loaded-with-rejected-rows",
            "written=3 rejected=3 superseded=0 failed=0 unchanged=0 deleted=0",
        ),
        (
            "sample-bad.csv",
            1,
            "CSV file failed",
            "failed",
            "written=0 rejected=0 superseded=0 failed=0 unchanged=0 deleted=0",
        ),
    ],
)
def test_the_demo_shows_the_outcome_event_and_tags_after_the_table(
    large_file_bytes: str, sample: str, exit_code: int, detail_type: str, status: str, rows: str
) -> None:
    """A good, a partly rejected and a failed file on either path: the event (its detail type and detail: status,
    path) and the version's tags, after the table (or the failure), with the demo's usual exit code."""
    result = run("demo", SAMPLES / sample, "--large-file-bytes", large_file_bytes)
    output = result.output
    assert result.exit_code == exit_code, output
    assert f"{CAUGHT}{detail_type}\n" in output
    detail = shown_detail(output)
    path = "one-invocation" if large_file_bytes != "0" else "state-machine"
    assert (detail["status"], detail["path"], detail["key"]) == (status, path, sample)
    tags = shown_tags(output)
    assert (tags["csv-ingest:status"], tags["csv-ingest:rows"]) == (status, rows)
    assert ("csv-ingest:rejects-bucket" in tags) is (status == "loaded-with-rejected-rows")
    before = output.index("DynamoDB table") if exit_code != 1 else output.index("failed:")
    assert before < output.index(CAUGHT) < output.index("Tags of s3://csv-ingest-demo-uploads/")
    assert f"csv-ingest status s3://csv-ingest-demo-uploads/{sample} --version-id {detail['version_id']}" in (
        " ".join(output.split())
    )


def test_run_local_shows_the_outcome_event_and_tags(tmp_path: Path) -> None:
    """./run-local.sh (the demo) ends with the outcome: the event's detail type and the tags."""
    completed = subprocess.run(
        [str(ROOT / "run-local.sh"), str(SAMPLES / "edge-rejected-rows.csv")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert f"{CAUGHT}CSV file loaded with rejected rows" in completed.stdout
    assert shown_tags(completed.stdout)["csv-ingest:status"] == "loaded-with-rejected-rows"
