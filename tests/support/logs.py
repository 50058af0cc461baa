"""What CloudWatch Logs would receive from the function, read back: JSON log lines and EMF metrics."""

from __future__ import annotations

import json
from typing import Any


def json_logs(out: str) -> list[dict[str, Any]]:
    """The JSON log lines (Powertools Logger) in captured stdout, in order; EMF metric blobs excluded."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" not in line]


def emf_metrics(out: str) -> dict[str, list[float]]:
    """The values of every EMF metric in captured stdout, by metric name."""
    values: dict[str, list[float]] = {}
    for line in out.splitlines():
        blob = json.loads(line) if line.startswith("{") else {}
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return values
