"""Hostile inputs made cheaply, and the engine run on one in a process of its own whose peak memory is measured.

Files: a gzip file of one block repeated (each copy a gzip member of its own, ~1 KB per MiB of text: a 1 GiB line in
~1 MB, written in milliseconds), and a plain file of one long line that is sparse past its start (the reader must
fail within its first few MiB, so the rest is never read, let alone written to disk).

Run as `python -m tests.support.hostile_files ingest|partition PATH`, it prints what `ingest_file` (with a writer,
as the one-invocation path runs it) or the Partition task's `partition_file` (the object served from PATH by a
double of S3) made of the file: {"error": message or null}.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
GIB = 1024 * MIB
ROOT = Path(__file__).resolve().parents[2]
# The child's address space: enough for the engine many times over, and a guard for the machine when the code under
# test reads a whole line of a GiB after all (it then fails with MemoryError instead of taking the machine's memory).
ADDRESS_SPACE_BYTES = 4 * GIB


def repeated_gzip(path: Path, block: bytes, copies: int, *, head: bytes = b"", tail: bytes = b"") -> Path:
    """`head`, `block` `copies` times, then `tail`, gzipped: every part a gzip member of its own."""
    member = gzip.compress(block, compresslevel=9, mtime=0)
    with path.open("wb") as out:
        if head:
            out.write(gzip.compress(head, mtime=0))
        for _ in range(copies):
            out.write(member)
        if tail:
            out.write(gzip.compress(tail, mtime=0))
    return path


def sparse_line(path: Path, *, size: int, written: bytes) -> Path:
    """A file of `size` bytes without a line end: `written`, then zeros the file system does not store."""
    with path.open("wb") as out:
        out.write(written)
        out.truncate(size)
    return path


@dataclass(frozen=True)
class Measured:
    """A child process's exit code, output and peak resident memory."""

    exit_code: int
    stdout: str
    stderr: str
    peak_mib: float


def run_measured(args: Sequence[str], *, cwd: Path) -> Measured:
    """Run `python args...` with the worktree's code first on its path; measure the child's own peak RSS (wait4's
    rusage is the child's alone, not the largest of every child this process ever had)."""
    paths = [str(ROOT), str(ROOT / "lambda"), str(ROOT / "benchmarks")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    out_path, err_path = cwd / "child.out", cwd / "child.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, *args], cwd=cwd, env=env, stdout=out, stderr=err, preexec_fn=_limit_address_space
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        child.returncode,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        usage.ru_maxrss / 1024,  # KiB on Linux
    )


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))


class FileS3:
    """The S3 calls the Partition task makes, served from one local file (its object, in any bucket and key): no
    copy of the object in memory, as S3's own streaming body keeps none. Chunk objects are counted, not kept."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.chunks = 0

    def get_object(self, **request: Any) -> dict[str, Any]:
        size = self._path.stat().st_size
        if "Range" in request:  # bytes=first-last
            first, last = (int(n) for n in request["Range"].removeprefix("bytes=").split("-"))
            with self._path.open("rb") as body:
                body.seek(first)
                return {"Body": io.BytesIO(body.read(last - first + 1))}
        return {"Body": self._path.open("rb"), "ETag": '"local"', "ContentLength": size}

    def put_object(self, **_request: Any) -> dict[str, Any]:
        self.chunks += 1
        return {}


def _ingest(path: Path) -> None:
    """The one-invocation path's engine on a downloaded file: `ingest_file` with a writer (never called here)."""
    from csv_ingest_engine import ingest_file
    from tests.support.writing import table_writer

    class NoWrites:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the file was written to ({name}) before it was read whole")

    ingest_file(path, source=path.name, writer=table_writer(NoWrites()))


def _partition(path: Path) -> None:
    """The Partition task's work on the object `path` holds."""
    from csv_ingest_engine.config import EngineConfig
    from csv_ingest_engine.jobs import FileJob
    from csv_ingest_engine.ordering import now, stamp
    from csv_ingest_engine.settings import PartitionSettings
    from csv_ingest_engine.splitting import partition_file

    job = FileJob.for_upload("uploads", path.name, None, size=path.stat().st_size, sequencer="01", order=stamp(now()))
    settings = PartitionSettings(engine=EngineConfig(), work_bucket="work")
    partition_file(FileS3(path), job, settings, run_prefix=job.work_prefix, should_stop=lambda: False)  # type: ignore[arg-type]


def main(mode: str, path: Path) -> None:
    from csv_ingest_engine.errors import IngestError

    try:
        if mode == "ingest":
            _ingest(path)
        else:
            _partition(path)
    except IngestError as exc:
        print(json.dumps({"error": str(exc)}))
        return
    print(json.dumps({"error": None}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
