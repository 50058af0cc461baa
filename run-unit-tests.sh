#!/usr/bin/env bash
# The one test command: bootstraps .venv (and the pinned CDK CLI) on a fresh clone, then lint and every test.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh

ruff check .
ruff format --check .
pytest "$@"
