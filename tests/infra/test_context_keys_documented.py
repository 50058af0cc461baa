"""The README's table of context keys lists exactly the keys app.py reads."""

import re

from app import CONTEXT_KEYS, EXISTING_KEYS
from tests.infra.synth import REPO_ROOT


def test_the_readme_lists_every_context_key_app_py_reads() -> None:
    """Each row of "Context options" is a key app.py reads, and each key it reads has a row."""
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("Context options (`-c key=value`, or in `cdk.json`):", 1)[1].split("\n\n", 2)[1]
    documented = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    assert sorted(documented) == sorted({*CONTEXT_KEYS, *EXISTING_KEYS})
    assert len(documented) == len(set(documented)), "a key is listed twice"
