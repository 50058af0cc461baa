"""`changed` mode on both DynamoDB backends: a file loaded again writes only the rows that would change their item,
read back in BatchGetItem requests, and leaves the table as merge would.

Each load goes through a client that records the calls the engine makes, so that a test sees which rows were
written, and which were not.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from csv_ingest_engine import FileResult, ingest_file
from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE, WriteMode
from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.schema import KeyAttribute, Schema
from csv_ingest_engine.writing import TableWriter
from handler import handler
from tests.support import KEY_COLUMN, Aws, DemoContext, create_table, emf_metrics, json_logs

FIRST = Ordering(DEFAULT_ORDER_ATTRIBUTE, "2026-12-01T09:00:00.000000Z 000000000000000000000001")
SECOND = Ordering(DEFAULT_ORDER_ATTRIBUTE, "2026-12-02T09:00:00.000000Z 000000000000000000000001")
THIRD = Ordering(DEFAULT_ORDER_ATTRIBUTE, "2026-12-03T09:00:00.000000Z 000000000000000000000001")
EARLIER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(days=1)
EXPORT = "customer_id,name,city\n" + "".join(f"{i},name {i},city {i}\n" for i in range(250))


class Recording:
    """A DynamoDB client that records each call the engine makes (operation, parameters, response), in order."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta = client.meta
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self._lock = threading.Lock()

    def __getattr__(self, operation: str) -> Any:
        send = getattr(self._client, operation)

        def recorded(**params: Any) -> Any:
            response = send(**params)
            with self._lock:
                self.calls.append((operation, params, response))
            return response

        return recorded

    def operations(self) -> list[str]:
        return [operation for operation, _, _ in self.calls]

    def written_keys(self) -> list[str]:
        """The keys of the rows written (updates and puts), in the order they were sent."""
        return [
            (params.get("Key") or params["Item"])[KEY_COLUMN]["S"]
            for operation, params, _ in self.calls
            if operation in ("update_item", "put_item")
        ]

    def reads(self) -> list[dict[str, Any]]:
        """Each BatchGetItem's request for the table."""
        return [next(iter(params["RequestItems"].values())) for op, params, _ in self.calls if op == "batch_get_item"]


def load(
    aws: Aws,
    tmp_path: Path,
    text: str,
    *,
    mode: WriteMode = "changed",
    ordering: Ordering | None = SECOND,
    schema: Schema | None = None,
    concurrency: int = 4,
    consistent_reads: bool = False,
) -> tuple[FileResult, Recording]:
    """Load `text` into the account's table as an upload ordered by `ordering`; the result and the calls made."""
    path = tmp_path / "export.csv"
    path.write_text(text)
    client = Recording(aws.dynamodb)
    writer = TableWriter(
        cast(Any, client),
        table_name=aws.table,
        concurrency=concurrency,
        mode=mode,
        ordering=ordering,
        consistent_reads=consistent_reads,
    )
    result = ingest_file(path, source="export.csv", schema=schema, writer=writer)
    return result, client


def counts(result: FileResult) -> tuple[int, int, int, int]:
    """(written, unchanged, superseded, rejected)."""
    return result.rows_written, result.rows_unchanged, result.rows_superseded, result.rows_rejected


def item(aws: Aws, key: str) -> dict[str, Any]:
    found: dict[str, Any] = aws.dynamodb.get_item(TableName=aws.table, Key={KEY_COLUMN: {"S": key}})["Item"]
    return found


def test_a_file_loaded_again_unchanged_writes_nothing(aws: Aws, tmp_path: Path) -> None:
    """Every row of yesterday's export, uploaded again: read back in requests of at most 100 keys, none written."""
    # given
    load(aws, tmp_path, EXPORT, mode="merge", ordering=FIRST)
    before = aws.items()
    # when
    result, client = load(aws, tmp_path, EXPORT)
    # then
    assert counts(result) == (0, 250, 0, 0)
    assert set(client.operations()) == {"batch_get_item"}
    assert sum(len(read["Keys"]) for read in client.reads()) == 250
    assert max(len(read["Keys"]) for read in client.reads()) <= 100
    assert aws.items() == before


