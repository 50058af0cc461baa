# Sourced by run-unit-tests.sh (and the other entry scripts): makes .venv and node_modules match the pinned
# requirements, on a fresh clone or after a pin changes, and stays quiet when nothing changed. Say which parts:
#   source scripts/bootstrap.sh python node   .venv and node_modules (the pinned CDK CLI, for synth and cfn-lint)
#   source scripts/bootstrap.sh python        .venv only (./run-local.sh: the demo needs no Node)
#   source scripts/bootstrap.sh checkov       .venv-checkov, the second scanner the infrastructure tests run
# shellcheck shell=bash

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_bootstrap_python() {
    local venv="$_root/.venv" stamp="$_root/.venv/.requirements.sha256" want
    # The lock is what gets installed; pyproject.toml for the project's own metadata (entry points, build backend).
    want="$(cat "$_root"/requirements-dev.lock "$_root"/pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "bootstrap: creating $venv" >&2
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "bootstrap: installing requirements-dev.lock into .venv" >&2
        # Every package, transitive ones too, at the locked version and checked against its hash.
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
            -r "$_root/requirements-dev.lock" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
        # The project itself, editable (the `csv-ingest` command, running the code in this checkout), built by the
        # locked hatchling already in .venv rather than one fetched into an isolated build environment.
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
            --editable "$_root" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
        echo "$want" > "$stamp"
    fi
}

_bootstrap_checkov() {
    # A venv of its own: checkov pins boto3, packaging and more to versions older than .venv's.
    local venv="$_root/.venv-checkov" stamp="$_root/.venv-checkov/.requirements.sha256" want
    want="$(sha256sum < "$_root/requirements-checkov.lock" | cut -d' ' -f1)"
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "bootstrap: creating $venv" >&2
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "bootstrap: installing requirements-checkov.lock into .venv-checkov" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
            -r "$_root/requirements-checkov.lock" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
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

if (($# == 0)); then
    echo "bootstrap.sh: say what to bootstrap (python, node, checkov)" >&2
    return 1
fi
for _part in "$@"; do
    case "$_part" in
        python) _bootstrap_python ;;
        node) _bootstrap_node ;;
        checkov) _bootstrap_checkov ;;
        *) echo "bootstrap.sh: unknown part '$_part' (python, node, checkov)" >&2; return 1 ;;
    esac
done
export PATH="$_root/.venv/bin:$_root/node_modules/.bin:$PATH"
# Offline-friendly defaults for jsii and the CDK CLI.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="${JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION:-20}"
export CDK_DISABLE_CLI_TELEMETRY=true
