"""Hostile inputs made cheaply, and the engine run on one in a process of its own whose peak memory is measured.

Files: a gzip file of one block repeated (each copy a gzip member of its own, ~1 KB per MiB of text: a 1 GiB line in
~1 MB, written in milliseconds), and a plain file of one long line that is sparse past its start (the reader must
fail within its first few MiB, so the rest is never read, let alone written to disk).

Run as `python -m tests.support.hostile_files PEAK_FILE ingest|partition PATH`, it prints what `ingest_file` (with a
writer, as the one-invocation path runs it) or the Partition task's `partition_file` (the object served from PATH by
a double of S3) made of the file: {"error": message or null}; as `... PEAK_FILE cli ARGS...`, it runs `csv-ingest
ARGS...`. Either way it writes its peak resident memory (VmHWM) to PEAK_FILE as it exits.
"""

from __future__ import annotations

import atexit
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
# The child's address space (see `main`).
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
    """A child process's exit code, output and peak resident memory (MiB)."""

    exit_code: int
    stdout: str
    stderr: str
    peak_mib: float


def run_measured(args: Sequence[str], *, cwd: Path) -> Measured:
    """Run `python -m tests.support.hostile_files PEAK args...` with the worktree's code first on its path; its peak
    memory is what the process itself reports (VmHWM: its own since it started this program; the resident size
    that wait4 reports would count the test process it was forked from too)."""
    paths = [str(ROOT), str(ROOT / "lambda"), str(ROOT / "benchmarks")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    peak = cwd / "peak.txt"
    peak.unlink(missing_ok=True)
    child = subprocess.run(
        [sys.executable, "-m", "tests.support.hostile_files", str(peak), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return Measured(child.returncode, child.stdout, child.stderr, float(peak.read_text()))


def _peak_mib() -> float:
    """This process's peak resident memory (VmHWM), in MiB."""
    status = Path("/proc/self/status").read_text()
    (kib,) = (line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 1024


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


def main(peak: Path, mode: str, args: list[str]) -> None:
    # The peak is written however the program ends (a failed file's SystemExit, a MemoryError's traceback). The
    # address space is limited first: enough for the engine many times over, and a guard for the machine when the
    # code under test reads a whole line of a GiB after all (it then fails with MemoryError instead).
    atexit.register(lambda: peak.write_text(f"{_peak_mib():.1f}"))
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    if mode == "cli":
        from csv_ingest.cli import main as csv_ingest

        sys.argv = ["csv-ingest", *args]
        csv_ingest()
        return
    from csv_ingest_engine.errors import IngestError

    path = Path(args[0])
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
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:])