def test_only_the_rows_that_change_their_item_are_written(aws: Aws, tmp_path: Path) -> None:
    """Two rows changed and one new key: those three are written, the table is as merge would leave it."""
    # given
    load(aws, tmp_path, EXPORT, mode="merge", ordering=FIRST)
    changed = EXPORT.replace("7,name 7,", "7,Name Seven,").replace("city 42\n", "Oslo\n") + "900,Di,Kyiv\n"
    # when
    result, client = load(aws, tmp_path, changed)
    # then
    assert counts(result) == (3, 248, 0, 0)
    assert sorted(client.written_keys()) == ["42", "7", "900"]
    expected = {str(i): {KEY_COLUMN: str(i), "name": f"name {i}", "city": f"city {i}"} for i in range(250)}
    expected["7"]["name"] = "Name Seven"
    expected["42"]["city"] = "Oslo"
    expected["900"] = {KEY_COLUMN: "900", "name": "Di", "city": "Kyiv"}
    assert aws.items() == expected


def test_reads_project_the_files_columns_and_the_stamp(aws: Aws, tmp_path: Path) -> None:
    """An item's attributes the file does not have are neither read nor a difference; eventually consistent."""
    # given: an attribute another application keeps on the item
    load(aws, tmp_path, "customer_id,name\n1,Ann\n", mode="merge", ordering=FIRST)
    aws.dynamodb.update_item(
        TableName=aws.table,
        Key={KEY_COLUMN: {"S": "1"}},
        UpdateExpression="SET notes = :n",
        ExpressionAttributeValues={":n": {"S": "x" * 1000}},
    )
    # when
    result, client = load(aws, tmp_path, "customer_id,name\n1,Ann\n")
    # then
    assert counts(result) == (0, 1, 0, 0)
    (read,) = client.reads()
    assert set(read["ExpressionAttributeNames"].values()) == {KEY_COLUMN, "name", DEFAULT_ORDER_ATTRIBUTE}
    assert read["ConsistentRead"] is False
    (call,) = [response for operation, _, response in client.calls if operation == "batch_get_item"]
    (read_back,) = next(iter(call["Responses"].values()))
    assert "notes" not in read_back


def test_typed_columns_are_compared_as_their_types(aws: Aws, tmp_path: Path) -> None:
    """A number in another spelling, a boolean in another case, a JSON object with its names in another order:
    unchanged. Another number, boolean or list order: written (one key per type)."""
    # given
    schema = Schema.keyed_on(KEY_COLUMN, {"amount": "N", "active": "BOOL", "profile": "JSON"})
    header = "customer_id,amount,active,profile\n"
    first = '1,1.5,true,"{""a"": 1, ""b"": [1, 2]}"\n'
    load(aws, tmp_path, header + "".join(first.replace("1,", f"{key},", 1) for key in "1234"), mode="merge",
         ordering=FIRST, schema=schema)  # fmt: skip
    # when
    again = (
        '1,1.50,TRUE,"{""b"": [1, 2.0], ""a"": 1.0}"\n'  # the same values, written otherwise
        '2,1.6,true,"{""a"": 1, ""b"": [1, 2]}"\n'  # another number
        '3,1.5,False,"{""a"": 1, ""b"": [1, 2]}"\n'  # another boolean
        '4,1.5,true,"{""a"": 1, ""b"": [2, 1]}"\n'  # another list
    )
    result, client = load(aws, tmp_path, header + again, schema=schema)
    # then
    assert counts(result) == (3, 1, 0, 0)
    assert sorted(client.written_keys()) == ["2", "3", "4"]
    assert item(aws, "2")["amount"] == {"N": "1.6"}
    assert item(aws, "3")["active"] == {"BOOL": False}
    assert item(aws, "4")["profile"]["M"]["b"]["L"] == [{"N": "2"}, {"N": "1"}]


def test_an_empty_cell_is_not_a_difference(aws: Aws, tmp_path: Path) -> None:
    """In merge an empty cell writes nothing, so the item's value stands: not a change."""
    load(aws, tmp_path, "customer_id,name,city\n1,Ann,Oslo\n", mode="merge", ordering=FIRST)
    result, client = load(aws, tmp_path, "customer_id,name,city\n1,Ann,\n")
    assert counts(result) == (0, 1, 0, 0)
    assert client.written_keys() == []
    assert aws.items() == {"1": {KEY_COLUMN: "1", "name": "Ann", "city": "Oslo"}}


