"""OpenTelemetry spans (``dynamorm_async.telemetry``) on a real engine through the fault
proxy, read back from the SDK's in-memory exporter: the span tree of a copy, retries as
events, consumed capacity that adds up, and no second span from botocore's instrumentation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from models import Thing, create_table
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dynamorm_async import RequestEvent, Session
from dynamorm_async.telemetry import instrument
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, FaultProxy


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    yield InMemorySpanExporter()


@pytest_asyncio.fixture
async def proxy(dynamodb_endpoint: str) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(dynamodb_endpoint, seed=20261202) as running:
        yield running


def traced(endpoint: str, prefix: str, exporter: InMemorySpanExporter, **options: Any) -> Session:
    from botocore.config import Config

    provider = TracerProvider()  # not the global one
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    db = Session(
        region=REGION,
        endpoint_url=endpoint,
        table_prefix=prefix,
        # Enough attempts that botocore retries every injected throttle itself, so each
        # one shows as a retry event, however the throttles fall on the requests.
        config=Config(retries={"mode": "standard", "total_max_attempts": 10}),
        **DUMMY_CREDENTIALS,
        **options,
    )
    instrument(db, tracer_provider=provider)
    return db


def units(span: ReadableSpan) -> float:
    """The capacity units a request span carries."""
    entries = span.attributes.get("aws.dynamodb.consumed_capacity", ()) if span.attributes else ()
    return sum(json.loads(e)["CapacityUnits"] for e in entries)  # type: ignore[union-attr]


async def test_the_span_tree_of_a_copy_through_faults(
    db: Session, proxy: FaultProxy, exporter: InMemorySpanExporter
) -> None:
    """2,000 items copied with 4 segments while the proxy throttles and leaves items
    unprocessed: one root, one span per segment below it, every request below its segment
    (or the root, for the checks before the scan), botocore's retries as events on their
    request span, and the units of the requests adding up to the root's and to the events'."""
    target = await create_table(db, Thing, table_name=db.table_prefix + "things_copy")
    await db.batch_write(put=[Thing(f"n{i % 40}", i) for i in range(2_000)])
    events: list[RequestEvent] = []
    session = traced(proxy.endpoint, db.table_prefix, exporter, on_request=events.append)
    proxy.fail("BatchWriteItem", times=6)
    proxy.fail("Scan", times=2)
    proxy.split_batch_writes(0.5, times=10)
    try:
        report = await session.tables.copy(
            Thing, Thing, target_table=target, segments=4, page_size=250
        )
    finally:
        await session.close()
    assert report.written == 2_000 and report.complete
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    roots = [s for s in spans if s.parent is None]
    assert [r.name for r in roots] == ["dynamorm_async.copy"]
    (root,) = roots
    assert all(s.context.trace_id == root.context.trace_id for s in spans)
    segments = [s for s in spans if s.name == "dynamorm_async.copy.segment"]
    assert sorted(s.attributes["dynamorm_async.segment"] for s in segments) == [0, 1, 2, 3]
    assert all(s.parent.span_id == root.context.span_id for s in segments)
    requests = [s for s in spans if s.name.startswith("DynamoDB.")]
    assert len(requests) == len(events)
    for span in requests:
        parent = by_id[span.parent.span_id]
        expected = (
            "dynamorm_async.copy"
            if span.name == "DynamoDB.DescribeTable"
            else ("dynamorm_async.copy.segment")
        )
        assert parent.name == expected, span.name
        assert span.attributes["db.system.name"] == "aws.dynamodb"
        assert span.attributes["rpc.method"] == span.name.removeprefix("DynamoDB.")
    scans = [s for s in requests if s.name == "DynamoDB.Scan"]
    assert {s.attributes["aws.dynamodb.total_segments"] for s in scans} == {4}
    retried = [e for s in requests for e in s.events if e.name == "retry"]
    assert len(retried) == 8 == sum(len(e.retries) for e in events)
    assert {e.attributes["reason"] for e in retried} == {"throttle"}
    # A split batch leaves items unprocessed (a small retry chunk may be forwarded whole).
    unprocessed = [s.attributes.get("dynamorm_async.unprocessed", 0) for s in requests]
    assert sum(unprocessed) == sum(e.unprocessed for e in events) > 0
    assert 1 <= sum(1 for u in unprocessed if u) <= 10 and report.retried >= 1
    total = sum(units(s) for s in requests)
    assert total > 0
    assert total == pytest.approx(sum(e.read_units + e.write_units for e in events))
    assert total == pytest.approx(
        root.attributes["dynamorm_async.read_units"] + root.attributes["dynamorm_async.write_units"]
    )
    assert report.write_units == pytest.approx(sum(e.write_units for e in events))


async def test_a_parallel_scan_and_a_batch_are_spans_above_their_requests(
    db: Session, dynamodb_endpoint: str, exporter: InMemorySpanExporter
) -> None:
    session = traced(dynamodb_endpoint, db.table_prefix, exporter)
    try:
        await session.batch_write(put=[Thing("a", i) for i in range(60)])
        found = [t async for t in session.scan(Thing, segments=3)]
    finally:
        await session.close()
    assert len(found) == 60
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}

    def parent_name(span: ReadableSpan) -> str | None:
        return None if span.parent is None else by_id[span.parent.span_id].name

    names = sorted((s.name, parent_name(s)) for s in spans)
    assert names == sorted(
        [("dynamorm_async.batch_write", None)]
        + [("DynamoDB.BatchWriteItem", "dynamorm_async.batch_write")] * 3
        + [("dynamorm_async.scan", None)]
        + [("dynamorm_async.scan.segment", "dynamorm_async.scan")] * 3
        + [("DynamoDB.Scan", "dynamorm_async.scan.segment")] * 3
    )


async def test_a_failed_request_span_records_its_error_and_instrumentation_is_suppressed(
    db: Session, dynamodb_endpoint: str, exporter: InMemorySpanExporter
) -> None:
    """While the request span is current, OpenTelemetry's suppression key is set, so
    botocore's and aiohttp's instrumentors make no second span for it (on the aiobotocore
    transport: the lean one has no instrumentor to suppress)."""
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

    seen: list[Any] = []
    session = traced(dynamodb_endpoint, db.table_prefix, exporter, transport="aiobotocore")
    client = await session.client()
    client.meta.events.register(
        "before-send.dynamodb",
        lambda **_: seen.append(otel_context.get_value(_SUPPRESS_INSTRUMENTATION_KEY)),
    )
    try:
        await session.put(Thing("t", 1))
        with pytest.raises(Exception, match="missing"):
            await session.get(Thing, "t", 1, table_name=db.table_prefix + "missing")
    finally:
        await session.close()
    assert seen == [True, True]
    put, get = exporter.get_finished_spans()
    assert put.status.is_ok and not get.status.is_ok
    assert get.attributes["error.type"] == "ResourceNotFoundException"
    assert [e.name for e in get.events] == ["exception"]
