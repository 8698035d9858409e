"""Request events, consumed capacity and units of work, on a real engine: every operation of
the session reports one event after it ends, capacity is asked for only while someone
watches (the requests are byte for byte as before otherwise), and a callback that fails
never breaks a request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from models import Order, Thing, create_table

from dynamorm_async import ConditionFailed, RequestEvent, Session, attr
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, FaultProxy


@pytest_asyncio.fixture
async def proxy(dynamodb_endpoint: str) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(dynamodb_endpoint) as running:
        yield running


def session(endpoint: str, prefix: str, **options: Any) -> Session:
    return Session(
        region=REGION, endpoint_url=endpoint, table_prefix=prefix, **DUMMY_CREDENTIALS, **options
    )


async def every_operation(db: Session) -> None:
    """One call of each operation the session has, on the Order and Thing tables."""
    order = Order("c1", "o1", total=5)
    await db.put(order)
    await db.get(Order, "c1", "o1", consistent=True)
    await db.update(order, add={"total": 1})
    await db.query(Order, "c1").count()
    [o async for o in db.query(Order, "c1", filter=attr("total") > 1)]
    [t async for t in db.scan(Thing)]
    await db.batch_write(put=[Thing("t", i) for i in range(3)])
    await db.batch_get(Thing, [("t", i) for i in range(3)])
    async with db.transaction() as tx:
        tx.put(Thing("u", 1))
        tx.update(Thing, "t", 1, set={"data": "x"})
    await db.transact_get([(Thing, "u", 1)])
    await db.delete(Thing, "u", 1)
    await db.tables.describe(Thing)


EXPECTED = [
    ("PutItem", "orders"),
    ("GetItem", "orders"),
    ("UpdateItem", "orders"),
    ("Query", "orders"),
    ("Query", "orders"),
    ("Scan", "things"),
    ("BatchWriteItem", "things"),
    ("BatchGetItem", "things"),
    ("TransactWriteItems", "things"),
    ("TransactGetItems", "things"),
    ("DeleteItem", "things"),
    ("DescribeTable", "things"),
    ("DescribeTimeToLive", "things"),
]


async def test_every_operation_reports_one_event(
    db: Session, dynamodb_endpoint: str, dynamodb_engine: str
) -> None:
    """One event per request, after it ended, with its operation, table, attempts, items and
    the consumed capacity the engine reported; async callbacks too."""
    events: list[RequestEvent] = []
    seen_async: list[str] = []

    async def also_async(event: RequestEvent) -> None:
        await asyncio.sleep(0)
        seen_async.append(event.operation)

    watched = session(dynamodb_endpoint, db.table_prefix, on_request=[events.append, also_async])
    try:
        await every_operation(watched)
    finally:
        await watched.close()
    prefix = db.table_prefix
    got = [(e.operation, (e.table or "").removeprefix(prefix)) for e in events]
    assert sorted(got) == sorted(EXPECTED)  # describe() asks for the table and TTL at once
    assert seen_async == [e.operation for e in events]
    by_op = {e.operation: e for e in events}
    assert all(e.attempts == 1 and e.retries == () and e.error is None for e in events)
    assert all(e.duration > 0 for e in events)
    assert by_op["GetItem"].items == 1
    assert by_op["BatchGetItem"].items == 3 and by_op["BatchGetItem"].unprocessed == 0
    assert by_op["TransactGetItems"].items == 1
    scan = by_op["Scan"]
    assert scan.items == scan.scanned == 0 and scan.index is None
    writes = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]
    if dynamodb_engine == "moto":  # moto answers TransactWriteItems with an empty list
        assert by_op[writes.pop()].capacity == ()
    for op in writes:
        event = by_op[op]
        assert event.write_units > 0 and event.read_units == 0, event
    for op in ("GetItem", "Query", "BatchGetItem", "TransactGetItems"):
        event = by_op[op]
        assert event.read_units > 0 and event.write_units == 0, event
    # a scan of an empty table reads nothing, and says so
    assert [(c.units, c.write_units) for c in scan.capacity] == [(scan.read_units, 0.0)]
    assert by_op["DescribeTable"].capacity == ()
    totals = watched.capacity
    assert totals.read == pytest.approx(sum(e.read_units for e in events))
    assert totals.write == pytest.approx(sum(e.write_units for e in events))
    assert set(totals.tables) == {prefix + "orders", prefix + "things"}


async def test_nothing_watched_sends_the_requests_as_they_were(
    db: Session, proxy: FaultProxy
) -> None:
    """Without a callback, a tracer or consumed_capacity, no request asks for consumed
    capacity and db.capacity stays empty; with consumed_capacity=True every request that
    takes it does, and the totals fill."""
    plain = session(proxy.endpoint, db.table_prefix)
    try:
        await every_operation(plain)
    finally:
        await plain.close()
    bodies = [body for _, body in proxy.requests]
    assert len(bodies) >= len(EXPECTED)
    assert not any("ReturnConsumedCapacity" in body for body in bodies)
    assert plain.capacity.tables == {}
    await db.tables.delete(Order)
    await db.tables.delete(Thing)
    await create_table(db, Order)
    await create_table(db, Thing)
    before = len(proxy.requests)
    counted = session(proxy.endpoint, db.table_prefix, consumed_capacity=True)
    try:
        await every_operation(counted)
    finally:
        await counted.close()
    asked = [op for op, body in proxy.requests[before:] if "ReturnConsumedCapacity" in body]
    assert sorted(asked) == sorted(op for op, _ in EXPECTED if not op.startswith("Describe"))
    assert counted.capacity.write > 0 and counted.capacity.read > 0


async def test_a_failing_callback_is_logged_and_the_request_goes_on(
    db: Session, dynamodb_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: RequestEvent) -> None:
        raise RuntimeError("observer bug")

    events: list[RequestEvent] = []
    watched = session(dynamodb_endpoint, db.table_prefix, on_request=[broken, events.append])
    try:
        with caplog.at_level(logging.ERROR, logger="dynamorm_async"):
            await watched.put(Thing("t", 1))
        assert await watched.get(Thing, "t", 1, consistent=True) == Thing("t", 1)
    finally:
        await watched.close()
    assert [e.operation for e in events] == ["PutItem", "GetItem"]
    assert "observer bug" in caplog.text


async def test_a_failed_request_is_an_event_with_its_error(
    db: Session, dynamodb_endpoint: str
) -> None:
    events: list[RequestEvent] = []
    watched = session(dynamodb_endpoint, db.table_prefix, on_request=events.append)
    try:
        with pytest.raises(ConditionFailed):
            await watched.put(Thing("t", 1), condition=attr("data") == "never")
    finally:
        await watched.close()
    (event,) = events
    assert event.operation == "PutItem" and event.error == "ConditionalCheckFailedException"


async def test_retries_are_counted_with_their_reasons(db: Session, proxy: FaultProxy) -> None:
    events: list[RequestEvent] = []
    watched = session(proxy.endpoint, db.table_prefix, on_request=events.append)
    proxy.fail("PutItem", times=2)
    proxy.fail("GetItem", code="InternalServerError", status=500, times=1)
    try:
        await watched.put(Thing("t", 1))
        await watched.get(Thing, "t", 1)
    finally:
        await watched.close()
    put, get = events
    assert (put.attempts, put.retries) == (3, ("throttle", "throttle"))
    assert (get.attempts, get.retries) == (2, ("5xx",))


async def test_track_capacity_adds_up_a_block_and_its_tasks(
    db: Session, dynamodb_endpoint: str
) -> None:
    watched = session(dynamodb_endpoint, db.table_prefix)
    try:
        await watched.put(Thing("outside", 1))
        with watched.track_capacity() as usage:
            await asyncio.gather(*(watched.put(Thing("t", i)) for i in range(4)))
            await watched.get(Thing, "t", 1, consistent=True)
        assert usage.write_units > 0 and usage.read_units > 0
        assert usage.write_units == pytest.approx(watched.capacity.write)
        assert not watched._observers.active  # asked for capacity only inside the block
    finally:
        await watched.close()


async def test_a_debug_line_per_request_names_no_value(
    db: Session, dynamodb_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    plain = session(dynamodb_endpoint, db.table_prefix)
    try:
        with caplog.at_level(logging.DEBUG, logger="dynamorm_async"):
            await plain.put(Thing("secret-key-value", 1))
    finally:
        await plain.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "dynamorm_async"]
    assert any(line.startswith("PutItem " + db.table_prefix + "things ") for line in lines)
    assert not any("secret-key-value" in line for line in lines)


async def test_a_copy_reports_what_it_consumed_only_when_asked(
    db: Session, dynamodb_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With consumed capacity asked for, the report and every progress snapshot carry the
    units the copy consumed (and the current rate); without, they are None. The table
    manager and the copy say what they did at INFO."""
    target = db.table_prefix + "things_copy"
    with caplog.at_level(logging.INFO, logger="dynamorm_async"):
        await db.tables.create(Thing, table_name=target)
        await db.batch_write(put=[Thing(f"n{i % 7}", i) for i in range(300)])
        plain = await db.tables.copy(Thing, Thing, target_table=target, segments=2)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert f"created table {target!r} for Thing" in lines
    assert any(line.startswith(f"table {target!r} is ACTIVE (waited ") for line in lines)
    assert any("ended (complete): 300 scanned, 300 written" in line for line in lines)
    assert plain.written == 300 and plain.read_units is None and plain.write_units is None
    snapshots: list[Any] = []
    counted = session(dynamodb_endpoint, db.table_prefix, consumed_capacity=True)
    try:
        report = await counted.tables.copy(
            Thing, Thing, target_table=target, segments=2, on_progress=snapshots.append
        )
    finally:
        await counted.close()
    assert report.written == 300
    assert report.read_units is not None and report.read_units > 0
    assert report.write_units is not None and report.write_units > 0
    assert report.write_units == pytest.approx(counted.capacity.tables[target].write)
    last = snapshots[-1]
    assert (last.read_units, last.write_units) == (report.read_units, report.write_units)
    assert all(s.current_rate is None or s.current_rate >= 0 for s in snapshots)
