"""Partitioning by key, no AWS: the same partition in every process, file order kept, chunks that round-trip."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator

import pytest

from csv_ingest_engine.constants import MAX_PARTITIONS
from csv_ingest_engine.partitioning import (
    MIN_CHUNK_BYTES,
    ChunkedPartitions,
    partition_count,
    partition_of,
    read_chunk,
    route,
)
from csv_ingest_engine.reading import Record, read_stream
from csv_ingest_engine.rules import Header, key_of, parse_header

KEYS = ["1", "42", "café", "Ünïcødé-客户", "a" * 2048, "customer 7", "0007", "-1", "\u00e9"]
PARTITIONS = 7


def header(*columns: str) -> Header:
    return parse_header(list(columns), key_column="customer_id", source="t.csv")


def records(text: str) -> tuple[Header, list[str], list[Record]]:
    """The header and records `read_stream` makes of `text`."""
    first, *rest = read_stream(io.BytesIO(text.encode()), source="t.csv")
    return parse_header(first.cells, key_column="customer_id", source="t.csv"), first.cells, rest


def chunked(
    head: Header, header_cells: list[str], rows: list[Record], partitions: int, *, budget_bytes: int = 1 << 20
) -> tuple[ChunkedPartitions, dict[int, list[bytes]]]:
    """`rows` cut into chunks; the chunks each partition handed on, in order."""
    chunks: dict[int, list[bytes]] = {}

    def emit(index: int, chunk: int, data: bytes) -> None:
        assert chunk == len(chunks.setdefault(index, []))  # numbered from 0, in order
        chunks[index].append(data)

    partitions_ = ChunkedPartitions(head, header_cells, partitions, emit, budget_bytes=budget_bytes)
    partitions_.add_all(rows)
    partitions_.close()
    return partitions_, chunks


def read_back(chunks: list[bytes]) -> Iterator[tuple[list[str], Record]]:
    for data in chunks:
        cells, rows = read_chunk(io.BytesIO(data), source="t.csv")
        for row in rows:
            yield cells, row


def test_a_key_goes_to_the_same_partition_in_every_process() -> None:
    """CRC-32, not Python's salted `hash`: another interpreter, with another hash seed, computes the same partitions."""
    # given
    here = [partition_of(key, PARTITIONS) for key in KEYS]
    program = (
        "import json, sys; from csv_ingest_engine.partitioning import partition_of; "
        f"print(json.dumps([partition_of(k, {PARTITIONS}) for k in json.load(sys.stdin)]))"
    )
    # when
    elsewhere = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", program],
                input=json.dumps(KEYS),
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join(sys.path)},
            ).stdout
        )
        for seed in ("1", "2")
    ]
    # then
    assert elsewhere == [here, here]
    assert len(set(here)) > 1  # the keys do not all land in one partition


def test_spellings_of_one_key_share_a_partition() -> None:
    """A key is routed as the rules clean it (trimmed, NFC, no BOM), so every row of one item is in one partition."""
    head = header("customer_id", "name")
    spellings = [[" 42 ", "a"], ["42", "b"], ["\ufeff42", "c"]]
    cafes = [["caf\u00e9", "a"], ["cafe\u0301", "b"]]  # NFC and NFD
    for group in (spellings, cafes):
        assert len({index for index, _ in route([Record(2, cells) for cells in group], head, PARTITIONS)}) == 1


def test_a_blank_key_goes_to_partition_zero() -> None:
    """A row without a key still goes somewhere (its worker rejects it, with its line)."""
    assert partition_of(None, PARTITIONS) == 0
    assert key_of(["", "x"], header("customer_id", "name")) is None


def test_rows_keep_their_file_order_and_lines_within_a_partition() -> None:
    """Each partition's rows are the file's rows of its keys, in file order, with their original lines."""
    # given: keys repeating across the file, a quoted cell spanning lines shifting the later line numbers
    lines = ["customer_id,name"] + [f"k{i % 13},v{i}" for i in range(200)]
    lines.insert(50, 'k3,"two\nlines"')
    head, cells, rows = records("\n".join(lines) + "\n")
    # when
    partitions, chunks = chunked(head, cells, rows, PARTITIONS)
    # then
    for index in range(PARTITIONS):
        expected = [(r.line, r.cells) for r in rows if partition_of(key_of(r.cells, head), PARTITIONS) == index]
        assert [(r.line, r.cells) for _, r in read_back(chunks.get(index, []))] == expected
        assert partitions.rows[index] == len(expected)
    assert sum(partitions.rows) == len(rows) == 201
    assert rows[49].line == 51 and rows[50].line == 53  # after the two-line cell


