#!/usr/bin/env bash
# The one test command: bootstraps .venv (and the pinned CDK CLI, and checkov's venv) on a fresh clone, then lint, types
# and every test.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh python node checkov

ruff check .
ruff format --check .
mypy
pytest "$@"
