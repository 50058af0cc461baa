#!/usr/bin/env bash
# See it work with no AWS account: the real handler ingests FILE (default: the good sample) into an emulated table.
#   ./run-local.sh [FILE]
# FILE is relative to where you run it from, as for any command: the script never changes directory.
set -euo pipefail
# shellcheck source=scripts/bootstrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bootstrap.sh" python

exec csv-ingest demo "$@"
