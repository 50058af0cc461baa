# Sourced by run-unit-tests.sh (and the other entry scripts): makes .venv and node_modules match the pinned
# requirements, on a fresh clone or after a pin changes, and stays quiet when nothing changed. Say which parts:
#   source scripts/bootstrap.sh python node   .venv and node_modules (the pinned CDK CLI, for synth and cfn-lint)
#   source scripts/bootstrap.sh python        .venv only (./run-local.sh: the demo needs no Node)
#   source scripts/bootstrap.sh checkov       .venv-checkov, the second scanner the infrastructure tests run
# shellcheck shell=bash

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# _venv_from_lock VENV LOCK THEN [FILE...]: the venv VENV holding exactly the hashed LOCK (every package, transitive
# ones too, at its locked version and checked against its hash), installed again when LOCK or a FILE changes; THEN
# (a function given the venv's path, or `:`) runs after each install, before the venv counts as up to date.
_venv_from_lock() {
    local venv="$_root/$1" lock="$2" then="$3" stamp want
    stamp="$venv/.requirements.sha256"
    want="$(cat "$_root/$lock" "${@:4}" | sha256sum | cut -d' ' -f1)"
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "bootstrap: creating $venv" >&2
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "bootstrap: installing $lock into $1" >&2
        _pip "$venv" --require-hashes -r "$_root/$lock"
        "$then" "$venv"
        echo "$want" > "$stamp"
    fi
}

_pip() {
    local venv="$1"
    shift
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

# The project itself, editable (the `csv-ingest` command, running the code in this checkout), built by the locked
# hatchling already in the venv rather than one fetched into an isolated build environment.
_install_project() {
    _pip "$1" --no-deps --no-build-isolation --editable "$_root"
}

_bootstrap_python() {
    # The lock is what gets installed; pyproject.toml for the project's own metadata (entry points, build backend).
    _venv_from_lock .venv requirements-dev.lock _install_project "$_root/pyproject.toml"
}

_bootstrap_checkov() {
    # A venv of its own: checkov pins boto3, packaging and more to versions older than .venv's.
    _venv_from_lock .venv-checkov requirements-checkov.lock :
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
