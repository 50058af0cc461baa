"""Issue 19's hostile inputs, measured for memory: each file read by each path in a process of its own, which
reports its peak resident memory (VmHWM) as it exits.

    PYTHONPATH=.:lambda .venv/bin/python benchmarks/hostile_memory.py [DIR]

The files (written to DIR, default a temporary folder; about 1 GiB of it a sparse file): a 263 KiB `.csv.gz` whose
one header row has 268,435,457 cells, a 1 MiB `.csv.gz` that expands to one line of 1 GiB, and that line as a plain
`.csv`. The paths: the trigger's (`ingest`: the first pass, then the rows), Partition's (`partition`), and
`csv-ingest validate --json` (`cli`). Each line says the peak, the exit code and the start of what the run said.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambda")]

from tests.support.hostile_files import GIB, MIB, repeated_gzip, run_measured, sparse_line  # noqa: E402


def main(folder: Path) -> None:
    files = {
        "wide.csv.gz (268,435,457 cells)": repeated_gzip(folder / "wide.csv.gz", b"," * MIB, 256, head=b"customer_id"),
        "line.csv.gz (1 GiB line)": repeated_gzip(folder / "line.csv.gz", b"a" * MIB, 1024),
        "line.csv (1 GiB line, plain)": sparse_line(folder / "line.csv", size=GIB, written=b"a" * (8 * MIB)),
    }
    for label, path in files.items():
        for args in (["ingest", str(path)], ["partition", str(path)], ["cli", "validate", str(path), "--json"]):
            run = run_measured(args, cwd=folder)
            said = (run.stdout.strip() or (run.stderr.strip().splitlines() or [""])[-1])[:100]
            print(f"{label:32} {args[0]:10} peak {run.peak_mib:7,.0f} MiB  exit {run.exit_code}  {said}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder))
