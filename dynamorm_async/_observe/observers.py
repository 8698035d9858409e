"""Watching requests: request callbacks, tracers, consumed capacity and the library's own
units of work (a batch, a parallel scan, a copy and their parts).

Nothing here runs unless someone watches: without a callback, a tracer, a capacity budget or
``Session(consumed_capacity=True)``, ``SessionBase._send`` takes its plain path and requests
are exactly what they would be without this module. When watching, each request:

- asks DynamoDB for its consumed capacity (``ReturnConsumedCapacity="INDEXES"``) on the
  operations that take it, on a copy of the parameters;
- is told to every tracer before it is sent and after it ended (a tracer makes spans);
- records each HTTP attempt botocore makes (its ``response-received`` event, found through a
  context variable, so concurrent requests never mix) to say how many attempts were made and
  why the earlier ones were retried;
- ends as a ``RequestEvent`` given to every callback, added to ``db.capacity`` and to each
  unit of work it belongs to (``work()``, a context variable stack that tasks inherit).
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

from .._errors import DynamORMError
from .._transport.translate import CHECKSUM_MISMATCH, THROTTLING_CODES
from .events import Capacity, CapacityTotals, RequestEvent, parse_capacity, request_tables

__all__ = ["Observers", "Request", "Tracer", "Usage", "work"]

_log = logging.getLogger("dynamorm_async")

# The operations that take ReturnConsumedCapacity.
CAPACITY_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


class Request:
    """One request while it runs: what tracers and the attempt hook see."""

    __slots__ = ("attempts", "ctx", "operation", "params", "started")

    def __init__(self, operation: str, params: dict[str, Any], ctx: Any) -> None:
        self.operation = operation
        self.params = params
        self.ctx = ctx
        self.started = time.perf_counter()
        self.attempts: list[str | None] = []  # per HTTP attempt: why it failed, None if not


class Usage:
    """A unit of work made of several requests, and the capacity they consumed: the
    library's own (a batch, a parallel scan, a copy and their parts, ``kind`` saying which),
    or yours, from ``db.track_capacity()``. ``read_units``/``write_units`` add up what the
    requests made inside it (in its task and the tasks started there) consumed."""

    __slots__ = ("attributes", "kind", "read_units", "tokens", "write_units")

    def __init__(self, kind: str, attributes: dict[str, Any]) -> None:
        self.kind = kind
        self.attributes = attributes
        self.read_units = 0.0
        self.write_units = 0.0
        self.tokens: list[Any] = []

    def add(self, capacity: tuple[Capacity, ...]) -> None:
        for c in capacity:
            self.read_units += c.read_units
            self.write_units += c.write_units


class Tracer(Protocol):
    """What an observer that follows requests as they run implements (the OpenTelemetry
    integration does, in ``dynamorm_async.telemetry``)."""

    def request_started(self, request: Request, work: Usage | None) -> Any:
        """Called before the request is sent; the result comes back to ``request_ended``."""

    def request_ended(
        self, request: Request, event: RequestEvent, error: BaseException | None, token: Any
    ) -> None:
        """Called when the request ended, ``error`` set if it failed."""

    def work_started(self, work: Usage, parent: Usage | None) -> Any:
        """Called when a unit of work starts; the result comes back to ``work_ended``."""

    def work_ended(self, work: Usage, error: BaseException | None, token: Any) -> None:
        """Called when a unit of work ends, ``error`` set if it failed."""


_current_request: contextvars.ContextVar[Request | None] = contextvars.ContextVar(
    "dynamorm_async_request", default=None
)
_current_work: contextvars.ContextVar[tuple[tuple[Usage, Observers], ...]] = contextvars.ContextVar(
    "dynamorm_async_work", default=()
)


class Observers:
    """A session's watchers. ``active`` is False until something watches."""

    def __init__(self, consumed_capacity: bool = False) -> None:
        self.callbacks: list[Callable[[RequestEvent], Any]] = []
        self.tracers: list[Tracer] = []
        self.capacity = CapacityTotals()
        self._always_capacity = consumed_capacity
        self._budgets = 0  # capacity budgets that need the figures
        self.active = consumed_capacity
        self._hooked: weakref.WeakSet[Any] = weakref.WeakSet()  # clients that record attempts

    def _refresh(self) -> None:
        self.active = bool(self.callbacks or self.tracers or self._always_capacity or self._budgets)

    def add_callback(self, callback: Callable[[RequestEvent], Any]) -> None:
        self.callbacks.append(callback)
        self._refresh()

    def add_tracer(self, tracer: Tracer) -> None:
        self.tracers.append(tracer)
        self._refresh()

    def remove_tracer(self, tracer: Tracer) -> None:
        with contextlib.suppress(ValueError):
            self.tracers.remove(tracer)
        self._refresh()

    @contextlib.contextmanager
    def budget(self) -> Iterator[None]:
        """Ask for consumed capacity while a capacity budget needs the figures."""
        self._budgets += 1
        self._refresh()
        try:
            yield
        finally:
            self._budgets -= 1
            self._refresh()

    def _units(self) -> list[Usage]:
        """This session's units of work open in the running task, outermost first."""
        return [w for w, owner in _current_work.get() if owner is self]

    # -- the request path ----------------------------------------------------------------

    def hook(self, client: Any) -> None:
        """Record the HTTP attempts of ``client``'s requests (once per client)."""
        if client not in self._hooked:
            self._hooked.add(client)
            lean = getattr(client, "register_attempt_hook", None)
            if lean is not None:  # the lean transport calls it as botocore's event would
                lean(_record_attempt)
            else:
                client.meta.events.register("response-received.dynamodb", _record_attempt)

    async def send(
        self,
        operation: str,
        params: dict[str, Any],
        ctx: Any,
        call: Callable[[dict[str, Any]], Awaitable[Any]],
        settle: Callable[[RequestEvent], None] | None = None,
    ) -> Any:
        """``call(params)`` watched: the request as the tracers, callbacks and totals see
        it, and ``settle`` (a capacity budget's) with its event. ``params`` is not changed
        (the capacity request goes on a copy)."""
        # Asked for while someone watches; a request logged at DEBUG only stays as it was.
        if (
            self.active
            and operation in CAPACITY_OPERATIONS
            and "ReturnConsumedCapacity" not in params
        ):
            params = {**params, "ReturnConsumedCapacity": "INDEXES"}
        request = Request(operation, params, ctx)
        works = self._units()
        parent = works[-1] if works else None
        tracers = list(self.tracers)  # the same ones end it, whatever changes meanwhile
        tokens = [_safely(t.request_started, request, parent) for t in tracers]
        marker = _current_request.set(request)
        response: Any = None
        error: BaseException | None = None
        try:
            response = await call(params)
            return response
        except BaseException as exc:
            error = exc
            raise
        finally:
            _current_request.reset(marker)
            event = _event(request, response, error)
            if settle is not None:
                _safely(settle, event)
            self.capacity.add(event.capacity)
            for w in works:
                w.add(event.capacity)
            for tracer, token in zip(tracers, tokens, strict=True):
                _safely(tracer.request_ended, request, event, error, token)
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug(
                    "%s %s %.1f ms, %d attempt(s)%s",
                    operation,
                    event.table or ",".join(event.tables) or "-",
                    event.duration * 1000,
                    event.attempts,
                    f", failed: {event.error}" if event.error else "",
                )
            for callback in self.callbacks:
                await _deliver(callback, event)

    # -- units of work ---------------------------------------------------------------------

    @contextlib.contextmanager
    def work(self, kind: str, **attributes: Any) -> Iterator[Usage]:
        """A unit of work: the requests made inside it (in this task and the tasks it starts)
        add their capacity to it, and tracers make it the parent of their spans."""
        item = Usage(kind, attributes)
        parents = self._units()
        tracers = list(self.tracers)
        item.tokens = [
            _safely(t.work_started, item, parents[-1] if parents else None) for t in tracers
        ]
        marker = _current_work.set((*_current_work.get(), (item, self)))
        error: BaseException | None = None
        try:
            yield item
        except BaseException as exc:
            error = exc
            raise
        finally:
            _current_work.reset(marker)
            for tracer, token in zip(tracers, item.tokens, strict=True):
                _safely(tracer.work_ended, item, error, token)


