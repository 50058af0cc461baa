"""How messages count: `1 row was`, `2 rows were`, `20,000 rows`; the engine's and the command line's alike."""

from __future__ import annotations


def count(number: int, noun: str) -> str:
    """`1 row`, `2 rows`, `20,000 rows`."""
    return f"{number:,} {noun if number == 1 else noun + 's'}"


def were(number: int) -> str:
    """The verb after `count(number, ...)`: `1 row was`, `2 rows were`."""
    return "was" if number == 1 else "were"
