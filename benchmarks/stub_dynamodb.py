"""A stub DynamoDB endpoint on loopback: answers writes after a set latency, counts the rows, can throttle.

Used by the benchmark (its own process, `python benchmarks/stub_dynamodb.py --port 0`) and by tests (in a thread).
It understands exactly what the engine sends: UpdateItem, PutItem and BatchWriteItem (plus DescribeTable), and,
like DynamoDB (and dynalite), refuses a request over 16 MB with HTTP 413.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Every stub table is keyed like the stack's: what `csv-ingest load` reads with DescribeTable before writing.
STUB_KEY = {
    "KeySchema": [{"AttributeName": "customer_id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "customer_id", "AttributeType": "S"}],
}
THROTTLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "The level of configured provisioned throughput for the table was exceeded (stub)",
}


DUPLICATE_KEYS = {
    "__type": "com.amazon.coral.validate#ValidationException",
    "message": "Provided list of item keys contains duplicates",
}


TOO_MANY_REQUESTS = {
    "__type": "com.amazon.coral.validate#ValidationException",
    "message": "Too many items requested for the BatchWriteItem call",
}


ACCESS_DENIED = {
    "__type": "com.amazon.coral.service#AccessDeniedException",
    "message": "User: arn:aws:iam::123456789012:user/stub is not authorized to perform: dynamodb:UpdateItem (stub)",
}


# dynalite's limit, and its answer: 413 with an empty body.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


class Counters:
    """What the stub received; with `keep_items`, `items` holds each key's attributes as DynamoDB would."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.rows = 0
        self.throttled = 0
        self.duplicate_batches = 0
        self.largest_batch = 0
        self.too_large = 0
        self.largest_request = 0
        self.items: dict[str, dict[str, str]] = {}

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return {
                "requests": self.requests,
                "rows": self.rows,
                "throttled": self.throttled,
                "duplicate_batches": self.duplicate_batches,
                "too_large": self.too_large,
            }


class StubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        port: int = 0,
        *,
        latency_s: float = 0.005,
        throttle_share: float = 0.0,
        keep_items: bool = False,
        refused_keys: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.latency_s = latency_s
        self.throttle_share = throttle_share
        self.keep_items = keep_items
        # Single writes of these keys get AccessDenied: a refusal about the table, which fails the file.
        self.refused_keys = refused_keys
        self.counters = Counters()
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
        if operation == "BatchWriteItem":
            self._reply(*self._batch(body, throttle))
        elif throttle:
            with counters.lock:
                counters.throttled += 1
            self._reply(400, THROTTLED)
        elif operation in ("UpdateItem", "PutItem"):
            self._write(body.get("Key") or body.get("Item") or {}, body)
        elif operation == "DescribeTable":
            self._reply(200, {"Table": {"TableName": body.get("TableName"), "TableStatus": "ACTIVE", **STUB_KEY}})
        else:
            self._reply(400, {"__type": "com.amazon.coral.validate#ValidationException", "message": operation})

    def _batch(self, body: dict[str, Any], throttle: bool) -> tuple[int, dict[str, Any]]:
        unprocessed: dict[str, list[Any]] = {}
        for table, requests in body.get("RequestItems", {}).items():
            if len(requests) > 25:
                return 400, TOO_MANY_REQUESTS
            with self.server.counters.lock:
                self.server.counters.largest_batch = max(self.server.counters.largest_batch, len(requests))
            keys = [json.dumps(next(iter(r["PutRequest"]["Item"].values()))) for r in requests]
            if len(set(keys)) != len(keys):
                with self.server.counters.lock:
                    self.server.counters.duplicate_batches += 1
                return 400, DUPLICATE_KEYS
            # Throttling inside a batch: DynamoDB answers 200 and hands back part of it as UnprocessedItems.
            cut = len(requests) // 2 if throttle else len(requests)
            for request in requests[:cut]:
                self._record(request["PutRequest"]["Item"], None)
            if requests[cut:]:
                unprocessed[table] = requests[cut:]
                with self.server.counters.lock:
                    self.server.counters.throttled += 1
        return 200, {"UnprocessedItems": unprocessed}

    def _write(self, key: dict[str, Any], body: dict[str, Any]) -> None:
        value: dict[str, str] = next(iter(key.values()), {})  # the engine puts the key attribute first
        if value.get("S") in self.server.refused_keys:
            self._reply(400, ACCESS_DENIED)
            return
        self._record(key, body)
        self._reply(200, {})

    def _record(self, item: dict[str, Any], update: dict[str, Any] | None) -> None:
        counters = self.server.counters
        with counters.lock:
            counters.rows += 1
            if not self.server.keep_items:
                return
            key = next(iter(item.values()))["S"]  # the engine puts the key attribute first
            current = counters.items.setdefault(key, {})
            if update is None:
                current.clear()
                current.update({name: value["S"] for name, value in item.items()})
            else:
                names = update.get("ExpressionAttributeNames", {})
                values = update.get("ExpressionAttributeValues", {})
                for placeholder, value in values.items():
                    current[names["#" + placeholder[1:]]] = value["S"]

    def _reply(self, status: int, payload: dict[str, Any] | None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        reason = {200: "OK", 413: "Request Entity Too Large"}.get(status, "Bad Request")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.0\r\n"
            f"Content-Length: {len(data)}\r\nx-amzn-RequestId: stub\r\n\r\n"
        ).encode()
        self.wfile.write(head + data)  # one segment: see the module docstring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--throttle-share", type=float, default=0.0)
    args = parser.parse_args()
    server = StubServer(args.port, latency_s=args.latency_ms / 1000, throttle_share=args.throttle_share)
    print(json.dumps({"url": server.url}), flush=True)
    control = threading.Thread(target=_control, args=(server,), daemon=True)
    control.start()
    server.serve_forever()


def _control(server: StubServer) -> None:
    """Line commands on stdin: `counters` prints the counters as JSON, `reset` zeroes them."""
    for line in sys.stdin:
        command = line.strip()
        if command == "reset":
            with server.counters.lock:
                server.counters.requests = server.counters.rows = server.counters.throttled = 0
                server.counters.duplicate_batches = server.counters.largest_batch = 0
                server.counters.too_large = server.counters.largest_request = 0
                server.counters.items.clear()
        print(json.dumps(server.counters.as_dict()), flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
