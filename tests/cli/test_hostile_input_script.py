"""benchmarks/hostile_input.py, small: issue 19's figures, measured on the emulator, come out bounded."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.cli.runner import ROOT

SCRIPT = ROOT / "benchmarks" / "hostile_input.py"


def test_the_hostile_input_script_measures_bounded_logs_and_a_report_key_s3_can_hold(aws_env: dict[str, str]) -> None:
    """5,000 rejected rows log a few kilobytes on each path (20 rows and the count, not 5,000 lines), and the
    1,023-byte key's report key is 1,024 bytes and in the bucket."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "5000", "--spread-rows", "1000"],
        env=aws_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    logged = {
        match["path"]: (int(match["bytes"].replace(",", "")), int(match["lines"].replace(",", "")))
        for match in re.finditer(
            r"^(?P<path>.+?): (?P<bytes>[\d,]+) bytes of log \((?P<lines>[\d,]+) lines\)$", result.stdout, re.M
        )
    }
    assert len(logged) == 3, result.stdout
    for size, lines in logged.values():
        assert size < 50_000 and lines < 100
    assert "1,023-byte upload key: ingested; report key 1,024 bytes, in the bucket: True" in result.stdout
