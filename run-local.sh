#!/usr/bin/env bash
# See it work with no AWS account: the real handler ingests FILE (default: the good sample) into an emulated table.
#   ./run-local.sh [FILE] [--large-file-bytes N] [--export PATH] [--mode merge|replace]
#                  [--encoding E] [--delimiter D] [--type COLUMN=TYPE] [--key-type T] [--sort-key-column C] ...
# A file whose text is over N bytes (default: the stack's threshold; 0: any file) goes through the large-file state
# machine; --export writes the resulting table as CSV, to compare two runs with diff; the format, type and key
# options are load's. The table is on dynalite when node_modules has it, else moto. Every option is `csv-ingest
# demo`'s.
# FILE is relative to where you run it from, as for any command: the script never changes directory.
set -euo pipefail
# shellcheck source=scripts/bootstrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bootstrap.sh" python

exec csv-ingest demo "$@"
