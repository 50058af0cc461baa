"""Each module's mutation score from a mutmut run (scripts/mutation.sh), against the list of equivalent mutants.

Usage: mutation_score.py [--partial] MUTANTS_DIR MODULE...   (MUTANTS_DIR: the run's mutants/src/csv_ingest_engine;
--partial: the run tested some modules' mutants only, and the others are reported as not run)

A mutant is killed when a test failed (or timed out) with it in place; equivalent when it is listed in
tests/mutation/equivalent.txt (`name  # why it cannot change behaviour`). Any other mutant is a missing test: the
script lists each one and exits 1; so does a listed mutant that no longer survives (the list stays true), and a
module whose killed share is under TARGET.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET = 0.90
EQUIVALENT = Path(__file__).resolve().parents[1] / "tests" / "mutation" / "equivalent.txt"
# mutmut's exit codes for a mutant's test run (mutmut.stats.status_by_exit_code): a failed run, an internal error
# of pytest, a timeout (the mutant made a test loop) all mean the tests noticed.
KILLED = {1, 3, 24, -24, 152, 255}
FAILED = {1, 3}
SURVIVED = 0


def equivalent_mutants(path: Path = EQUIVALENT) -> dict[str, str]:
    """The listed equivalent mutants and why each cannot change what a user sees."""
    listed: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, _, why = text.partition("#")
        if not why.strip():
            sys.exit(f"{path}:{number}: {name.strip()} needs a reason after '#'")
        listed[name.strip()] = why.strip()
    return listed


def main(mutants_dir: Path, modules: list[str], equivalent: Path = EQUIVALENT, *, partial: bool = False) -> int:
    """Print the score table, and each problem on stderr; 1 if there is one. With `partial`, a module whose mutants
    were not run is only reported as such."""
    listed = equivalent_mutants(equivalent)
    problems: list[str] = []
    rows = []
    seen: set[str] = set()
    for module in modules:
        codes: dict[str, int | None] = json.loads((mutants_dir / f"{module}.py.meta").read_text())["exit_code_by_key"]
        seen.update(codes)
        if not codes:
            problems.append(f"{module}: no mutants (is it the module meant?)")
            continue
        if all(code is None for code in codes.values()):
            if not partial:
                problems.append(f"{module}: its mutants were not run")
            print(f"{module}: not run", file=sys.stderr)
            continue
        row, module_problems = _scored(module, codes, listed)
        rows.append(row)
        problems += module_problems
    if not rows:
        problems.append("no module's mutants were run (does the glob name a module's mutants?)")
    if not partial:
        problems += [f"{name}: listed as equivalent, but no such mutant (stale)" for name in sorted(set(listed) - seen)]

    print(f"{'module':<14}{'mutants':>9}{'killed':>9}{'equivalent':>12}{'score':>9}")
    for module, total, killed, equivalent_count, score in rows:
        print(f"{module:<14}{total:>9}{killed:>9}{equivalent_count:>12}{score:>9.1%}")
    for problem in sorted(problems):
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _scored(
    module: str, codes: dict[str, int | None], listed: dict[str, str]
) -> tuple[tuple[str, int, int, int, float], list[str]]:
    """One module's row (name, mutants, killed, equivalent, score) and its problems."""
    problems = []
    killed = equivalent = 0
    for name, code in sorted(codes.items()):
        if code in FAILED and name in listed:
            problems.append(f"{name}: listed as equivalent, but a test kills it (remove it from the list)")
        if code in FAILED or (code in KILLED and name not in listed):
            killed += 1
        elif name in listed and (code == SURVIVED or code in KILLED):
            # A listed mutant that timed out proves nothing: a slow machine can time one out.
            equivalent += 1
        else:
            status = "survived" if code == SURVIVED else "not run by any test" if code in (5, 33) else f"exit {code}"
            problems.append(f"{name}: {status} (mutmut show {name})")
    score = killed / len(codes) if codes else 1.0
    if score < TARGET:
        problems.append(f"{module}: {score:.1%} of its mutants killed, under {TARGET:.0%}")
    return (module, len(codes), killed, equivalent, score), problems


if __name__ == "__main__":
    arguments = sys.argv[1:]
    partial = arguments[:1] == ["--partial"]
    arguments = arguments[1:] if partial else arguments
    sys.exit(main(Path(arguments[0]), arguments[1:], partial=partial))
