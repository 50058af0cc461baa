#!/usr/bin/env bash
# Mutation testing of the engine's pure modules (rules, values, partitioning, schema, changes) with mutmut: each small
# deliberate bug ("mutant") is put into one function at a time, and the tests that cover that function run against
# it. A mutant the tests do not notice either changes nothing a user could see (listed, with why, in
# tests/mutation/equivalent.txt) or is a missing test. Prints each module's score; exits 1 if a module is under 90%
# or a surviving mutant is not listed.
# Usage: scripts/mutation.sh [--max-children N] [MODULE-GLOB...]   (e.g. 'csv_ingest_engine.values.*': one module's
# mutants, whole; the other modules are then reported as not run)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh python

# mutmut names a mutant by its module's path below ./, src/ or source/; the engine lives in lambda/, so it runs on
# a staged copy: the engine under src/, and the tests that cover the pure modules (no AWS in them).
stage="$root/.mutation"
modules=(rules values partitioning schema changes)
tests=(
    tests/function/test_rules.py
    tests/function/test_typed_rules.py
    tests/function/test_rule_limits.py
    tests/function/test_rule_rejections.py
    tests/function/test_header_messages.py
    tests/function/test_rule_headers.py
    tests/function/test_rule_messages.py
    tests/function/test_values.py
    tests/function/test_partitioning.py
    tests/function/test_schema.py
    tests/function/test_changes.py
    tests/function/test_delete_marker_rules.py
)
rm -rf "$stage"
mkdir -p "$stage/src" "$stage/tests/function"
cp -r lambda/csv_ingest_engine "$stage/src/"
cp tests/conftest.py "$stage/tests/"
cp -r tests/support "$stage/tests/"
cp tests/function/conftest.py "${tests[@]}" "$stage/tests/function/"
quoted() { printf '"%s", ' "$@"; }
cat > "$stage/pyproject.toml" <<TOML
[tool.pytest.ini_options]
pythonpath = [".", "src", "$root/benchmarks"]
addopts = "-p no:cacheprovider"
[tool.mutmut]
source_paths = ["src"]
only_mutate = [$(quoted "${modules[@]/#/src/csv_ingest_engine/}" | sed 's/", /.py", /g')]
pytest_add_cli_args_test_selection = [$(quoted "${tests[@]}")]
TOML
find "$stage" -name __pycache__ -prune -exec rm -rf {} +

cd "$stage"
"$root/.venv/bin/mutmut" run "$@" > mutmut.log 2>&1 || { tail -40 mutmut.log >&2; exit 1; }
partial=()
for argument in "$@"; do
    [[ "$argument" == csv_ingest_engine.* ]] && partial=(--partial)
done
"$root/.venv/bin/python" "$root/scripts/mutation_score.py" "${partial[@]}" "$stage/mutants/src/csv_ingest_engine" \
    "${modules[@]}"