def test_chunks_round_trip_quotes_newlines_and_long_cells() -> None:
    """Commas, quotes, CR/LF inside cells, empty cells, non-ASCII and a 300 KB cell come back exactly as read."""
    long_cell = "y" * (300 * 1024)
    text = (
        "customer_id,notes,other\r\n"
        '1,"a, b","say ""hi"""\r\n'
        '2,"line one\r\nline two",\r\n'
        "3,,\u00e9\u5ba2\r\n"
        f'4,"{long_cell}",x\r\n'
        "5,too,many,fields\r\n"
    )
    head, cells, rows = records(text)
    _, chunks = chunked(head, cells, rows, 1)
    back = list(read_back(chunks[0]))
    assert [(r.line, r.cells) for _, r in back] == [(r.line, r.cells) for r in rows]
    assert {tuple(cells) for cells, _ in back} == {("customer_id", "notes", "other")}
    assert back[3][1].cells[1] == long_cell


def test_a_chunk_is_handed_on_once_it_reaches_its_size() -> None:
    """Memory stays bounded: a partition's chunk goes as soon as it passes the chunk size (one row over at most),
    and every chunk repeats the header."""
    # given: ~2 MB of rows in one partition, with the smallest chunk size
    row = "x" * 1000
    head, cells, rows = records("customer_id,notes\n" + "".join(f"{i},{row}\n" for i in range(2000)))
    # when
    partitions, chunks = chunked(head, cells, rows, 1, budget_bytes=MIN_CHUNK_BYTES)
    # then
    sizes = [len(data) for data in chunks[0]]
    assert len(sizes) == partitions.chunks[0] > 5
    assert all(MIN_CHUNK_BYTES <= size < MIN_CHUNK_BYTES + 1100 for size in sizes[:-1])
    assert all(data.startswith(b"customer_id,notes\r\n") for data in chunks[0])
    assert sum(1 for _ in read_back(chunks[0])) == 2000


def test_the_buffers_hold_at_most_the_budget_in_memory_whatever_the_characters() -> None:
    """The budget is memory, not characters: rows of 4-byte characters (emoji) in many partitions keep the partition
    pass's allocations near the budget (text buffers would hold 4 bytes per character, 4x the budget)."""
    # given: ~16 MB of emoji rows for 8 partitions sharing a 4 MiB budget (512 KiB chunks)
    budget = 4 * 1024 * 1024
    head, cells, rows = records("customer_id,notes\n" + "".join(f"{i},{'😀' * 250}\n" for i in range(16_000)))
    emitted: list[int] = []
    partitions = ChunkedPartitions(head, cells, 8, lambda _i, _c, data: emitted.append(len(data)), budget_bytes=budget)
    # when
    tracemalloc.start()
    try:
        partitions.add_all(rows)
        partitions.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then: every row went out, and the pass never held much more than the budget
    assert sum(partitions.rows) == 16_000
    assert sum(emitted) > 3 * budget
    assert peak < 1.5 * budget


def test_a_partition_without_rows_has_no_chunk() -> None:
    """Only partitions with rows are handed on; the others have 0 chunks and 0 rows."""
    head, cells, rows = records("customer_id,name\n1,a\n1,b\n")
    partitions, chunks = chunked(head, cells, rows, PARTITIONS)
    assert list(chunks) == [partition_of("1", PARTITIONS)]
    assert sum(partitions.chunks) == 1
    assert sum(1 for r in partitions.rows if r) == 1


@pytest.mark.parametrize(
    ("size", "partition_bytes", "expected"),
    [
        (0, 100, 1),
        (1, 100, 1),
        (100, 100, 1),
        (101, 100, 2),
        (1000, 300, 4),
        (10**15, 1, MAX_PARTITIONS),
    ],
)
def test_partition_count_is_one_per_partition_bytes_within_bounds(
    size: int, partition_bytes: int, expected: int
) -> None:
    """At least one partition, one more per started `partition_bytes`, never more than MAX_PARTITIONS."""
    assert partition_count(size, partition_bytes) == expected
