"""Partition a file by key: every record goes to partition `crc32(key) % N`, in file order, with its line number.

Rows of one key then all land in one partition, in the order the file has them, so partitions can be written at
the same time with the guarantees of one writer: one key's rows applied in file order, every row written or
rejected once with its original line. The command line's worker processes take their partitions as chunks of
records over pipes; the state machine's workers take theirs as chunk objects (CSV, see `ChunkedPartitions`) in
the work bucket. No rules are applied here: the worker that ingests a partition applies them, so a row is
rejected exactly as it would be in a one-writer run.
"""

from __future__ import annotations

import csv
import io
import math
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from csv_ingest_engine.constants import MAX_PARTITIONS
from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.reading import FIELD_SIZE_LIMIT, ReadableBytes, Record
from csv_ingest_engine.rules import Header, key_of
from csv_ingest_engine.schema import gzipped

# What the partition pass may hold in memory for all partitions' chunks together, and the bounds of one chunk.
CHUNK_BUDGET_BYTES = 256 * 1024 * 1024
# The floor keeps MAX_PARTITIONS' buffers within ~313 MiB when the budget divided among them is smaller.
MIN_CHUNK_BYTES = 32 * 1024
MAX_CHUNK_BYTES = 16 * 1024 * 1024


def partition_of(key: str | None, partitions: int) -> int:
    """The partition of a row with this key (as the rules clean it; None for a blank one): the same in every
    process and on every machine (CRC-32 of the UTF-8 key, not Python's per-process salted `hash`)."""
    return zlib.crc32(key.encode()) % partitions if key else 0


# A gzipped CSV's text is taken to be at least this many times its compressed size (CSV exports compress 5-10x): its
# size decides the path and the partitions before the text is read, and overestimating costs only extra, smaller
# partitions.
GZIP_EXPANSION = 10


def content_bytes(name: str, size_bytes: int, gzip_trailer: bytes | None = None) -> int:
    """The CSV text's size, for choosing the path and the partitions. For a `.gz` object, the larger of
    GZIP_EXPANSION times its size and what its trailer says (`gzip_trailer`, the object's last 4 bytes: the
    uncompressed size of its last member, modulo 4 GiB), so that a file that compresses better than the rule of
    thumb is not taken for a small one."""
    if not gzipped(name):
        return size_bytes
    trailer = int.from_bytes(gzip_trailer, "little") if gzip_trailer and len(gzip_trailer) == 4 else 0
    return max(size_bytes * GZIP_EXPANSION, trailer)


def goes_to_state_machine(name: str, size_bytes: int, gzip_trailer: bytes | None, large_file_bytes: int) -> bool:
    """Whether a file of this name and size (and, for a `.gz`, trailer) takes the state machine: its CSV text's size
    (`content_bytes`) is over `large_file_bytes`. The one decision, for the deployed trigger and the demo alike."""
    return content_bytes(name, size_bytes, gzip_trailer) > large_file_bytes


# How far a file's text may outgrow the large-file threshold in the one invocation its estimate sent it to: the
# threshold is set so that a file at it takes under half the timeout, so twice as much still ends in time.
ESTIMATE_SLACK = 2


def one_invocation_text_limit(large_file_bytes: int) -> int:
    """The most bytes of text a file ingested in one invocation may turn out to have; past them, a `.csv.gz`'s size
    and trailer said far less than it holds (a forged or wrong trailer, a member over 4 GiB), and it goes to the
    state machine instead."""
    return ESTIMATE_SLACK * large_file_bytes


def partition_count(size_bytes: int, partition_bytes: int) -> int:
    """How many partitions a file of `size_bytes` is cut into: one per `partition_bytes`, at most MAX_PARTITIONS."""
    return max(1, min(MAX_PARTITIONS, math.ceil(size_bytes / partition_bytes)))


def route(records: Iterable[Record], header: Header, partitions: int) -> Iterator[tuple[int, Record]]:
    """Each record with the partition its key belongs to, in file order."""
    for record in records:
        yield partition_of(key_of(record.cells, header), partitions), record


# -- chunk objects: a partition as CSV, for the state machine's workers ------------------------------------------------


def chunk_key(work_prefix: str, index: int, chunk: int) -> str:
    return f"{work_prefix}partitions/p{index:05d}/c{chunk:06d}.csv"