def test_a_key_only_row_creates_a_missing_item_and_leaves_an_existing_one(aws: Aws, tmp_path: Path) -> None:
    load(aws, tmp_path, "customer_id,name\n1,Ann\n", mode="merge", ordering=FIRST)
    result, client = load(aws, tmp_path, "customer_id,name\n1,\n2,\n")
    assert counts(result) == (1, 1, 0, 0)
    assert client.written_keys() == ["2"]
    assert aws.items() == {"1": {KEY_COLUMN: "1", "name": "Ann"}, "2": {KEY_COLUMN: "2"}}


def test_rows_of_one_key_are_compared_with_what_the_earlier_ones_wrote(aws: Aws, tmp_path: Path) -> None:
    """a, b, a in one file, over an item holding a: the first is unchanged, the second writes b, and the third, no
    longer what the item holds, writes a back. The last row of the key wins, as in merge."""
    load(aws, tmp_path, "customer_id,name\n1,a\n2,x\n", mode="merge", ordering=FIRST)
    result, client = load(aws, tmp_path, "customer_id,name\n1,a\n2,x\n1,b\n2,y\n1,a\n2,y\n", concurrency=1)
    assert counts(result) == (3, 3, 0, 0)
    assert client.written_keys() == ["1", "2", "1"]
    assert aws.items() == {"1": {KEY_COLUMN: "1", "name": "a"}, "2": {KEY_COLUMN: "2", "name": "y"}}
    (read,) = client.reads()  # one request, each key once (BatchGetItem refuses a key twice)
    assert sorted(key[KEY_COLUMN]["S"] for key in read["Keys"]) == ["1", "2"]


def test_a_key_written_earlier_in_the_file_is_read_back_strongly_consistent(aws: Aws, tmp_path: Path) -> None:
    """A key comes again 150 rows later, in another read: it is read with a strongly consistent read, which shows
    the write of its earlier row, so restoring the value before it is written, not taken for unchanged."""
    # given
    load(aws, tmp_path, EXPORT, mode="merge", ordering=FIRST)
    text = EXPORT.replace("\n1,name 1,", "\n1,renamed,") + "1,name 1,city 1\n"
    # when
    result, client = load(aws, tmp_path, text, concurrency=1)
    # then
    assert counts(result) == (2, 249, 0, 0)
    assert client.written_keys() == ["1", "1"]
    assert item(aws, "1")["name"] == {"S": "name 1"}
    strong = [read for read in client.reads() if read["ConsistentRead"]]
    assert [[key[KEY_COLUMN]["S"] for key in read["Keys"]] for read in strong] == [["1"]]


def test_consistent_reads_reads_every_item_strongly_consistent(aws: Aws, tmp_path: Path) -> None:
    """The setting (context consistent_reads, --consistent-reads) for a table other writers change meanwhile."""
    load(aws, tmp_path, EXPORT, mode="merge", ordering=FIRST)
    result, client = load(aws, tmp_path, EXPORT, consistent_reads=True)
    assert counts(result) == (0, 250, 0, 0)
    assert {read["ConsistentRead"] for read in client.reads()} == {True}


def test_rows_of_an_item_a_newer_upload_wrote_are_superseded_unwritten(aws: Aws, tmp_path: Path) -> None:
    """Changed or not, a row whose item holds a newer upload's stamp is superseded, as merge's condition would
    have it: counted, not written, never rejected."""
    load(aws, tmp_path, "customer_id,name\n1,Ann\n2,Bob\n", mode="merge", ordering=THIRD)
    result, client = load(aws, tmp_path, "customer_id,name\n1,Ann\n2,Robert\n3,Cy\n", ordering=SECOND)
    assert counts(result) == (1, 0, 2, 0)
    assert client.written_keys() == ["3"]
    assert aws.items() == {
        "1": {KEY_COLUMN: "1", "name": "Ann"},
        "2": {KEY_COLUMN: "2", "name": "Bob"},
        "3": {KEY_COLUMN: "3", "name": "Cy"},
    }


