"""A stub DynamoDB endpoint on loopback: keeps one table's items, answers after a set latency, counts the requests and
the capacity units DynamoDB would charge for them, can throttle.

Used by the benchmark (its own process, `python benchmarks/stub_dynamodb.py --port 0`) and by tests (in a thread).
It understands what the engine sends: UpdateItem, PutItem, DeleteItem (each with its condition, evaluated:
`stub_expressions` says which expressions), BatchWriteItem, BatchGetItem (with a ProjectionExpression) and
DescribeTable; every table name is the one table (`stub_table`), keyed like the stack's. Like DynamoDB (and dynalite)
it refuses a request over 16 MB with HTTP 413, and a batch with a key twice or too many keys.
Each response goes out in a single write with TCP_NODELAY: a header and a body in two segments would meet the
client's delayed ACK and add ~40 ms to every call, measuring the kernel instead of the SDK. Requests are parsed by
hand, not by http.server's email-based header parser, which cost two thirds of the stub's ~400 us of CPU per
request: the benchmark's stub shares the client's cores, and must take as little of them as it can.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypedDict, cast

# Run as a script, the stub measures items with this checkout's engine, as the benchmark's contenders do.
sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "lambda")]

import stub_expressions as expressions  # noqa: E402
from stub_capacity import on_demand_dollars  # noqa: E402
from stub_table import Table, Written  # noqa: E402

# Every stub table is keyed like the stack's: what `csv-ingest load` reads with DescribeTable before writing.
STUB_KEY = {
    "KeySchema": [{"AttributeName": "customer_id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "customer_id", "AttributeType": "S"}],
}
THROTTLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "The level of configured provisioned throughput for the table was exceeded (stub)",
}
CONDITION_FAILED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
    "message": "The conditional request failed",
}


DUPLICATE_KEYS = {
    "__type": "com.amazon.coral.validate#ValidationException",
    "message": "Provided list of item keys contains duplicates",
}


TOO_MANY_REQUESTS = {
    "__type": "com.amazon.coral.validate#ValidationException",
    "message": "Too many items requested for the BatchWriteItem call",
}
TOO_MANY_KEYS = {
    "__type": "com.amazon.coral.validate#ValidationException",
    "message": "Too many items requested for the BatchGetItem call",
}
MAX_BATCH_WRITES = 25
MAX_BATCH_KEYS = 100
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})


ACCESS_DENIED = {
    "__type": "com.amazon.coral.service#AccessDeniedException",
    "message": "User: arn:aws:iam::123456789012:user/stub is not authorized to perform: dynamodb:UpdateItem (stub)",
}


# dynalite's limit, and its answer: 413 with an empty body.
MAX_REQUEST_BYTES = 16 * 1024 * 1024

Reply = tuple[int, dict[str, Any] | None]


def _invalid(message: str) -> dict[str, Any]:
    return {"__type": "com.amazon.coral.validate#ValidationException", "message": message}


class Counted(TypedDict):
    """The counters, as `Counters.as_dict` (and the control channel) gives them."""

    requests: int  # every request but one refused as too large, throttled ones included
    rows: int  # items written, deleted or refused by their condition (not throttled ones)
    throttled: int
    duplicate_batches: int
    largest_batch: int
    too_large: int
    largest_request: int
    read_requests: int  # BatchGetItem
    write_requests: int  # PutItem, UpdateItem, DeleteItem, BatchWriteItem
    keys_read: int  # keys a BatchGetItem read (not those it handed back unprocessed)
    unprocessed_keys: int
    conditional_failures: int
    read_units: float  # on-demand read request units: half a unit per eventually consistent read of up to 4 KB
    write_units: int
    dollars: float  # what those units cost on an on-demand table (`stub_capacity`)


_COUNTED = tuple(name for name in Counted.__annotations__ if name != "dollars")


class Counters:
    """What the stub received, and what DynamoDB would have charged for it (`Counted` says what each counts);
    `items` shows the table's items."""

    requests: int
    rows: int
    throttled: int
    duplicate_batches: int
    largest_batch: int
    too_large: int
    largest_request: int
    read_requests: int
    write_requests: int
    keys_read: int
    unprocessed_keys: int
    conditional_failures: int
    read_units: float
    write_units: int

    def __init__(self, table: Table) -> None:
        self.lock = threading.Lock()
        self._table = table
        self.zero()

    def zero(self) -> None:
        with self.lock:
            for field in _COUNTED:
                setattr(self, field, 0)

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        """Each item by its key's value, without the key: `{"c1": {"name": "Ada", ...}}` (`Table.plain_items`)."""
        return self._table.plain_items()

    def count_write(self, written: Written) -> None:
        with self.lock:
            self.rows += 1
            self.write_units += written.units
            self.conditional_failures += not written.applied

    def as_dict(self) -> Counted:
        with self.lock:
            counted = {field: getattr(self, field) for field in _COUNTED}
            counted["dollars"] = on_demand_dollars(self.read_units, self.write_units)
        return cast(Counted, counted)


class StubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        port: int = 0,
        *,
        latency_s: float = 0.005,
        throttle_share: float = 0.0,
        unprocessed_share: float = 0.0,
        keep_items: bool = True,
        refused_keys: frozenset[str] = frozenset(),
    ) -> None:
        """`throttle_share` of all requests are throttled (a batch: half of it handed back unprocessed);
        `unprocessed_share` of the BatchGetItems are too. Items are always kept (`keep_items` is accepted for
        older callers)."""
        super().__init__(("127.0.0.1", port), _Handler)
        self.latency_s = latency_s
        self.throttle_share = throttle_share
        self.unprocessed_share = unprocessed_share
        # Single writes of these keys get AccessDenied: a refusal about the table, which fails the file.
        self.refused_keys = refused_keys
        types = {d["AttributeName"]: d["AttributeType"] for d in STUB_KEY["AttributeDefinitions"]}
        self.table = Table({k["AttributeName"]: types[k["AttributeName"]] for k in STUB_KEY["KeySchema"]})
        self.counters = Counters(self.table)
        self.random = random.Random(42)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start_in_thread(self) -> StubServer:
        threading.Thread(target=self.serve_forever, name="stub-dynamodb", daemon=True).start()
        return self


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: StubServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_one_request(self) -> None:
        """One request on the kept-alive connection: `POST / HTTP/1.1`, `Name: value` lines, a blank line, the body
        (its Content-Length); what botocore sends, read without http.server's header parser."""
        request_line = self.rfile.readline(65537)
        if not request_line:  # the client closed the connection
            self.close_connection = True
            return
        fields: dict[str, str] = {}
        while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        self.fields = fields
        self.close_connection = fields.get("connection", "").lower() == "close"
        self.do_POST()
        self.wfile.flush()

    def do_POST(self) -> None:
        length = int(self.fields.get("content-length", 0))
        server = self.server
        if length > MAX_REQUEST_BYTES:
            while length > 0:  # read it all, so the connection stays usable, but never parse it
                length -= len(self.rfile.read(min(length, 1 << 20)))
            with server.counters.lock:
                server.counters.too_large += 1
            self._reply(413, None)
            return
        body = json.loads(self.rfile.read(length) or b"{}")
        operation = self.fields.get("x-amz-target", "").rpartition(".")[2]
        if server.latency_s:
            time.sleep(server.latency_s)
        counters = server.counters
        with counters.lock:
            counters.requests += 1
            counters.largest_request = max(counters.largest_request, length)
            throttle = server.throttle_share > 0 and server.random.random() < server.throttle_share
            if operation == "BatchGetItem":
                counters.read_requests += 1
                if server.unprocessed_share > 0:
                    throttle = throttle or server.random.random() < server.unprocessed_share
            elif operation in _WRITES:
                counters.write_requests += 1
        try:
            self._reply(*self._answer(operation, body, throttle))
        except expressions.ExpressionError as exc:  # what DynamoDB refuses, in its words, or what the stub cannot read
            self._reply(400, _invalid(str(exc)))
        except (KeyError, TypeError, ValueError) as exc:  # a request malformed beyond that
            self._reply(400, _invalid(f"the stub cannot read this {operation} request: {exc!r}"))

    def _answer(self, operation: str, body: dict[str, Any], throttle: bool) -> Reply:
        counters = self.server.counters
        if operation == "BatchGetItem":
            return self._batch_get(body, throttle)
        if operation == "DescribeTable":
            return 200, {"Table": {"TableName": body.get("TableName"), "TableStatus": "ACTIVE", **STUB_KEY}}
        if operation not in _WRITES:
            return 400, _invalid(f"the stub does not answer {operation}")
        if operation == "BatchWriteItem":
            return self._batch_write(body, throttle)
        if throttle:
            with counters.lock:
                counters.throttled += 1
            return 400, THROTTLED
        names: dict[str, str] = body.get("ExpressionAttributeNames", {})
        values: dict[str, Any] = body.get("ExpressionAttributeValues", {})
        text = body.get("ConditionExpression")
        condition = expressions.condition(text) if text else None
        table = self.server.table
        if operation == "UpdateItem":
            update = expressions.update(body.get("UpdateExpression", ""))
            expressions.check_placeholders(names, values, update, condition)
            return self._single_write(body, lambda: table.update(body["Key"], update, condition, names, values))
        expressions.check_placeholders(names, values, condition)
        if operation == "PutItem":
            return self._single_write(body, lambda: table.put(body["Item"], condition, names, values))
        return self._single_write(body, lambda: table.delete(body["Key"], condition, names, values))

    def _single_write(self, body: dict[str, Any], written: Callable[[], Written]) -> Reply:
        """A PutItem, UpdateItem or DeleteItem: refused for `refused_keys`, else `written()`, counted."""
        key = body.get("Key") or body.get("Item") or {}
        first: dict[str, str] = next(iter(key.values()), {})  # the engine puts the key attribute first
        if first.get("S") in self.server.refused_keys:
            return 400, ACCESS_DENIED
        returned = body.get("ReturnValues", "NONE")
        if returned not in ("NONE", "ALL_OLD"):
            raise expressions.ExpressionError(f"the stub returns no ReturnValues {returned}, only NONE and ALL_OLD")
        outcome = written()
        self.server.counters.count_write(outcome)
        consumed = _consumed(body, outcome.units)
        if outcome.applied:
            old = {"Attributes": outcome.before} if returned == "ALL_OLD" and outcome.before is not None else {}
            return 200, {**old, **consumed}
        if body.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and outcome.before is not None:
            return 400, {**CONDITION_FAILED, "Item": outcome.before, **consumed}
        return 400, {**CONDITION_FAILED, **consumed}

    def _batch_write(self, body: dict[str, Any], throttle: bool) -> Reply:
        table, counters = self.server.table, self.server.counters
        unprocessed: dict[str, list[Any]] = {}
        for table_name, requests in body.get("RequestItems", {}).items():
            if len(requests) > MAX_BATCH_WRITES:
                return 400, TOO_MANY_REQUESTS
            with counters.lock:
                counters.largest_batch = max(counters.largest_batch, len(requests))
            keys = [
                table.key_of(r["PutRequest"]["Item"], whole_item=True)
                if "PutRequest" in r
                else table.key_of(r["DeleteRequest"]["Key"])
                for r in requests
            ]
            if len(set(keys)) != len(keys):
                with counters.lock:
                    counters.duplicate_batches += 1
                return 400, DUPLICATE_KEYS
            # Throttling inside a batch: DynamoDB answers 200 and hands back part of it as UnprocessedItems.
            cut = len(requests) // 2 if throttle else len(requests)
            for request in requests[:cut]:
                if "PutRequest" in request:
                    counters.count_write(table.put(request["PutRequest"]["Item"], None, {}, {}))
                else:
                    counters.count_write(table.delete(request["DeleteRequest"]["Key"], None, {}, {}))
            if requests[cut:]:
                unprocessed[table_name] = requests[cut:]
                with counters.lock:
                    counters.throttled += 1
        return 200, {"UnprocessedItems": unprocessed}

    def _batch_get(self, body: dict[str, Any], throttle: bool) -> Reply:
        """Up to 100 keys' items (those that exist, projected, in no particular order: here the reverse of the keys'),
        charged per key. Throttled, half the keys of each table come back unprocessed; a request of which nothing would
        be read is refused as throttled, as DynamoDB refuses it."""
        table, counters = self.server.table, self.server.counters
        request_items: dict[str, dict[str, Any]] = body.get("RequestItems", {})
        if sum(len(spec.get("Keys", [])) for spec in request_items.values()) > MAX_BATCH_KEYS:
            return 400, TOO_MANY_KEYS
        responses: dict[str, list[dict[str, Any]]] = {}
        unprocessed: dict[str, dict[str, Any]] = {}
        units = 0.0
        read = 0
        for table_name, spec in request_items.items():
            keys = spec.get("Keys", [])
            index = [table.key_of(key) for key in keys]
            if len(set(index)) != len(index):
                with counters.lock:
                    counters.duplicate_batches += 1
                return 400, DUPLICATE_KEYS
            projected = _projected(spec)
            cut = len(keys) // 2 if throttle else len(keys)
            found, spent = table.read(index[:cut], consistent=bool(spec.get("ConsistentRead", False)))
            if projected is not None:
                found = [{name: item[name] for name in projected if name in item} for item in found]
            found.reverse()
            responses[table_name] = found
            units += spent
            read += cut
            if cut < len(keys):
                unprocessed[table_name] = {**spec, "Keys": keys[cut:]}
        with counters.lock:
            counters.throttled += throttle
            if throttle and not read:  # nothing read: the whole request is throttled
                return 400, THROTTLED
            counters.read_units += units
            counters.keys_read += read
            counters.unprocessed_keys += sum(len(spec["Keys"]) for spec in unprocessed.values())
        reply: dict[str, Any] = {"Responses": responses, "UnprocessedKeys": unprocessed}
        return 200, {**reply, **_consumed(body, units)}

    def _reply(self, status: int, payload: dict[str, Any] | None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        reason = {200: "OK", 413: "Request Entity Too Large"}.get(status, "Bad Request")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.0\r\n"
            f"Content-Length: {len(data)}\r\nx-amzn-RequestId: stub\r\n\r\n"
        ).encode()
        self.wfile.write(head + data)  # one segment: see the module docstring


