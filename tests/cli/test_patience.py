"""`load --patience`: how long the table may take no write at all before rows fail."""

from __future__ import annotations

import socket

import pytest

from tests.cli.runner import SAMPLES, run


@pytest.mark.usefixtures("aws_env")
def test_patience_bounds_a_load_against_an_endpoint_that_never_answers() -> None:
    """`--patience 1`: writes to a closed port fail after a second without any write, counted as not written."""
    with socket.socket() as sock:  # a free loopback port, closed again: connections to it are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(
        "load",
        SAMPLES / "sample-good.csv",
        "--table",
        "t",
        "--endpoint-url",
        f"http://127.0.0.1:{port}",
        "--patience",
        "1",
    )
    assert result.exit_code == 1, result.output
    assert "5 rows could not be written before retries ran out (the table took no write at all for 1 s" in " ".join(
        result.output.split()
    )
