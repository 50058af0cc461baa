# Sourced by run-unit-tests.sh (and the other entry scripts): makes .venv and node_modules match the pinned
# requirements, on a fresh clone or after a pin changes, and stays quiet when nothing changed.
# shellcheck shell=bash

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_bootstrap_python() {
    local venv="$_root/.venv" stamp="$_root/.venv/.requirements.sha256" want
    want="$(cat "$_root"/requirements.txt "$_root"/requirements-dev.txt "$_root"/lambda/requirements.txt \
        "$_root"/pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "bootstrap: creating $venv" >&2
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "bootstrap: installing requirements-dev.txt into .venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$_root/requirements-dev.txt" \
            2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
        # The project itself, editable: the `csv-ingest` command, running the code in this checkout.
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --editable "$_root" \
            2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
        echo "$want" > "$stamp"
    fi
}

_bootstrap_node() {
    local stamp="$_root/node_modules/.package-lock.sha256" want
    command -v npm > /dev/null || { echo "bootstrap: npm not found; skipping the CDK CLI" >&2; return 0; }
    want="$(sha256sum < "$_root/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "bootstrap: installing the pinned CDK CLI (npm ci)" >&2
        (cd "$_root" && npm ci --silent --no-audit --no-fund)
        echo "$want" > "$stamp"
    fi
}

_bootstrap_python
_bootstrap_node
export PATH="$_root/.venv/bin:$_root/node_modules/.bin:$PATH"
# Offline-friendly defaults for jsii and the CDK CLI.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="${JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION:-20}"
export CDK_DISABLE_CLI_TELEMETRY=true
