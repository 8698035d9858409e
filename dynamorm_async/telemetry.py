"""OpenTelemetry tracing for a session (the ``otel`` extra: ``pip install
dynamorm_async[otel]``, which needs only ``opentelemetry-api``)::

    from dynamorm_async import Session
    from dynamorm_async.telemetry import instrument

    db = Session()
    instrument(db)                      # the global tracer provider, or tracer_provider=...

Each DynamoDB request becomes a CLIENT span named ``DynamoDB.<Operation>`` with OpenTelemetry's
semantic conventions for DynamoDB (``db.system.name="aws.dynamodb"``, ``rpc.method``,
``aws.dynamodb.table_names``, ``aws.dynamodb.index_name``, ``aws.dynamodb.limit``,
``aws.dynamodb.projection``, ``aws.dynamodb.consistent_read``, ``aws.dynamodb.scan_forward``,
``aws.dynamodb.segment``/``total_segments``, ``aws.dynamodb.select``,
``aws.dynamodb.consumed_capacity``, ``aws.dynamodb.count``/``scanned_count``), a ``retry``
event for every attempt botocore retried (with its reason: ``throttle``, ``5xx``,
``connection``), and the error when it failed. The library's own work made of several
requests is an INTERNAL span above them: ``dynamorm_async.batch_write``,
``dynamorm_async.batch_get``, ``dynamorm_async.batch_writer.flush``, ``dynamorm_async.scan``
and ``dynamorm_async.scan.segment`` (a parallel scan), ``dynamorm_async.copy`` and
``dynamorm_async.copy.segment``, ``dynamorm_async.table.wait``.

With botocore's own instrumentation on as well (``opentelemetry-instrumentation-botocore``'s
``AiobotocoreInstrumentor``), the request spans are not made twice: while the session's span
is current, instrumentation is suppressed (OpenTelemetry's suppression key, which botocore's
and aiohttp's instrumentors check), so each request is one span, this one. Other clients in
the process keep botocore's spans. Importing ``dynamorm_async`` never imports OpenTelemetry;
this module does.
"""

from __future__ import annotations

import json
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._observe.events import RequestEvent, request_tables
from ._observe.observers import Request, Usage
from ._session import Session

__all__ = ["Instrumentation", "instrument"]

_SCOPE = "dynamorm_async"
# Set with OpenTelemetry's own key and the plain string older instrumentors still read.
_SUPPRESS_KEYS: tuple[Any, ...] = ("suppress_instrumentation",)
try:
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

    _SUPPRESS_KEYS = (_SUPPRESS_INSTRUMENTATION_KEY, *_SUPPRESS_KEYS)
except ImportError:  # an API without the key: the string is all there is
    pass

# Request parameters that become span attributes when present.
_PARAMETERS = {
    "IndexName": "aws.dynamodb.index_name",
    "Limit": "aws.dynamodb.limit",
    "ProjectionExpression": "aws.dynamodb.projection",
    "ConsistentRead": "aws.dynamodb.consistent_read",
    "ScanIndexForward": "aws.dynamodb.scan_forward",
    "Segment": "aws.dynamodb.segment",
    "TotalSegments": "aws.dynamodb.total_segments",
    "Select": "aws.dynamodb.select",
}


class Instrumentation:
    """The tracer ``instrument()`` added to a session; ``uninstrument()`` removes it."""

    def __init__(self, session: Session, tracer: trace.Tracer) -> None:
        self._session = session
        self._tracer = tracer

    def uninstrument(self) -> None:
        """Stop making spans for the session."""
        self._session._observers.remove_tracer(self)

    # -- the tracer interface (see _observe.observers.Tracer) ------------------------------

    def request_started(self, request: Request, work: Usage | None) -> Any:
        params = request.params
        tables = list(request_tables(params))
        attributes: dict[str, Any] = {
            "db.system.name": "aws.dynamodb",
            "db.operation.name": request.operation,
            "rpc.system": "aws-api",
            "rpc.service": "DynamoDB",
            "rpc.method": request.operation,
        }
        if tables:
            attributes["aws.dynamodb.table_names"] = tables
        if len(tables) == 1:
            attributes["db.collection.name"] = tables[0]
        for name, attribute in _PARAMETERS.items():
            if name in params:
                attributes[attribute] = params[name]
        span = self._tracer.start_span(
            f"DynamoDB.{request.operation}", kind=SpanKind.CLIENT, attributes=attributes
        )
        # Current while the request runs, with instrumentation suppressed: botocore's and
        # aiohttp's instrumentors then make no second span for the same request.
        ctx = trace.set_span_in_context(span)
        for key in _SUPPRESS_KEYS:
            ctx = otel_context.set_value(key, True, ctx)
        return span, otel_context.attach(ctx)

    def request_ended(
        self, request: Request, event: RequestEvent, error: BaseException | None, token: Any
    ) -> None:
        span, attached = token
        otel_context.detach(attached)
        for number, reason in enumerate(event.retries, start=1):
            span.add_event("retry", {"attempt": number, "reason": reason})
        if event.capacity:
            span.set_attribute(
                "aws.dynamodb.consumed_capacity",
                [
                    json.dumps(
                        {
                            "TableName": c.table,
                            "CapacityUnits": c.units,
                            "ReadCapacityUnits": c.read_units,
                            "WriteCapacityUnits": c.write_units,
                        }
                    )
                    for c in event.capacity
                ],
            )
        if event.items is not None and request.operation in ("Query", "Scan"):
            span.set_attribute("aws.dynamodb.count", event.items)
            span.set_attribute("aws.dynamodb.scanned_count", event.scanned or 0)
        span.set_attribute("dynamorm_async.attempts", event.attempts)
        if event.unprocessed:
            span.set_attribute("dynamorm_async.unprocessed", event.unprocessed)
        if error is not None:
            span.set_attribute("error.type", event.error or type(error).__name__)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, event.error))
        span.end()

    def work_started(self, work: Usage, parent: Usage | None) -> Any:
        attributes = {f"dynamorm_async.{k}": v for k, v in work.attributes.items() if v is not None}
        span = self._tracer.start_span(
            f"dynamorm_async.{work.kind}", kind=SpanKind.INTERNAL, attributes=attributes
        )
        # Current while the work runs: its requests (and the tasks it starts) nest below.
        return span, otel_context.attach(trace.set_span_in_context(span))

    def work_ended(self, work: Usage, error: BaseException | None, token: Any) -> None:
        span, attached = token
        otel_context.detach(attached)
        if work.read_units or work.write_units:
            span.set_attribute("dynamorm_async.read_units", work.read_units)
            span.set_attribute("dynamorm_async.write_units", work.write_units)
        if error is not None and isinstance(error, Exception):
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()


def instrument(session: Session, tracer_provider: Any = None) -> Instrumentation:
    """Make OpenTelemetry spans for ``session``'s requests and multi-request work, with the
    given tracer provider (the global one by default). Returns the ``Instrumentation``, whose
    ``uninstrument()`` stops it. Consumed capacity is asked for while it is on, so the spans
    carry it.

    >>> instrument(db, tracer_provider=provider)  # doctest: +SKIP
    """
    if not isinstance(session, Session):
        raise TypeError(f"instrument() takes a dynamorm_async Session, got {session!r}")
    tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
    instrumentation = Instrumentation(session, tracer)
    session._observers.add_tracer(instrumentation)
    return instrumentation
