#!/usr/bin/env bash
# See it work with no AWS account: the real handler ingests FILE (default: the good sample) into an emulated table.
#   ./run-local.sh [FILE]
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh python

exec csv-ingest demo "$@"
