"""How every function of the pipeline is built from the checkout's lambda/ folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Duration, Stack

from csv_ingest.infra import engine_function as module
from csv_ingest.infra.engine_function import FunctionSizing, engine_function

SIZING = FunctionSizing(memory_size_mb=128, timeout=Duration.minutes(1), ephemeral_storage_mib=512)


def test_a_missing_code_asset_fails_the_synth_naming_the_folder_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without lambda/handler.py (the constructs imported from an installed wheel) the synth stops with a message,
    not with bundling's "Cannot find index file"."""
    # given: the asset root is a folder without the handler
    monkeypatch.setattr(module, "LAMBDA_DIR", tmp_path)
    stack = Stack(App(), "S")
    # when / then
    with pytest.raises(FileNotFoundError) as failure:
        engine_function(stack, "Fn", handler="handler", environment={}, sizing=SIZING, service_name="s")
    assert str(tmp_path) in str(failure.value)
    assert "pip install 'csv-ingest[cdk]'" in str(failure.value)