def result_key(work_prefix: str, index: int) -> str:
    return f"{work_prefix}results/p{index:05d}.json"


def rejects_key(work_prefix: str, index: int) -> str:
    return f"{work_prefix}rejects/p{index:05d}.csv"


def manifest_key(run_prefix: str) -> str:
    """The run's partitions (a JSON list of `jobs.PartitionEntry`): the Map's items on a first pass, Finish's list."""
    return f"{run_prefix}partitions.json"


def failed_manifest_key(run_prefix: str) -> str:
    """The partitions that did not finish, as Finish found them: the Map's items on a rerun."""
    return f"{run_prefix}failed-partitions.json"


def verdict_key(run_prefix: str) -> str:
    """Finish's verdict on the run's last pass, written before it cleans up: a retried Finish answers with it."""
    return f"{run_prefix}verdict.json"


class ChunkedPartitions:
    """Routes records into `partitions` partitions and hands each one on as chunks: `emit(index, chunk, data)`
    gets the CSV bytes of the partition's next chunk whenever it reaches the chunk size, and the rest at `close`.

    A chunk is self-contained: the file's header record, then one record per row with its line number in front
    (`line,cells...`), RFC 4180-quoted. Memory stays bounded whatever the file's size: the partitions' buffers are
    UTF-8 bytes, and together they hold at most `budget_bytes` (plus one row each).
    """

    def __init__(
        self,
        header: Header,
        header_cells: list[str],
        partitions: int,
        emit: Callable[[int, int, bytes], None],
        *,
        budget_bytes: int = CHUNK_BUDGET_BYTES,
    ) -> None:
        self._header = header
        self._partitions = partitions
        self._emit = emit
        self._chunk_bytes = max(MIN_CHUNK_BYTES, min(MAX_CHUNK_BYTES, budget_bytes // partitions))
        # Each row is formatted once, in this one small text buffer, then kept as bytes: a text buffer per
        # partition would hold up to 4 bytes per character.
        self._text = io.StringIO()
        self._csv = csv.writer(self._text)
        self._header_bytes = self._encoded(header_cells)
        self._buffers = [bytearray(self._header_bytes) for _ in range(partitions)]
        self._pending = [0] * partitions  # rows in the buffer, not yet handed on
        self.chunks = [0] * partitions
        self.rows = [0] * partitions

    def add_all(self, records: Iterable[Record]) -> None:
        for index, record in route(records, self._header, self._partitions):
            buffer = self._buffers[index]
            buffer += self._encoded([record.line, *record.cells])
            self._pending[index] += 1
            if len(buffer) >= self._chunk_bytes:
                self._flush(index)

    def close(self) -> None:
        """Hand on every partition's last chunk (a partition without rows has no chunk)."""
        for index in range(self._partitions):
            if self._pending[index]:
                self._flush(index)

    def _encoded(self, cells: Sequence[object]) -> bytes:
        self._csv.writerow(cells)
        text = self._text.getvalue()
        self._text.seek(0)
        self._text.truncate()
        return text.encode()

    def _flush(self, index: int) -> None:
        self._emit(index, self.chunks[index], bytes(self._buffers[index]))
        self.chunks[index] += 1
        self.rows[index] += self._pending[index]
        self._pending[index] = 0
        # A new buffer: a cleared one would keep the capacity it grew to.
        self._buffers[index] = bytearray(self._header_bytes)


def read_chunk(raw: ReadableBytes, *, source: str) -> tuple[list[str], Iterator[Record]]:
    """The header cells and the records (with their original lines) of one chunk `ChunkedPartitions` wrote."""
    csv.field_size_limit(FIELD_SIZE_LIMIT + 64)
    text = io.TextIOWrapper(io.BufferedReader(_Raw(raw)), encoding="utf-8", newline="")
    reader = csv.reader(text, dialect="excel", strict=True)
    header_cells = next(reader, None)
    if header_cells is None:
        raise IngestError(source, "a partition chunk is empty: the work object was not written by the partition task")

    def records() -> Iterator[Record]:
        with text:
            for cells in reader:
                yield Record(int(cells[0]), cells[1:])

    return header_cells, records()


class _Raw(io.RawIOBase):
    def __init__(self, raw: ReadableBytes) -> None:
        super().__init__()
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