_IDLE = contextlib.nullcontext(None)


def work(
    observers: Observers, kind: str, **attributes: Any
) -> contextlib.AbstractContextManager[Usage | None]:
    """``observers.work(...)`` when anything watches, else a context that does nothing (so
    an unwatched batch or copy pays nothing for it)."""
    return observers.work(kind, **attributes) if observers.active else _IDLE


def _record_attempt(
    exception: BaseException | None = None, parsed_response: Any = None, **_: Any
) -> None:
    request = _current_request.get()
    if request is None:  # a request of this client that nobody watches
        return
    if exception is not None:
        reason: str | None = "connection"
    elif not isinstance(parsed_response, dict):
        reason = None
    else:
        meta = parsed_response.get("ResponseMetadata") or {}
        code = (parsed_response.get("Error") or {}).get("Code")
        status = int(meta.get("HTTPStatusCode") or 200)
        if CHECKSUM_MISMATCH in meta:
            reason = "checksum"
        elif code in THROTTLING_CODES:
            reason = "throttle"
        elif status >= 500:
            reason = "5xx"
        else:
            reason = code
    request.attempts.append(reason)


def _event(request: Request, response: Any, error: BaseException | None) -> RequestEvent:
    params = request.params
    operation = request.operation
    tables = request_tables(params)
    attempts = request.attempts or [None]
    answer = response if isinstance(response, dict) else {}
    items: int | None = None
    scanned: int | None = None
    if operation in ("Query", "Scan"):
        items = int(answer.get("Count", 0)) if answer else None
        scanned = int(answer.get("ScannedCount", 0)) if answer else None
    elif operation == "GetItem" and answer:
        items = 1 if answer.get("Item") else 0
    elif operation == "BatchGetItem" and answer:
        items = sum(len(v) for v in (answer.get("Responses") or {}).values())
    elif operation == "TransactGetItems" and answer:
        items = sum(1 for r in answer.get("Responses") or () if r.get("Item"))
    unprocessed = 0
    if operation == "BatchWriteItem":
        unprocessed = sum(len(v) for v in (answer.get("UnprocessedItems") or {}).values())
    elif operation == "BatchGetItem":
        left = answer.get("UnprocessedKeys") or {}
        unprocessed = sum(len(v.get("Keys", ())) for v in left.values())
    code = None
    if error is not None:
        code = getattr(error, "code", None) if isinstance(error, DynamORMError) else None
        code = code or type(error).__name__
    return RequestEvent(
        operation=operation,
        table=tables[0] if len(tables) == 1 else None,
        tables=tables,
        index=params.get("IndexName"),
        duration=time.perf_counter() - request.started,
        attempts=len(attempts),
        retries=tuple(r or "unknown" for r in attempts[:-1]),
        capacity=parse_capacity(operation, answer.get("ConsumedCapacity")),
        items=items,
        scanned=scanned,
        unprocessed=unprocessed,
        error=code,
    )


def _safely(fn: Callable[..., Any], *args: Any) -> Any:
    # An observer's bug must never break a request.
    try:
        return fn(*args)
    except Exception:
        _log.exception("dynamorm_async: %r raised; the request goes on", fn)
        return None


async def _deliver(callback: Callable[[RequestEvent], Any], event: RequestEvent) -> None:
    try:
        result = callback(event)
        if inspect.isawaitable(result):
            await result
    except Exception:
        _log.exception("dynamorm_async: the on_request callback %r raised", callback)
