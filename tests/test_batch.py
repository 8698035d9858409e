"""batch_get, batch_write and batch_writer against a real engine: chunking, order, duplicate
keys, projections, bad input, the writer's life cycle, and retries of unprocessed work and
transient errors forced through a ``FaultProxy``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from models import Order, Thing, item_count, raw_item

from dynamorm_async import BatchIncomplete, RequestFailed, Session, StateError, ValidationError
from dynamorm_async.testing import REGION, FaultProxy


def things(n: int, *, data: str = "d") -> list[Thing]:
    """``n`` distinct Things, 100 per hash key."""
    return [Thing(f"n{i // 100}", i, data=data, scores=[i], labels={"x"}) for i in range(n)]


def key(thing: Thing) -> tuple[str, int]:
    return (thing.name, thing.size)


async def stored_keys(db: Session) -> set[tuple[str, int]]:
    """The keys of every Thing the engine holds (a consistent scan past any proxy)."""
    client = await db.client()
    keys: set[tuple[str, int]] = set()
    kwargs: dict[str, Any] = {"TableName": db.table_name(Thing), "ConsistentRead": True}
    while True:
        page = await client.scan(ProjectionExpression="#n, #s", **kwargs, **_NAMES)
        keys |= {(i["name"]["S"], int(i["size"]["N"])) for i in page["Items"]}
        if "LastEvaluatedKey" not in page:
            return keys
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


_NAMES = {"ExpressionAttributeNames": {"#n": "name", "#s": "size"}}


@pytest_asyncio.fixture
async def proxy(dynamodb_endpoint: str) -> AsyncIterator[FaultProxy]:
    """A fault proxy in front of the engine (seeded, so a run's faults are repeatable)."""
    async with FaultProxy(dynamodb_endpoint, seed=20260301) as running:
        yield running


@pytest_asyncio.fixture
async def faulty(db: Session, proxy: FaultProxy) -> AsyncIterator[Session]:
    """A session on the same tables, through ``proxy``, with botocore's retries cut to 2
    attempts so that injected faults reach the batch retries."""
    from botocore.config import Config

    session = Session(
        region=REGION,
        endpoint_url=proxy.endpoint,
        table_prefix=db.table_prefix,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    try:
        yield session
    finally:
        await session.close()


def mixed_faults(proxy: FaultProxy, operation: str) -> None:
    """About 30% of ``operation``'s requests faulted: split answers, throttles, 500s and
    dropped connections."""
    if operation == "BatchWriteItem":
        proxy.split_batch_writes(0.5, probability=0.1)
    else:
        proxy.split_batch_gets(0.5, probability=0.1)
    proxy.fail(operation, times=None, probability=0.1)  # ProvisionedThroughputExceeded
    proxy.fail(operation, code="InternalServerError", status=500, times=None, probability=0.08)
    proxy.drop(operation, times=None, probability=0.05)


# -- batch_write and batch_get, many items -----------------------------------------------------


async def test_ten_thousand_things_written_and_read_back(db: Session) -> None:
    """batch_write of 10,000 Things reports 10,000 writes, the table holds 10,000 items, and
    batch_get of all their keys returns equal models in the order of the keys."""
    items = things(10_000)
    assert await db.batch_write(put=items, concurrency=8) == 10_000
    assert await item_count(db, Thing) == 10_000
    keys = [key(t) for t in reversed(items)]
    assert await db.batch_get(Thing, keys, concurrency=8) == items[::-1]


async def test_batch_write_takes_several_models_and_writes_them_as_they_are(db: Session) -> None:
    """Orders and Things go in one call; the Order is written as it is, but for its version
    (0 is stored as 1): no timestamps are set, the object is not changed, and writing the
    same object again is no conflict."""
    order = Order("c1", "o1", total=5, price=Decimal("1.5"))
    assert await db.batch_write(put=[order, Thing("t", 1)]) == 2
    assert await db.batch_write(put=[order]) == 1
    stored = await raw_item(db, Order, {"customer_id": {"S": "c1"}, "order_id": {"S": "o1"}})
    assert stored is not None and stored["version"] == {"N": "1"}
    assert "created_at" not in stored and "updated_at" not in stored
    assert order.version == 0 and order.created_at is None
    stored_order = Order("c1", "o1", total=5, price=Decimal("1.5"), version=1)
    assert await db.get(Order, "c1", "o1") == stored_order
    assert await db.get(Thing, "t", 1) == Thing("t", 1)


async def test_batch_writes_store_version_0_as_1_and_other_versions_as_they_are(
    db: Session,
) -> None:
    """batch_write and batch_writer of versioned objects: version 0 is stored as 1, version
    5 as 5 (read back consistently); the objects in memory keep their versions."""
    fresh = [Order("c", f"w{i}") for i in range(30)]
    loaded = [Order("c", f"v{i}", version=5) for i in range(30)]
    assert await db.batch_write(put=[*fresh, *loaded]) == 60
    async with db.batch_writer() as w:
        for i in range(30):
            await w.put(Order("d", f"w{i}"))
            await w.put(Order("d", f"v{i}", version=5))
    assert all(o.version == 0 for o in fresh) and all(o.version == 5 for o in loaded)
    for customer in ("c", "d"):
        for i in range(30):
            zero = await db.get(Order, customer, f"w{i}", consistent=True)
            five = await db.get(Order, customer, f"v{i}", consistent=True)
            assert zero is not None and zero.version == 1
            assert five is not None and five.version == 5


async def test_batch_write_of_nothing_sends_nothing(db: Session) -> None:
    """No puts and no deletes: 0 writes, no request, no error."""
    assert await db.batch_write() == 0
    assert db.batch_stats.requests == 0


# -- duplicate keys ---------------------------------------------------------------------------


async def test_the_later_put_of_a_key_wins(db: Session) -> None:
    """Two puts of one key in one call send one write: the later object is stored."""
    sent = await db.batch_write(put=[Thing("a", 1, data="first"), Thing("a", 1, data="second")])
    assert sent == 1
    assert await db.get(Thing, "a", 1) == Thing("a", 1, data="second")


async def test_a_key_put_and_deleted_in_one_call_is_deleted(db: Session) -> None:
    """Deletes count as later than puts: a key in both is deleted (one write), whether the
    delete names it by instance or by (Model, hash, range); other keys are written."""
    await db.put(Thing("a", 1))
    sent = await db.batch_write(
        put=[Thing("a", 1, data="new"), Thing("b", 2), Thing("c", 3)],
        delete=[(Thing, "a", 1), Thing("b", 2)],
    )
    assert sent == 3
    assert await stored_keys(db) == {("c", 3)}


async def test_batch_writer_keeps_the_later_write_of_a_key(db: Session) -> None:
    """In the writer the later write wins: put twice (the second is stored), put then
    delete (gone), delete then put (stored), also across batches of 25."""
    await db.put(Thing("c", 3, data="old"))
    async with db.batch_writer() as w:
        await w.put(Thing("a", 1, data="first"))
        await w.put(Thing("a", 1, data="second"))
        await w.put(Thing("b", 2))
        await w.delete((Thing, "b", 2))
        await w.delete(Thing("c", 3))
        await w.put(Thing("c", 3, data="new"))
        await w.put(Thing("d", 4))
        for t in things(60):  # the delete of d below goes in a later batch
            await w.put(t)
        await w.delete((Thing, "d", 4))
    assert await db.get(Thing, "a", 1) == Thing("a", 1, data="second")
    assert await db.get(Thing, "b", 2) is None
    assert await db.get(Thing, "c", 3) == Thing("c", 3, data="new")
    assert await db.get(Thing, "d", 4) is None
    assert await item_count(db, Thing) == 62
    assert w.written == 65


# -- batch_get ---------------------------------------------------------------------------


async def test_batch_get_keeps_the_order_of_the_keys_with_none_for_missing_ones(
    db: Session,
) -> None:
    """250 keys (three requests) in shuffled order with missing and repeated keys: one entry
    per key given, aligned, None where nothing is stored; a repeated key is read once but
    each position gets its own object."""
    items = things(200)
    await db.batch_write(put=items)
    keys: list[Any] = [key(t) for t in items[-2::-2]]
    keys += [("nobody", 1), key(items[7]), ("n0", 999), key(items[7])]
    keys += [key(t) for t in items[1::2]]
    got = await db.batch_get(Thing, keys)
    expected = {key(t): t for t in items}
    assert got == [expected.get(k) for k in keys]
    assert got[100] is None and got[102] is None
    assert got[101] == got[103] == items[7] and got[101] is not got[103]
    assert db.batch_stats.requests == 3 + 8  # 200 distinct keys read; 200 written


async def test_batch_get_consistent_and_with_attributes(db: Session) -> None:
    """consistent=True reads what was just written; attributes=[...] returns dicts of the
    key and the named fields only, None for missing keys."""
    await db.batch_write(put=things(3, data="p"))
    assert await db.batch_get(Thing, [("n0", 2), ("n0", 0)], consistent=True) == [
        things(3, data="p")[2],
        things(3, data="p")[0],
    ]
    partial = await db.batch_get(Thing, [("n0", 1), ("n0", 9)], attributes=["data", "scores"])
    assert partial == [{"name": "n0", "size": 1, "data": "p", "scores": [1]}, None]


async def test_batch_get_of_no_keys_is_an_empty_list(db: Session) -> None:
    """No keys: an empty list, no request."""
    assert await db.batch_get(Thing, []) == []
    assert db.batch_stats.requests == 0


# -- bad input ---------------------------------------------------------------------------


async def test_a_bad_item_among_good_ones_writes_nothing(db: Session) -> None:
    """One item that cannot be stored (a str for an int field, an item over 400 KB, a None
    key, a bad delete target) raises ValidationError before any request: nothing written."""
    good = things(60)
    bad_items: list[Any] = [
        Thing("x", "not a number"),  # type: ignore[arg-type]
        Thing("x", 1, data="x" * 410_000),
        Thing(None, 1),  # type: ignore[arg-type]
    ]
    for bad in bad_items:
        with pytest.raises(ValidationError):
            await db.batch_write(put=[*good, bad, *good])
    for target in [(Thing, "x"), (Thing,), ("Thing", "x", 1), (Thing, "x", "one"), object()]:
        with pytest.raises(ValidationError):
            await db.batch_write(put=good, delete=[target])
    with pytest.raises(ValidationError):
        await db.batch_write(put=Thing("x", 1))  # one object, not a list
    with pytest.raises(ValidationError):
        await db.batch_write(put=good, concurrency=0)
    with pytest.raises(ValidationError):
        await db.batch_write(put=[Order("c", "o"), Thing("t", 1)], table_name="one_table")
    assert db.batch_stats.requests == 0
    assert await item_count(db, Thing) == 0


async def test_batch_get_refuses_keys_of_the_wrong_shape_or_type(db: Session) -> None:
    """A key of the wrong type, a hash value alone for a model with a range key, a
    3-tuple, or a string instead of a list of keys raise ValidationError, sending nothing."""
    bad_keys: list[Any] = [[("a", "one")], ["a"], [("a", 1, 2)], [(None, 1)], "a"]
    for keys in bad_keys:
        with pytest.raises(ValidationError):
            await db.batch_get(Thing, [("a", 1), *keys] if isinstance(keys, list) else keys)
    with pytest.raises(ValidationError):
        await db.batch_get(Thing, [("a", 1)], attributes=[])
    assert db.batch_stats.requests == 0


# -- batch_writer life cycle ---------------------------------------------------------------


async def test_batch_writer_flushes_on_exit_and_on_demand(db: Session) -> None:
    """flush() sends what is buffered; leaving the block sends the rest; no task of the
    writer is left running; the writer cannot be used after the block."""
    before = asyncio.all_tasks()
    async with db.batch_writer(concurrency=2) as w:
        for t in things(30):
            await w.put(t)
        await w.flush()
        assert await item_count(db, Thing) == 30
        for t in things(40)[30:]:
            await w.put(t)
    assert await item_count(db, Thing) == 40
    assert asyncio.all_tasks() - before == set()
    with pytest.raises(StateError, match="BatchWriter is closed") as caught:
        await w.put(Thing("late", 1))
    assert caught.value.state == "closed" and isinstance(caught.value, RuntimeError)
    assert w.written == 40 and w.retries == 0


async def test_batch_writer_flushes_when_the_block_raises(db: Session) -> None:
    """An exception inside the block propagates unchanged after the buffered items are
    written; a bad put raises ValidationError at once and is not buffered."""
    with pytest.raises(KeyError):
        async with db.batch_writer() as w:
            for t in things(30):
                await w.put(t)
            with pytest.raises(ValidationError):
                await w.put(Thing("bad", "x"))  # type: ignore[arg-type]
            raise KeyError("boom")
    assert await stored_keys(db) == {key(t) for t in things(30)}


async def test_a_cancelled_batch_writer_sends_nothing_more(
    db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """Cancelling the task inside the block stops the writer at once: what was flushed is
    stored, the buffered writes are not sent but logged as not made, the task ends
    cancelled, and no task of the writer is left."""
    ready = asyncio.Event()
    before = asyncio.all_tasks()

    async def produce() -> None:
        async with db.batch_writer() as w:
            for t in things(25):
                await w.put(t)
            await w.flush()
            for t in things(30)[25:]:
                await w.put(t)
            ready.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(produce())
    await ready.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == before
    assert await stored_keys(db) == {key(t) for t in things(25)}
    assert "BatchWriter stopped: 5 writes not made (or not confirmed), 25 written" in caplog.text


async def test_a_timeout_during_the_final_flush_stops_it_at_once(
    db: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """With each BatchWriteItem held back 2 s, a 0.5 s timeout that expires while leaving
    the block (the final flush) raises TimeoutError at once: the request in flight is
    cancelled, not waited for, and no task is left running."""
    proxy.delay("BatchWriteItem", 2.0, times=None)
    before = asyncio.all_tasks()
    started = time.monotonic()

    async def write() -> None:
        async with faulty.batch_writer() as w:
            for t in things(10):
                await w.put(t)

    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(write(), 0.5)
    assert time.monotonic() - started < 1.5
    assert asyncio.all_tasks() == before


async def test_batch_writer_raises_the_first_write_error_with_the_unwritten_items(
    db: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """A request refused with a non-retryable error (AccessDeniedException, once) is not
    retried; the other batches are written, and leaving the block raises BatchIncomplete
    carrying exactly the objects that are not stored, with the error chained."""
    proxy.fail("BatchWriteItem", code="AccessDeniedException", status=400)
    items = things(100)
    with pytest.raises(BatchIncomplete) as caught:
        async with faulty.batch_writer() as w:
            for t in items:
                await w.put(t)
    missing = {key(t) for t in items} - await stored_keys(db)
    assert len(missing) == 25
    assert {key(t) for t in caught.value.unprocessed} == missing
    assert all(any(u is t for t in items) for u in caught.value.unprocessed)
    assert caught.value.done == 75 == w.written
    assert isinstance(caught.value.__cause__, RequestFailed)
    assert caught.value.__cause__.code == "AccessDeniedException"
    assert proxy.count("BatchWriteItem") == 4


async def test_batch_writer_keeps_the_order_of_writes_to_one_key_across_retries(
    db: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """A put whose batch comes back unprocessed is retried before a later batch that deletes
    the same key is sent, so the delete lands last and the item is gone."""
    proxy.split_batch_writes(0.0, times=1)
    async with faulty.batch_writer(concurrency=4) as w:
        await w.put(Thing("x", 1))
        for t in things(24):
            await w.put(t)
        await w.delete((Thing, "x", 1))
        for t in things(48)[24:]:
            await w.put(t)
    assert await db.get(Thing, "x", 1, consistent=True) is None
    assert await item_count(db, Thing) == 48
    assert w.retries == 1 and w.written == 50
    sent = [next(iter(r["RequestItems"].values())) for op, r in proxy.requests if op]
    deletes = [i for i, requests in enumerate(sent) if "DeleteRequest" in requests[0]]
    assert len(sent) == 3 and deletes == [2]


# -- retries through faults ----------------------------------------------------------------


async def test_ten_thousand_writes_and_reads_survive_thirty_percent_faults(
    db: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """With about 30% of batch requests faulted (split answers, throttles, 500s, dropped
    connections), batch_write stores all 10,000 items exactly once and batch_get reads all of
    them back; both report their retries."""
    items = things(10_000)
    mixed_faults(proxy, "BatchWriteItem")
    mixed_faults(proxy, "BatchGetItem")
    assert await faulty.batch_write(put=items, concurrency=8) == 10_000
    write_retries = faulty.batch_stats.retries
    assert write_retries > 0 and faulty.batch_stats.unprocessed > 0
    assert await item_count(db, Thing) == 10_000
    assert proxy.count("BatchWriteItem") > 400
    got = await faulty.batch_get(Thing, [key(t) for t in items], concurrency=8)
    assert got == items
    assert faulty.batch_stats.retries > write_retries
    assert proxy.count("BatchGetItem") > 100


async def test_batch_writer_retries_unprocessed_items_and_errors(
    db: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """The writer, through the same mix of faults, writes 1,000 puts and 100 deletes, and
    counts its retries."""
    await db.batch_write(put=things(1_100))
    mixed_faults(proxy, "BatchWriteItem")
    items = things(1_000, data="new")
    async with faulty.batch_writer(concurrency=8) as w:
        for t in items:
            await w.put(t)
        for t in things(1_100)[1_000:]:
            await w.delete(t)
    assert w.retries > 0 and w.written == 1_100
    assert await db.batch_get(Thing, [key(t) for t in things(1_100)]) == items + [None] * 100


async def test_a_spent_budget_raises_batch_incomplete_with_exactly_the_unwritten_items(
    db: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """Half of each of the first five requests is written, then nothing more: after three
    attempts per batch, BatchIncomplete carries exactly the objects and delete targets that
    are not done (checked against the table), and ``done`` counts the rest."""
    await db.batch_write(put=[Thing("gone", i) for i in range(20)])
    proxy.split_batch_writes(0.5, times=5)
    proxy.split_batch_writes(0.0)
    items = things(100)
    deletes = [(Thing, "gone", i) for i in range(20)]
    with pytest.raises(BatchIncomplete) as caught:
        await faulty.batch_write(put=items, delete=deletes, max_attempts=3)
    left = caught.value.unprocessed
    stored = await stored_keys(db)
    assert caught.value.operation == "BatchWriteItem"
    assert [t for t in items if key(t) not in stored] == [u for u in left if isinstance(u, Thing)]
    assert [d for d in deletes if d[1:] in stored] == [u for u in left if isinstance(u, tuple)]
    assert 0 < caught.value.done < 120 and caught.value.done + len(left) == 120
    assert proxy.count("BatchWriteItem") == 5 * 3


async def test_batch_get_retries_unprocessed_keys_and_reports_a_spent_budget(
    db: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """Keys handed back unprocessed are read again until all are read; when no key is ever
    read, BatchIncomplete carries every distinct key as given and done is 0."""
    items = things(300)
    await db.batch_write(put=items)
    proxy.split_batch_gets(0.3, times=10)
    keys = [key(t) for t in items]
    assert await faulty.batch_get(Thing, keys) == items
    assert faulty.batch_stats.retries == 10
    proxy.split_batch_gets(0.0)
    with pytest.raises(BatchIncomplete) as caught:
        await faulty.batch_get(Thing, [*keys[:150], *keys[:10]], max_attempts=2)
    assert caught.value.unprocessed == keys[:150]
    assert caught.value.done == 0 and caught.value.operation == "BatchGetItem"