def test_an_unchanged_row_leaves_the_items_stamp_a_changed_one_takes_the_uploads(aws: Aws, tmp_path: Path) -> None:
    """The README's choice: an unchanged row is not written, so its item keeps the stamp of the upload that last
    changed it. An upload older than this one but newer than that, handled after it, then writes its values
    there (where merge would have superseded them): the price of not writing unchanged rows."""
    # given
    load(aws, tmp_path, "customer_id,name\n1,Ann\n2,Bob\n", mode="merge", ordering=FIRST)
    # when
    load(aws, tmp_path, "customer_id,name\n1,Ann\n2,Robert\n", ordering=THIRD)
    late, _ = load(aws, tmp_path, "customer_id,name\n1,Annie\n2,Rob\n", ordering=SECOND)
    # then
    assert aws.stamps() == {"1": SECOND.stamp, "2": THIRD.stamp}
    assert counts(late) == (1, 0, 1, 0)
    assert aws.items() == {"1": {KEY_COLUMN: "1", "name": "Annie"}, "2": {KEY_COLUMN: "2", "name": "Robert"}}


def test_without_ordering_changed_rows_are_written_unconditionally(aws: Aws, tmp_path: Path) -> None:
    """ordering=off: no stamp is read or written; the values alone decide."""
    load(aws, tmp_path, "customer_id,name\n1,Ann\n2,Bob\n", mode="merge", ordering=None)
    result, client = load(aws, tmp_path, "customer_id,name\n1,Ann\n2,Robert\n", ordering=None)
    assert counts(result) == (1, 1, 0, 0)
    assert all(DEFAULT_ORDER_ATTRIBUTE not in read["ExpressionAttributeNames"].values() for read in client.reads())
    assert aws.stamps() == {"1": None, "2": None}
    assert aws.items()["2"]["name"] == "Robert"


@pytest.mark.parametrize("mode", ["merge", "changed"])
def test_changed_leaves_the_table_merge_leaves(aws: Aws, tmp_path: Path, mode: WriteMode) -> None:
    """The same two uploads, the second loaded in merge or in changed: the same table, the same rows settled."""
    load(aws, tmp_path, EXPORT, mode="merge", ordering=FIRST)
    header, *rows = EXPORT.splitlines(keepends=True)
    second = header + "".join(row.replace("name", "NAME") if i % 10 == 9 else row for i, row in enumerate(rows))
    result, _ = load(aws, tmp_path, second + "7,,moved\n", mode=mode)
    changed = 25 + 1  # every tenth row, and the last
    assert (result.rows_written, result.rows_unchanged) == ((251, 0) if mode == "merge" else (changed, 251 - changed))
    expected = {str(i): {KEY_COLUMN: str(i), "name": f"name {i}", "city": f"city {i}"} for i in range(250)}
    for i in range(9, 250, 10):
        expected[str(i)]["name"] = f"NAME {i}"
    expected["7"]["city"] = "moved"
    assert aws.items() == expected


