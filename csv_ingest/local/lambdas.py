"""moto's Lambda functions run in this process: an invocation calls the engine's entry point its handler names, as
Lambda would, and answers as Lambda does."""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import inspect
import json
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from unittest import mock

from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_ingest.local.events import DemoContext
from csv_ingest_engine.config import function_environment
from csv_ingest_engine.constants import HANDLER_FINISH, HANDLER_INGEST_PARTITION, HANDLER_PARTITION, HANDLER_TRIGGER

Handler = Callable[[dict[str, Any], LambdaContext], Any]


def entry_points() -> dict[str, Handler]:
    """The engine's Lambda entry points by handler name, as lambda/handler.py exports them (a wheel has no
    handler.py, so the names are resolved here)."""
    from csv_ingest_engine.tasks.finish import finish
    from csv_ingest_engine.tasks.ingest_partition import ingest_partition
    from csv_ingest_engine.tasks.partition import partition
    from csv_ingest_engine.tasks.trigger import handler

    return {
        HANDLER_TRIGGER: handler,
        HANDLER_PARTITION: partition,
        HANDLER_INGEST_PARTITION: ingest_partition,
        HANDLER_FINISH: finish,
    }


@dataclass(frozen=True)
class Invocation:
    """One call of a function by moto: its entry point, event, and what it returned or raised."""

    entry_point: str
    event: dict[str, Any]
    returned: Any = None
    raised: BaseException | None = None


class InProcessLambda:
    """moto's Lambda functions, run in this process instead of in Docker: an invocation calls the entry point its
    function's handler names (`handler.<name>`), in the function's environment, with a fake context that has the
    function's timeout left, and answers as Lambda does: the return value as JSON, or the error's type and message.

    The function's variables are lent to the invoking thread (`config.function_environment`), never written to
    `os.environ`, which moto's threads read whenever they make a client. Invocations still run one at a time
    (`lock`): Powertools' logger keys and metrics are the process's own. `calls` lists them in order.
    """

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self.handlers = dict(handlers)
        self.lock = threading.RLock()
        self.calls: list[Invocation] = []

    def invoke(self, function: Any, event: Any = None) -> tuple[str, bool, str]:
        """What `LambdaFunction._invoke_lambda(self, event)` returns: (payload JSON, errored, logs)."""
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        entry_point = function.handler.rpartition(".")[2]
        handler = self.handlers[entry_point]
        context = DemoContext(function_name=function.function_name, remaining_ms=int(function.timeout) * 1000)
        with self.lock, function_environment(function.environment_vars or {}):
            try:
                returned = handler(payload, context)
            except Exception as exc:  # what Lambda reports as the function's error
                self.calls.append(Invocation(entry_point, payload, raised=exc))
                error = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(exc.__traceback__),
                }
                return json.dumps(error), True, ""
            self.calls.append(Invocation(entry_point, payload, returned=returned))
        return json.dumps(returned), False, ""

    def returned(self, entry_point: str) -> list[Any]:
        """What the calls of `entry_point` that did not raise returned, in order."""
        return [call.returned for call in self.calls if call.entry_point == entry_point and call.raised is None]


@contextlib.contextmanager
def lambda_in_process(handlers: Mapping[str, Handler] | None = None) -> Iterator[InProcessLambda]:
    """While the block runs (inside moto's mock), moto runs Lambda functions with `InProcessLambda`; `handlers`
    replaces the engine's entry points (a test's failing worker)."""
    from moto.awslambda.models import LambdaFunction

    check_moto_invoke(LambdaFunction)
    lambdas = InProcessLambda({**entry_points(), **(handlers or {})})

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:  # moto's own signature, `self` a function
        return lambdas.invoke(self, event)

    with mock.patch.object(LambdaFunction, "_invoke_lambda", invoke):
        yield lambdas


def check_moto_invoke(lambda_function: type) -> None:
    """Fail loudly if moto no longer runs a function through `_invoke_lambda(self, event)`, the method patched."""
    method = getattr(lambda_function, "_invoke_lambda", None)
    parameters = list(inspect.signature(method).parameters) if callable(method) else None
    if parameters != ["self", "event"]:
        raise RuntimeError(
            f"moto {importlib.metadata.version('moto')} no longer has LambdaFunction._invoke_lambda(self, event) "
            f"(found {parameters}): the demo's in-process Lambda (csv_ingest/local/lambdas.py) must follow it"
        )


def invoke_trigger(event: dict[str, Any], on_progress: Callable[[int, int], None] | None) -> Any:
    """The trigger's answer to `event`, called in this process; with `on_progress`, the engine reports to it as the
    file is read."""
    from csv_ingest_engine import ingest_file, one_invocation
    from csv_ingest_engine.tasks.trigger import handler

    if on_progress is None:
        return handler(event, DemoContext())
    # Lambda has no terminal, so the handler takes no progress callback; the demo lends its engine one, the only
    # difference from the deployed call, so that a long file shows how far it has got.
    with mock.patch.object(one_invocation, "ingest_file", functools.partial(ingest_file, on_progress=on_progress)):
        return handler(event, DemoContext())
