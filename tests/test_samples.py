"""The brief's own sample files stay byte for byte what the brief gave (CRLF line ends included)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "sample-csvs"
# sha256 of the brief's files as delivered; a whitespace fixer or a git line-end conversion changes them.
BRIEF_SAMPLES = {
    "sample-good.csv": "2221a249d539eccf2eb95aaf27f2b90e724cbc1639e0824a92b4fd3130d9b68c",
    "sample-bad.csv": "7cf4983e1c619bd452aa6705fc11780a4e4a9edc0fa412947e59effabe643187",
}


@pytest.mark.parametrize(("name", "digest"), sorted(BRIEF_SAMPLES.items()))
def test_the_brief_samples_are_the_briefs_own_bytes(name: str, digest: str) -> None:
    """Each sample is the brief's file exactly, with its CRLF line ends."""
    data = (SAMPLES / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest
    assert data.count(b"\r\n") == data.count(b"\n") == 6
