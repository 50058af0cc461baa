"""`BatchGetItem`'s answers as DynamoDB's JSON, decoded once: botocore's parser then walks every attribute value of
every item read through its shape model, which takes 20 times `json.loads`' CPU (~40 us of a row's ~110 us in
`changed`, read back 100 at a time, measured against the benchmark's stub).

Through botocore's own hook for this (`before-parse`, whose `customized_response_dict` is laid over the parsed
response): the body is decoded here and botocore parses none of it. What changes is only that binary values stay
base64 text, as DynamoDB sends them (`changes` compares them so; `item_key` decodes the key's). Anything but a
successful answer in JSON (an error, another protocol in a later botocore) is left to botocore.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from csv_ingest_engine.values import AttributeValue

_HANDLER_ID = "csv-ingest-raw-batch-get-item"


def read_raw(client: Any) -> None:
    """Have `client` decode its `BatchGetItem` answers with `json.loads` alone (once per client, however often)."""
    client.meta.events.register("before-parse.dynamodb.BatchGetItem", _decoded_body, unique_id=_HANDLER_ID)


def _decoded_body(
    operation_model: Any, response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    if response_dict.get("status_code") != 200 or operation_model.service_model.resolved_protocol != "json":
        return
    try:
        answer = json.loads(response_dict["body"])
    except (ValueError, TypeError):
        return  # botocore says what is wrong with it
    customized_response_dict["Responses"] = answer.get("Responses", {})
    customized_response_dict["UnprocessedKeys"] = answer.get("UnprocessedKeys", {})
    response_dict["body"] = b"{}"


def item_key(item: Mapping[str, AttributeValue], names: Sequence[str]) -> dict[str, AttributeValue]:
    """The key attributes `names` of an item read back, a binary one as bytes (as the rows hold it) whether it came
    as DynamoDB's base64 text or parsed by botocore."""
    key = {}
    for name in names:
        value = item[name]
        binary = value.get("B")
        key[name] = {"B": base64.b64decode(binary)} if isinstance(binary, str) else value
    return key
