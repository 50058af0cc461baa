"""The wheel as a user gets it: built from this checkout, installed in a clean venv, run from outside the repository.

Its dependencies come from PyPI (or pip's cache) at the versions in requirements-dev.lock, so the test does not
float with new releases; the `cdk` extra's (hundreds of MB) from this venv, at the same locked versions. About a
minute on a 2-core machine with a warm pip cache; deselect with `-m 'not packaging'`.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import subprocess
import sys
import sysconfig
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from packaging.requirements import Requirement

pytestmark = pytest.mark.packaging

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_GOOD = REPO_ROOT / "sample-csvs" / "sample-good.csv"
LOCK = REPO_ROOT / "requirements-dev.lock"
EXAMPLE_APP = REPO_ROOT / "examples" / "two_pipelines" / "app.py"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class Installed:
    """A venv holding the wheel and its dependencies, and nothing of this checkout."""

    root: Path
    workdir: Path

    def run(
        self, program: str, *args: str | Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the venv's programs from a folder outside the repository, with none of its paths."""
        clean = {name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "AWS_"))}
        return subprocess.run(
            [str(self.root / "bin" / program), *map(str, args)],
            cwd=self.workdir,
            env={**clean, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _pinned_constraints(lock: Path, destination: Path) -> Path:
    """The lock's `name==version ; marker` lines without their hashes (pip takes no hashes in a constraints file)."""
    pins = [re.sub(r"\s*\\$", "", line) for line in lock.read_text().splitlines() if re.match(r"^[A-Za-z0-9]", line)]
    destination.write_text("\n".join(pins) + "\n")
    return destination


def _pip(python: Path | str, *args: str | Path) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built by the locked hatchling already in this venv (no isolated build environment to fetch)."""
    lambda_dir_before = sorted(p for p in (REPO_ROOT / "lambda").rglob("*") if "__pycache__" not in p.parts)
    out = tmp_path_factory.mktemp("dist")
    _pip(sys.executable, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", out, REPO_ROOT)
    lambda_dir_after = sorted(p for p in (REPO_ROOT / "lambda").rglob("*") if "__pycache__" not in p.parts)
    assert lambda_dir_after == lambda_dir_before, "building the wheel wrote into lambda/, the function's asset folder"
    (built,) = out.glob("csv_ingest-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel and its runtime dependencies (no extras) in a fresh venv."""
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=True)
    constraints = _pinned_constraints(LOCK, root / "constraints.txt")
    _pip(root / "bin" / "python", "install", "--quiet", "--constraint", constraints, wheel)
    return Installed(root, tmp_path_factory.mktemp("elsewhere"))


@pytest.fixture(scope="module")
def installed_with_cdk(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel alone (no dependencies) in a fresh venv, with the `cdk` extra's packages (aws-cdk-lib, constructs,
    cdk-nag, at the locked versions) taken from this venv's site-packages, behind its own on sys.path. A path listed in
    a .pth file is not a site directory, so this venv's editable install of the checkout (a .pth of its own) stays out:
    csv_ingest is the wheel's."""
    root = tmp_path_factory.mktemp("venv-cdk")
    venv.create(root, with_pip=True)
    _pip(root / "bin" / "python", "install", "--quiet", "--no-deps", wheel)
    site_packages = Path(sysconfig.get_paths(vars={"base": str(root), "platbase": str(root)})["purelib"])
    (site_packages / "zz_cdk_extra.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return Installed(root, tmp_path_factory.mktemp("cdk-app"))


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 and a free port, started by this process."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_the_wheel_installs_no_handler_module(installed: Installed) -> None:
    """Only `csv_ingest` and `csv_ingest_engine` are installed: the Lambda's `handler.py` is bundled, not installed."""
    probe = "import importlib.util as u; print(u.find_spec('handler')); print(u.find_spec('csv_ingest_engine').origin)"
    result = installed.run("python", "-c", probe)
    assert result.returncode == 0, result.stderr
    handler_spec, engine_origin = result.stdout.splitlines()
    assert handler_spec == "None"
    assert Path(engine_origin).is_relative_to(installed.root)


def test_validate_runs_from_the_installed_wheel(installed: Installed) -> None:
    """`csv-ingest validate` of the brief's good sample exits 0 with every row valid."""
    result = installed.run("csv-ingest", "validate", SAMPLE_GOOD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 rows valid, 0 rejected" in result.stdout


def test_load_writes_the_rows_through_a_loopback_endpoint(installed: Installed, moto_server: str) -> None:
    """`csv-ingest load --endpoint-url` from the installed wheel puts every row in the table."""
    # given
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=moto_server,
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "customer_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # when
    result = installed.run(
        "csv-ingest", "load", SAMPLE_GOOD, "--table", "t", "--endpoint-url", moto_server, env=CREDENTIALS
    )
    # then
    assert result.returncode == 0, result.stdout + result.stderr
    items = dynamodb.scan(TableName="t")["Items"]
    names = {item["customer_id"]["S"]: item["name"]["S"] for item in items}
    assert len(names) == 5
    assert names["123456"] == "Tom"
    assert names["567890"] == "Pablo"


def test_demo_without_its_extra_says_how_to_install_it(installed: Installed) -> None:
    """`csv-ingest demo` without the `demo` extra exits 1 with the pip command that installs it, no traceback."""
    result = installed.run("csv-ingest", "demo")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "pip install 'csv-ingest[demo]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_installed_demo_has_no_dynalite_and_falls_back_to_moto(installed: Installed) -> None:
    """An installed wheel has no node_modules next to it: the demo's DynamoDB is moto, and the reason it gives is
    that dynalite is not installed (or node, on a machine without it), though this checkout has it."""
    probe = "from csv_ingest.local import dynalite; print(dynalite.missing()); print(dynalite.DYNALITE_PACKAGE)"
    result = installed.run("python", "-c", probe)
    assert result.returncode == 0, result.stderr
    reason, package = result.stdout.splitlines()
    assert reason in ("is not installed: npm ci", "needs node, not on PATH")
    assert not Path(package).is_relative_to(REPO_ROOT)


def test_the_wheel_ships_the_brief_sample_for_the_demo(installed: Installed) -> None:
    """The demo's default file is package data, byte for byte the brief's sample, found from site-packages."""
    probe = "from csv_ingest.cli import SAMPLE_GOOD; print(SAMPLE_GOOD)"
    result = installed.run("python", "-c", probe)
    assert result.returncode == 0, result.stderr
    shipped = Path(result.stdout.strip())
    assert shipped.is_relative_to(installed.root)
    assert shipped.read_bytes() == SAMPLE_GOOD.read_bytes()


def test_the_wheel_ships_the_large_file_state_machine_definition(installed: Installed) -> None:
    """The demo's state machine definition is package data, byte for byte the repository's, found from site-packages."""
    probe = (
        "from importlib import resources; "
        "print(resources.files('csv_ingest') / 'infra' / 'flows' / 'large_file.asl.json')"
    )
    result = installed.run("python", "-c", probe)
    assert result.returncode == 0, result.stderr
    shipped = Path(result.stdout.strip())
    assert shipped.is_relative_to(installed.root)
    assert shipped.read_bytes() == (REPO_ROOT / "csv_ingest" / "infra" / "flows" / "large_file.asl.json").read_bytes()


def test_the_wheel_declares_the_cdk_extra(wheel: Path) -> None:
    """aws-cdk-lib is required with the `cdk` extra only: `pip install 'csv-ingest[cdk]'` for the constructs."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata_name,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    requirements = [Requirement(line) for line in metadata.get_all("Requires-Dist", [])]
    (cdk_lib,) = [requirement for requirement in requirements if requirement.name == "aws-cdk-lib"]
    assert "cdk" in metadata.get_all("Provides-Extra", [])
    assert cdk_lib.marker is not None
    assert cdk_lib.marker.evaluate({"extra": "cdk"})
    assert not cdk_lib.marker.evaluate({"extra": ""})


def test_the_wheel_ships_the_cdk_constructs(wheel: Path) -> None:
    """csv_ingest.infra is in the wheel (importable once the `cdk` extra is installed)."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"csv_ingest/infra/__init__.py", "csv_ingest/infra/pipeline.py", "csv_ingest/infra/props.py"} <= names


def test_the_wheel_ships_the_functions_code_asset(wheel: Path) -> None:
    """handler.py, requirements.txt and the engine, byte for byte lambda/'s, ship beside the csv_ingest package."""
    asset = "csv_ingest_function_code/"
    with zipfile.ZipFile(wheel) as archive:
        names = [name for name in archive.namelist() if name.startswith(asset)]
        shipped = {name.removeprefix(asset): archive.read(name) for name in names}
    lambda_dir = REPO_ROOT / "lambda"
    expected = {
        path.relative_to(lambda_dir).as_posix(): path.read_bytes()
        for path in lambda_dir.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.name != "requirements.in"
    }
    assert shipped == expected


def test_another_cdk_app_builds_the_pipelines_from_the_installed_wheel(installed_with_cdk: Installed) -> None:
    """The two-pipeline example, run as another CDK app would be against `pip install 'csv-ingest[cdk]'` (outside
    the repository, csv_ingest from site-packages), synthesizes cdk-nag clean with the functions' code asset taken
    from the wheel's package data."""
    # given: the CDK CLI's context (feature flags, bundling skipped: no Docker here)
    context = {
        **json.loads((REPO_ROOT / "cdk.json").read_text())["context"],
        "aws:cdk:bundling-stacks": [],
        "upload_bucket_name": "acme-incoming",
    }
    outdir = installed_with_cdk.workdir / "cdk.out"
    probe = (
        "import importlib.util, json, sys\n"
        "from csv_ingest.infra import engine_function\n"
        "spec = importlib.util.spec_from_file_location('example', sys.argv[1])\n"
        "example = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(example)\n"
        "example.build_app(json.loads(sys.argv[2]), outdir=sys.argv[3]).synth()\n"
        "print(engine_function.LAMBDA_DIR)\n"
    )
    # when
    result = installed_with_cdk.run(
        "python",
        "-c",
        probe,
        EXAMPLE_APP,
        json.dumps(context),
        outdir,
        env={"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
    )
    # then
    assert result.returncode == 0, result.stdout + result.stderr
    lambda_dir = Path(result.stdout.strip().splitlines()[-1])
    assert lambda_dir.is_relative_to(installed_with_cdk.root)
    template = json.loads((outdir / "ShopImports.template.json").read_text())
    handlers = [r for r in template["Resources"].values() if r["Properties"].get("Handler") == "handler.handler"]
    assert len(handlers) == 2
    staged = {asset.name for asset in outdir.glob("asset.*") if (asset / "handler.py").is_file()}
    assert len(staged) == 1, "the functions' code was not staged from the wheel's asset"
    (asset,) = staged
    assert (outdir / asset / "handler.py").read_bytes() == (REPO_ROOT / "lambda" / "handler.py").read_bytes()
    assert (outdir / asset / "csv_ingest_engine" / "ingest.py").is_file()
