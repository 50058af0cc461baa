"""The DynamoDB a test runs against: moto, or dynalite, a second and independent implementation (npm, on node).

moto and dynalite each differ from DynamoDB somewhere (moto: item size, partial items behind refused updates, long
update expressions, no 16 MB request limit; dynalite: string sizes in UTF-16 units), so a test that passes on both
codes to DynamoDB's documented behaviour rather than to one emulator's.
"""

from __future__ import annotations

import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine.constants import BOOKKEEPING_PREFIX

BackendName = Literal["moto", "dynalite"]
DYNAMODB_BACKENDS: Final[tuple[BackendName, ...]] = ("moto", "dynalite")

DYNALITE_PACKAGE = Path(__file__).resolve().parents[2] / "node_modules" / "dynalite"
START_TIMEOUT_S = 20.0
TABLE_ACTIVE_TIMEOUT_S = 10.0

# Port 0 lets the system pick a free port, which the server prints once it listens. Tables turn ACTIVE (and deleted
# ones go) on the next tick instead of after dynalite's default half second, since every test creates its own table;
# they still start CREATING, so waiting for ACTIVE stays as it is on DynamoDB. The store is in memory (no `path`):
# no LevelDB files. Node exits when its stdin closes, so a test run that is killed leaves no server behind.
_START_SCRIPT = """
const dynalite = require(process.argv[1]);
const server = dynalite({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.stdin.on("end", () => process.exit(0)).resume();
"""


@dataclass(frozen=True, slots=True)
class DynamoDBBackend:
    """Which DynamoDB a test's requests reach; `url` is dynalite's, None for moto (wherever the test's S3 is)."""

    name: BackendName
    url: str | None


class Dynalite:
    """A dynalite server on 127.0.0.1 and a free port, in a node process of its own."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    def start(cls) -> Dynalite:
        """Start dynalite and return once it answers; raise, saying what is missing, if it cannot start."""
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH: the dynalite tests need Node.js 20 or later")
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
        return boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="dynalite",
            aws_secret_access_key="dynalite",
            config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
        )

    def _wait_until_it_answers(self) -> None:
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


def create_table(
    client: Any,
    table: str,
    key_column: str,
    *,
    key_schema: list[dict[str, str]] | None = None,
    definitions: list[dict[str, str]] | None = None,
) -> None:
    """Create a table (by default the stack's kind: string hash key) on demand, and wait until it is ACTIVE.

    DynamoDB (and dynalite) create a table CREATING, and refuse writes to it until then; moto's is ACTIVE at once.
    """
    client.create_table(
        TableName=table,
        KeySchema=key_schema or [{"AttributeName": key_column, "KeyType": "HASH"}],
        AttributeDefinitions=definitions or [{"AttributeName": key_column, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    deadline = time.monotonic() + TABLE_ACTIVE_TIMEOUT_S
    while client.describe_table(TableName=table)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table} was not ACTIVE within {TABLE_ACTIVE_TIMEOUT_S:.0f} s")
        time.sleep(0.01)


def table_items(client: Any, table: str, key_column: str, *, bookkeeping: bool = False) -> dict[str, dict[str, str]]:
    """The table's contents: key -> {attribute: string value}, key included; the pipeline's own attributes (named
    `_csv_ingest...`, such as the upload order stamp) left out, as `--export` leaves them, unless `bookkeeping`."""
    items: dict[str, dict[str, str]] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            plain = {
                name: value["S"]
                for name, value in item.items()
                if bookkeeping or not name.startswith(BOOKKEEPING_PREFIX)
            }
            items[plain[key_column]] = plain
    return items