def _projected(spec: dict[str, Any]) -> tuple[str, ...] | None:
    """The attributes a BatchGetItem table's ProjectionExpression names (None: whole items)."""
    if "AttributesToGet" in spec:
        raise expressions.ExpressionError("the stub reads ProjectionExpression, not the legacy AttributesToGet")
    names = spec.get("ExpressionAttributeNames", {})
    text = spec.get("ProjectionExpression")
    if text is None:
        expressions.check_placeholders(names, {})
        return None
    projection = expressions.projection(text)
    expressions.check_placeholders(names, {}, projection)
    return projection.attributes(names)


def _consumed(body: dict[str, Any], units: float) -> dict[str, Any]:
    """The ConsumedCapacity DynamoDB adds to an answer when the request asks for it."""
    if body.get("ReturnConsumedCapacity", "NONE") == "NONE":
        return {}
    table = body.get("TableName") or next(iter(body.get("RequestItems", {})), "")
    capacity = {"TableName": table, "CapacityUnits": units}
    return {"ConsumedCapacity": [capacity] if "RequestItems" in body else capacity}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--throttle-share", type=float, default=0.0)
    parser.add_argument("--unprocessed-share", type=float, default=0.0)
    args = parser.parse_args()
    server = StubServer(
        args.port,
        latency_s=args.latency_ms / 1000,
        throttle_share=args.throttle_share,
        unprocessed_share=args.unprocessed_share,
    )
    print(json.dumps({"url": server.url}), flush=True)
    control = threading.Thread(target=_control, args=(server,), daemon=True)
    control.start()
    server.serve_forever()


def _control(server: StubServer) -> None:
    """Line commands on stdin, each answered with a line of JSON (the counters, unless said otherwise):
    `counters`; `reset` zeroes them and empties the table; `snapshot` remembers the table's items; `restore` puts
    them back and zeroes the counters; `digest [NAME ...]` answers `{"items": N, "digest": SHA-256}` of the items
    without the attributes NAME (`Table.digest`)."""
    for line in sys.stdin:
        command, *arguments = line.split() or [""]
        if command == "reset":
            server.counters.zero()
            server.table.clear()
        elif command == "snapshot":
            server.table.snapshot()
        elif command == "restore":
            server.table.restore()
            server.counters.zero()
        elif command == "digest":
            print(json.dumps({"items": len(server.table), "digest": server.table.digest(arguments)}), flush=True)
            continue
        print(json.dumps(server.counters.as_dict()), flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
