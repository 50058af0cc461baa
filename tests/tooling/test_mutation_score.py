"""scripts/mutation_score.py: how a mutmut run is scored against the list of equivalent mutants."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mutation_score.py"
RULES = "csv_ingest_engine.rules.x_to_row__mutmut_"
Capture = pytest.CaptureFixture[str]


def scorer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_score", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(
    tmp_path: Path,
    capsys: Capture,
    codes: Mapping[int, int | None],
    listed: Mapping[int, str],
    *,
    partial: bool = False,
) -> tuple[int, str, str]:
    """Score a run of rules.py whose mutant N ended with exit code `codes[N]`, with `listed` as the equivalent
    mutants: the script's exit code, stdout and stderr."""
    meta = {"exit_code_by_key": {f"{RULES}{n}": code for n, code in codes.items()}}
    (tmp_path / "rules.py.meta").write_text(json.dumps(meta))
    equivalent = tmp_path / "equivalent.txt"
    equivalent.write_text("# a comment\n" + "".join(f"{RULES}{n}  # {why}\n" for n, why in listed.items()))
    code = scorer().main(tmp_path, ["rules"], equivalent, partial=partial)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_mutant_killed_or_listed_passes_with_its_score(tmp_path: Path, capsys: Capture) -> None:
    codes = dict.fromkeys(range(1, 20), 1) | {20: 0}  # 19 killed, 1 survived and listed
    code, out, err = run(tmp_path, capsys, codes, {20: "the same either way"})
    assert (code, err) == (0, "")
    assert out.splitlines()[1].split() == ["rules", "20", "19", "1", "95.0%"]


def test_a_survivor_not_listed_fails_naming_it(tmp_path: Path, capsys: Capture) -> None:
    code, _, err = run(tmp_path, capsys, dict.fromkeys(range(1, 20), 1) | {20: 0}, {})
    assert code == 1
    assert f"{RULES}20: survived" in err


def test_a_module_under_90_percent_fails_even_with_its_survivors_listed(tmp_path: Path, capsys: Capture) -> None:
    codes = dict.fromkeys(range(1, 9), 1) | {9: 0, 10: 0}  # 80% killed
    code, _, err = run(tmp_path, capsys, codes, {9: "same", 10: "same"})
    assert code == 1
    assert "rules: 80.0% of its mutants killed, under 90%" in err


def test_a_listed_mutant_a_test_kills_fails_as_a_stale_entry(tmp_path: Path, capsys: Capture) -> None:
    code, _, err = run(tmp_path, capsys, dict.fromkeys(range(1, 21), 1), {20: "same"})
    assert code == 1
    assert f"{RULES}20: listed as equivalent, but a test kills it" in err


def test_a_listed_mutant_that_timed_out_is_not_taken_for_killed(tmp_path: Path, capsys: Capture) -> None:
    """A slow machine can time out an equivalent mutant's tests: that proves nothing, and the list stands."""
    code, out, err = run(tmp_path, capsys, dict.fromkeys(range(1, 20), 1) | {20: -24}, {20: "same"})
    assert (code, err) == (0, "")
    assert out.splitlines()[1].split() == ["rules", "20", "19", "1", "95.0%"]


def test_a_mutant_no_test_runs_is_a_missing_test(tmp_path: Path, capsys: Capture) -> None:
    code, _, err = run(tmp_path, capsys, dict.fromkeys(range(1, 20), 1) | {20: 33}, {})
    assert code == 1
    assert f"{RULES}20: not run by any test" in err


def test_a_listed_name_with_no_such_mutant_is_stale(tmp_path: Path, capsys: Capture) -> None:
    code, _, err = run(tmp_path, capsys, dict.fromkeys(range(1, 21), 1), {99: "same"})
    assert code == 1
    assert f"{RULES}99: listed as equivalent, but no such mutant (stale)" in err


def test_a_module_whose_mutants_were_not_run_fails_a_whole_run(tmp_path: Path, capsys: Capture) -> None:
    code, _, err = run(tmp_path, capsys, dict.fromkeys(range(1, 21)), {})
    assert code == 1
    assert "rules: its mutants were not run" in err
    assert "no module's mutants were run" in err


def test_a_run_of_other_modules_reports_this_one_as_not_run(tmp_path: Path, capsys: Capture) -> None:
    """`scripts/mutation.sh 'csv_ingest_engine.values.*'`: rules was not meant to run; values (not in this test's
    directory) is scored on its own."""
    (tmp_path / "values.py.meta").write_text(
        json.dumps({"exit_code_by_key": {"csv_ingest_engine.values.x_f__mutmut_1": 1}})
    )
    meta = {"exit_code_by_key": {f"{RULES}{n}": None for n in range(1, 21)}}
    (tmp_path / "rules.py.meta").write_text(json.dumps(meta))
    equivalent = tmp_path / "equivalent.txt"
    equivalent.write_text("")
    code = scorer().main(tmp_path, ["rules", "values"], equivalent, partial=True)
    out, err = capsys.readouterr()
    assert (code, err) == (0, "rules: not run\n")
    assert out.splitlines()[1].split() == ["values", "1", "1", "0", "100.0%"]


def test_a_module_without_mutants_fails(tmp_path: Path, capsys: Capture) -> None:
    code, _, err = run(tmp_path, capsys, {}, {})
    assert code == 1
    assert "rules: no mutants" in err
