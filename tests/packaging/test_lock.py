"""The locks say what their inputs say: a pin changed by hand or by Dependabot without `scripts/lock.sh` fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

REPO_ROOT = Path(__file__).resolve().parents[2]
REFRESH = "run scripts/lock.sh to compile the locks again"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file, following its `-r` includes."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("-r "):
            pins.update(_pins(path.parent / line.removeprefix("-r ").strip()))
        elif match := PIN.match(line):
            pins[_name(match[1])] = match[2]
    return pins


@pytest.mark.parametrize(
    ("source", "lock"),
    [
        ("requirements-dev.txt", "requirements-dev.lock"),
        ("lambda/requirements.in", "lambda/requirements.txt"),
        ("requirements-checkov.txt", "requirements-checkov.lock"),
    ],
)
def test_the_lock_pins_every_package_its_input_pins(source: str, lock: str) -> None:
    """Each pin of the input file (and of the files it includes) is in its lock at the same version."""
    wanted = _pins(REPO_ROOT / source)
    locked = _pins(REPO_ROOT / lock)
    differing = {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version}
    assert not differing, f"{source} -> {lock}: (pinned, locked) {differing}; {REFRESH}"


def test_the_build_backend_is_the_locked_one() -> None:
    """pyproject.toml's hatchling (isolated builds) is the lock's (the bootstrap builds without isolation)."""
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    locked = _pins(REPO_ROOT / "requirements-dev.lock")
    assert requires == [f"hatchling=={locked['hatchling']}"]
