"""`load` and `validate` on files in other formats: delimiters, encodings and `.csv.gz`, in one process and in
several (--workers), with a rejects report that loads again as it is."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.cli.runner import run
from tests.support import Endpoint

ROWS = 600  # enough rows for two workers to each get some


def semicolon_cp1252(path: Path) -> Path:
    """A European Excel export: semicolons, cp1252 (é, €), gzipped; line 5 has one field too many."""
    lines = ["customer_id;name;price"]
    for i in range(ROWS):
        lines.append(f"{i % 250};Zoë {i};{i},50 €" if i != 3 else "3;Zoë 3;3,50 €;extra")
    path.write_bytes(gzip.compress(("\r\n".join(lines) + "\r\n").encode("cp1252")))
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_gzipped_semicolon_cp1252_file_loads_and_its_report_loads_again(
    endpoint: Endpoint, tmp_path: Path, workers: str
) -> None:
    """The rows land decoded; the rejected one is reported with the file's delimiter (UTF-8, with its byte-order
    mark), and that report, fixed, loads with the same options."""
    source = semicolon_cp1252(tmp_path / "export.csv.gz")
    rejects = tmp_path / "rejected.csv"
    options = ("--table", endpoint.table, "--delimiter", ";", "--encoding", "cp1252", "--workers", workers)
    result = run("load", source, *options, "--rejects", rejects)
    assert result.exit_code == 2, result.output
    items = endpoint.items()
    assert len(items) == 250
    assert items["7"] == {"customer_id": "7", "name": "Zoë 507", "price": "507,50 €"}
    report = rejects.read_bytes()
    assert report.startswith("\ufeffcustomer_id;name;price;rejected_line;rejected_reason\r\n3;Zoë 3;3,50 €;5;".encode())
    fixed = tmp_path / "fixed.csv"
    fixed.write_bytes(report.replace(b"3,50 \xe2\x82\xac;5;", b"3,60 \xe2\x82\xac;;").replace(b";extra", b""))
    again = run("load", fixed, *options)
    assert again.exit_code == 0, again.output
    assert endpoint.items()["3"]["price"] == "3,60 €"


def test_a_semicolon_file_read_with_commas_fails_with_the_hint(endpoint: Endpoint, tmp_path: Path) -> None:
    """The default stays strict (commas); the message names the setting that reads the file."""
    source = tmp_path / "semi.csv"
    source.write_text("customer_id;name\n1;Ann\n")
    result = run("validate", source)
    assert result.exit_code == 1
    assert "--delimiter" in " ".join(result.output.split())
    assert run("validate", source, "--delimiter", ";").exit_code == 0


def test_an_unknown_delimiter_or_encoding_is_a_usage_error() -> None:
    """Exit 64, naming the values that are read."""
    assert run("validate", "x.csv", "--delimiter", ":").exit_code == 64
    result = run("validate", "x.csv", "--encoding", "ebcdic")
    assert result.exit_code == 64
    assert "utf-8, cp1252, latin-1, utf-16" in result.output


def test_a_comma_file_read_with_semicolons_names_the_delimiter_it_seems_to_use(tmp_path: Path) -> None:
    """With another delimiter set, the hint says which one the header seems to use and which is set."""
    source = tmp_path / "commas.csv"
    source.write_text("customer_id,name\n1,Ann\n")
    result = run("validate", source, "--delimiter", ";")
    assert result.exit_code == 1
    assert (
        "The header looks separated by commas (,), not semicolons (;); read it with `csv-ingest --delimiter ,` "
        "(deployed: the stack's context `csv_delimiter=,`)."
    ) in " ".join(result.output.split())