def test_the_function_counts_unchanged_rows_in_its_summary_log_and_metrics(
    aws: Aws, stdout: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """WRITE_MODE=changed (context write_mode=changed): the second upload of a file with one row changed writes
    that row; `rows_unchanged` is in the summary and the log, RowsUnchanged in the metrics."""
    # given
    monkeypatch.setenv("WRITE_MODE", "changed")
    first = aws.upload("c.csv", "customer_id,name,city\n1,Ann,Oslo\n2,Bob,Rome\n3,Cy,Lima\n")
    handler(aws.event("c.csv", first, event_time=EARLIER), DemoContext())
    second = aws.upload("c.csv", "customer_id,name,city\n1,Ann,Oslo\n2,Bob,Paris\n3,Cy,Lima\n")
    stdout.readouterr()
    # when
    (entry,) = handler(aws.event("c.csv", second, event_time=LATER), DemoContext())["files"]
    # then
    assert {name: entry[name] for name in ("status", "rows_written", "rows_unchanged", "rows_superseded")} == {
        "status": "ingested",
        "rows_written": 1,
        "rows_unchanged": 2,
        "rows_superseded": 0,
    }
    assert aws.items()["2"]["city"] == "Paris"
    out = stdout.readouterr().out
    metrics = emf_metrics(out)
    assert (metrics["RowsWritten"], metrics["RowsUnchanged"]) == ([1.0], [2.0])
    (log,) = [log for log in json_logs(out) if log["message"] == "file ingested"]
    assert log["rows_unchanged"] == 2


@pytest.mark.parametrize(
    ("keys", "header", "first", "again", "written"),
    [
        (
            (KeyAttribute("customer_id", "N"), KeyAttribute("order_date", "S")),
            "customer_id,order_date,total\n",
            "7,2026-12-01,10\n7,2026-12-02,20\n8,2026-12-01,30\n",
            "07.0,2026-12-01,10\n7,2026-12-02,21\n8,2026-12-01,30\n",  # 07.0 is the number 7
            {"customer_id": {"N": "7"}, "order_date": {"S": "2026-12-02"}},
        ),
        (
            (KeyAttribute("customer_id", "B"),),
            "customer_id,total\n",
            "AAE=,10\n/w==,20\n",
            "AAE=,10\n/w==,21\n",
            {"customer_id": {"B": b"\xff"}},
        ),
    ],
    ids=["number-and-sort-key", "binary-key"],
)
def test_items_are_matched_to_rows_by_their_whole_key_of_any_type(
    aws: Aws,
    tmp_path: Path,
    keys: tuple[KeyAttribute, ...],
    header: str,
    first: str,
    again: str,
    written: dict[str, Any],
) -> None:
    """A number key read back in DynamoDB's spelling, a sort key, a binary key (base64 in the CSV and in DynamoDB's
    JSON): each row finds its own item; only the changed one is written."""
    # given: a table keyed so, beside the account's
    keyed = Aws()
    keyed.table = f"{aws.table}-keys"
    roles = ("HASH", "RANGE")[: len(keys)]
    create_table(
        aws.dynamodb,
        keyed.table,
        KEY_COLUMN,
        key_schema=[{"AttributeName": key.name, "KeyType": role} for key, role in zip(keys, roles, strict=True)],
        definitions=[{"AttributeName": key.name, "AttributeType": key.type} for key in keys],
    )
    schema = Schema(keys[0], keys[1] if len(keys) > 1 else None, {"total": "N"})
    try:
        load(keyed, tmp_path, header + first, mode="merge", ordering=FIRST, schema=schema)
        # when
        result, client = load(keyed, tmp_path, header + again, schema=schema)
        # then
        assert (result.rows_written, result.rows_unchanged) == (1, first.count("\n") - 1)
        assert [params["Key"] for operation, params, _ in client.calls if operation == "update_item"] == [written]
    finally:
        aws.dynamodb.delete_table(TableName=keyed.table)


def test_a_deleting_row_deletes_an_item_that_is_there_and_is_unchanged_where_none_is(aws: Aws, tmp_path: Path) -> None:
    """A delete marker in `changed`: a DeleteItem only for an item the read finds (one that is not there is left
    unchanged: a nightly export that keeps its deleted rows marked costs a read for them, not a delete); an item a
    newer upload wrote supersedes the delete; rows of a key after its delete create it again, in file order."""
    # given
    schema = Schema(KeyAttribute(KEY_COLUMN), delete_column="_deleted")
    load(aws, tmp_path, "customer_id,name\n1,Ann\n2,Bob\n4,Dee\n", mode="merge", ordering=FIRST)
    load(aws, tmp_path, "customer_id,name\n5,Eve\n", mode="merge", ordering=THIRD)
    text = "customer_id,name,_deleted\n1,Ann,true\n2,Bob,\n3,,TRUE\n4,,true\n4,Dee again,false\n5,,true\n"
    # when
    result, client = load(aws, tmp_path, text, schema=schema, concurrency=1)
    # then: 1 and the first row of 4 deleted, 2 and 3 unchanged, 4 written again, 5 superseded
    assert counts(result) == (1, 2, 1, 0)
    assert result.rows_deleted == 2
    deletes = [params["Key"][KEY_COLUMN]["S"] for op, params, _ in client.calls if op == "delete_item"]
    assert deletes == ["1", "4"]
    assert client.written_keys() == ["4"]
    assert aws.items() == {
        "2": {KEY_COLUMN: "2", "name": "Bob"},
        "4": {KEY_COLUMN: "4", "name": "Dee again"},
        "5": {KEY_COLUMN: "5", "name": "Eve"},
    }
