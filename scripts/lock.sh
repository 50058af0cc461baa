#!/usr/bin/env bash
# Compiles the locks from the pins: lambda/requirements.in -> lambda/requirements.txt (what PythonFunction bundles),
# then requirements-dev.txt (which includes it) -> requirements-dev.lock (what the bootstrap installs), and
# requirements-checkov.txt -> requirements-checkov.lock (the scanner's own venv, .venv-checkov). Every
# transitive package pinned with its hashes, resolved for every Python from 3.11 up (3.14 is the Lambda's runtime).
#   scripts/lock.sh              after changing a pin: keeps every other locked version
#   scripts/lock.sh --upgrade    also moves the transitive packages to their newest versions
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bootstrap.sh
[[ -x .venv/bin/uv ]] || source scripts/bootstrap.sh python
compile() {
    .venv/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
        --custom-compile-command "scripts/lock.sh" "$@"
}
compile lambda/requirements.in -o lambda/requirements.txt "$@"
compile requirements-dev.txt -o requirements-dev.lock "$@"
compile requirements-checkov.txt -o requirements-checkov.lock "$@"
