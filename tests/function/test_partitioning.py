"""Partitioning by key, no AWS: the same partition in every process, file order kept, chunks that round-trip."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator

import pytest

from csv_ingest_engine import IngestError
from csv_ingest_engine.constants import MAX_PARTITIONS
from csv_ingest_engine.partitioning import (
    MIN_CHUNK_BYTES,
    ChunkedPartitions,
    content_bytes,
    goes_to_state_machine,
    one_invocation_text_limit,
    partition_count,
    partition_of,
    read_chunk,
    route,
)
from csv_ingest_engine.reading import FIELD_SIZE_LIMIT, Record, read_stream
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


@pytest.mark.parametrize(("short", "lines_by_chunk"), [(0, [[2], [3]]), (1, [[2, 3]])])
def test_a_chunk_goes_at_exactly_its_share_of_the_budget(short: int, lines_by_chunk: list[list[int]]) -> None:
    """The budget is shared among the partitions in whole bytes (rounded down): a chunk that reaches exactly its
    share is handed on, and the next row starts another; one byte short, it takes the next row too."""
    # given: 2 partitions sharing an odd budget, and a first row that fills its partition's buffer to the byte
    share = MIN_CHUNK_BYTES + 100
    filler = "x" * (share - len("customer_id,notes\r\n") - len("2,1,\r\n") - short)
    head, cells, rows = records(f"customer_id,notes\n1,{filler}\n1,y\n")
    # when
    _, chunks = chunked(head, cells, rows, 2, budget_bytes=2 * share + 1)
    # then
    mine = chunks[partition_of("1", 2)]
    assert [[row.line for _, row in read_back([data])] for data in mine] == lines_by_chunk
    assert len(mine[0]) == share - short + (len("3,1,y\r\n") if short else 0)


def test_an_empty_chunk_fails_naming_the_object() -> None:
    """A chunk without even the header was not written by the partition task: the message says so, naming it."""
    with pytest.raises(IngestError) as error:
        read_chunk(io.BytesIO(b""), source="s3://work/runs/r1/partitions/p00003/c000000.csv")
    assert str(error.value) == (
        "s3://work/runs/r1/partitions/p00003/c000000.csv: "
        "a partition chunk is empty: the work object was not written by the partition task"
    )


def test_a_chunk_reads_cells_up_to_the_files_cell_limit_and_64_characters_more() -> None:
    """Every cell the file's reading accepts fits in a chunk with room to spare: a cell of the reading's limit plus
    64 characters reads back whole; one character more is refused as an overlong cell."""
    head = b"customer_id,notes\r\n"
    at_limit = "x" * (FIELD_SIZE_LIMIT + 64)
    _, rows = read_chunk(io.BytesIO(head + f"2,1,{at_limit}\r\n".encode()), source="c.csv")
    assert [row.cells for row in rows] == [["1", at_limit]]
    _, rows = read_chunk(io.BytesIO(head + f"2,1,{at_limit}x\r\n".encode()), source="c.csv")
    with pytest.raises(csv.Error, match="field larger than field limit"):
        list(rows)


def test_a_chunk_is_read_as_utf_8_whatever_the_machines_locale() -> None:
    """The partition task writes chunks in UTF-8: a worker on a machine whose locale is not UTF-8 (a C locale
    without Python's UTF-8 mode) reads non-ASCII cells back as one here does, exactly."""
    # given: a chunk with accented, CJK and emoji cells, as read here
    head, cells, rows = records("customer_id,notes\ncafé,客户 😀\n")
    _, chunks = chunked(head, cells, rows, 1)
    here_cells, here_rows = read_chunk(io.BytesIO(chunks[0][0]), source="c.csv")
    here = [here_cells, [[row.line, row.cells] for row in here_rows]]
    program = (
        "import json, sys; from csv_ingest_engine.partitioning import read_chunk; "
        "cells, rows = read_chunk(sys.stdin.buffer, source='c.csv'); "
        "print(json.dumps([cells, [[row.line, row.cells] for row in rows]]))"
    )
    # when
    read = subprocess.run(
        [sys.executable, "-c", program],
        input=chunks[0][0],
        capture_output=True,
        check=True,
        env={
            **os.environ,
            "LC_ALL": "C",
            "LANG": "C",
            "PYTHONUTF8": "0",
            "PYTHONCOERCECLOCALE": "0",
            "PYTHONPATH": os.pathsep.join(sys.path),
        },
    )
    # then
    assert json.loads(read.stdout) == here == [["customer_id", "notes"], [[2, ["café", "客户 😀"]]]]


@pytest.mark.parametrize(
    ("name", "size", "trailer", "expected"),
    [
        ("orders.csv", 1234, None, 1234),
        ("orders.csv", 1234, (10**6).to_bytes(4, "little"), 1234),
        ("orders.csv.gz", 1234, None, 12_340),
        ("ORDERS.CSV.GZ", 1234, None, 12_340),
        ("orders.csv.gz", 0, None, 0),
        ("orders.csv.gz", 1234, (12_341).to_bytes(4, "little"), 12_341),
        ("orders.csv.gz", 1234, (12_339).to_bytes(4, "little"), 12_340),
        ("orders.csv.gz", 1234, b"\x00\x00\x00\x01", 1 << 24),
        ("orders.csv.gz", 1234, (12_341).to_bytes(3, "little"), 12_340),
        ("orders.csv.gz", 1234, (12_341).to_bytes(5, "little"), 12_340),
        ("orders.csv.gz", 1234, b"", 12_340),
    ],
)
def test_a_files_text_size_is_its_size_or_for_gzip_the_larger_of_ten_times_and_its_trailer(
    name: str, size: int, trailer: bytes | None, expected: int
) -> None:
    """A .csv is its size; a .csv.gz (any case) is taken at 10x its size, or at the uncompressed size its 4-byte
    little-endian trailer states when that is more; a trailer that is not 4 bytes says nothing."""
    assert content_bytes(name, size, trailer) == expected


@pytest.mark.parametrize(
    ("name", "size", "trailer", "large_file_bytes", "expected"),
    [
        ("orders.csv", 8_000, None, 8_000, False),
        ("orders.csv", 8_001, None, 8_000, True),
        ("orders.csv.gz", 800, None, 8_000, False),
        ("orders.csv.gz", 801, None, 8_000, True),
        ("orders.csv.gz", 100, (8_000).to_bytes(4, "little"), 8_000, False),
        ("orders.csv.gz", 100, (8_001).to_bytes(4, "little"), 8_000, True),
    ],
)
def test_a_file_takes_the_state_machine_when_its_text_is_over_the_large_file_size(
    name: str, size: int, trailer: bytes | None, large_file_bytes: int, expected: bool
) -> None:
    """Exactly the large-file size is still ingested by the function; one byte more goes to the state machine."""
    assert goes_to_state_machine(name, size, trailer, large_file_bytes) is expected


def test_a_file_read_in_one_invocation_may_hold_twice_the_large_file_threshold_of_text() -> None:
    """The estimate's slack: past twice `large_file_bytes` of text, a .csv.gz goes to the state machine instead."""
    assert one_invocation_text_limit(8 * 1024 * 1024) == 16 * 1024 * 1024
