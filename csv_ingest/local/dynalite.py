"""dynalite (npm, run by node): a DynamoDB on 127.0.0.1 that the demo puts its table on when it is installed (moto's
in-process DynamoDB takes close to a minute for ten rows of 4,000 columns), and the tests' second DynamoDB."""

from __future__ import annotations

import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

# Where `npm ci` puts it in a checkout. An installed wheel has no node_modules next to it: the demo then uses moto.
DYNALITE_PACKAGE = Path(__file__).resolve().parents[2] / "node_modules" / "dynalite"
START_TIMEOUT_S = 20.0

# Port 0 lets the system pick a free port, which the server prints once it listens. Tables turn ACTIVE (and deleted
# ones go) on the next tick instead of after dynalite's default half second; they still start CREATING, so waiting
# for ACTIVE stays as it is on DynamoDB. The store is in memory (no `path`): no LevelDB files. Node exits when its
# stdin closes, so a process that is killed leaves no server behind.
_START_SCRIPT = """
const dynalite = require(process.argv[1]);
const server = dynalite({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.stdin.on("end", () => process.exit(0)).resume();
"""


def missing() -> str | None:
    """Why dynalite cannot be started here, to follow "dynalite" ("needs node, not on PATH"), or None if it can."""
    if shutil.which("node") is None:
        return "needs node, not on PATH"
    if not (DYNALITE_PACKAGE / "package.json").is_file():
        return "is not installed: npm ci"
    return None


class Dynalite:
    """A dynalite server on 127.0.0.1 and a free port, in a node process of its own."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    def start(cls) -> Dynalite:
        """Start dynalite and return once it answers; raise RuntimeError, saying what is missing, if it cannot."""
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH: dynalite needs Node.js 20 or later")
        if not (DYNALITE_PACKAGE / "package.json").is_file():
            raise RuntimeError(f"{DYNALITE_PACKAGE} is missing: run `npm ci` (./run-unit-tests.sh does)")
        # What node says on stderr is the error to show if it does not start; it is kept in a file, as a pipe
        # nobody reads after start-up would block the server once full.
        with tempfile.TemporaryFile(mode="w+") as errors:
            process = subprocess.Popen(
                [node, "-e", _START_SCRIPT, str(DYNALITE_PACKAGE)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
            try:
                server = cls(process, _read_port(process, errors))
                server._wait_until_it_answers()
            except BaseException:
                process.kill()
                process.wait()
                raise
        return server

    def stop(self) -> None:
        # Closing stdin is how the server is told to exit (see the start script).
        try:
            self.process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()

    def client(self) -> Any:
        """A client of this server that needs nothing from the environment (session fixtures run before any)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="dynalite",
            aws_secret_access_key="dynalite",
            config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
        )

    def _wait_until_it_answers(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                client.list_tables()
                return
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def _read_port(process: subprocess.Popen[str], errors: IO[str]) -> int:
    """The port the server printed once listening; what node said instead, as the error, if it did not."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    if line.strip().isdigit():
        return int(line)
    errors.seek(0)
    said = errors.read().strip() or f"no output within {START_TIMEOUT_S:.0f} s"
    raise RuntimeError(f"dynalite did not start ({DYNALITE_PACKAGE}): {said}")
