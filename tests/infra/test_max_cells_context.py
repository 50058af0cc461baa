"""The widest row, from CDK context to every file-reading function's environment, and a bad value's message."""

from __future__ import annotations

import pytest

from app import props_from_context
from csv_ingest_engine.config import EngineConfig, function_environment
from csv_ingest_engine.constants import (
    ENV_CSV_MAX_CELLS,
    HANDLER_FINISH,
    HANDLER_INGEST_PARTITION,
    HANDLER_PARTITION,
    HANDLER_TRIGGER,
)

FILE_READING_HANDLERS = [HANDLER_TRIGGER, HANDLER_PARTITION, HANDLER_INGEST_PARTITION, HANDLER_FINISH]


@pytest.mark.parametrize("handler", FILE_READING_HANDLERS)
def test_csv_max_cells_reaches_every_function_that_reads_rows(handler: str) -> None:
    """-c csv_max_cells=1000: each function is told, and reads back, 1,000."""
    variables = props_from_context({"csv_max_cells": "1000"}).engine.for_function(handler)
    assert variables[ENV_CSV_MAX_CELLS] == "1000"
    with function_environment(variables):
        assert EngineConfig.from_env().fmt.max_cells == 1000


def test_the_default_leaves_the_environment_as_it_was() -> None:
    """Left at its default (65,536), the setting adds no variable: a deployment keeps the environment it had."""
    engine = props_from_context({}).engine
    assert engine.fmt.max_cells == 65_536
    assert ENV_CSV_MAX_CELLS not in engine.for_function(HANDLER_TRIGGER)


@pytest.mark.parametrize("value", ["0", "409601", "lots", "-5"])
def test_a_csv_max_cells_out_of_range_fails_the_synth_naming_it(value: str) -> None:
    """From 1 to 409,600 (an item's 400 KB holds no more attributes); anything else fails, naming the key."""
    with pytest.raises(ValueError, match=r"context csv_max_cells: .* is not a number of cells from 1 to 409,600"):
        props_from_context({"csv_max_cells": value})


def test_a_malformed_variable_fails_the_invocation_naming_it() -> None:
    """A function told CSV_MAX_CELLS=many fails at once, naming the variable."""
    with function_environment({ENV_CSV_MAX_CELLS: "many"}), pytest.raises(RuntimeError, match=ENV_CSV_MAX_CELLS):
        EngineConfig.from_env()
