"""query and scan against real engines: key conditions on tables, global and local indexes,
filters, projections, limits, pages with cursors (and cursors that must be refused),
parallel scans that yield each item exactly once, and iterations that stop cleanly."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from models import Order, Thing, create_table

from dynamorm_async import (
    GlobalIndex,
    Session,
    ValidationError,
    attr,
    model,
    to_item,
)
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


async def seed(db: Session, objects: list[Any]) -> None:
    """Write objects with the raw client (BatchWriteItem, 25 at a time, 8 at once)."""
    client = await db.client()
    chunks = [objects[i : i + 25] for i in range(0, len(objects), 25)]
    gate = asyncio.Semaphore(8)

    async def send(chunk: list[Any]) -> None:
        requests: dict[str, list[Any]] = {}
        for obj in chunk:
            table = db.table_name(type(obj))
            requests.setdefault(table, []).append({"PutRequest": {"Item": to_item(obj)}})
        async with gate:
            while requests:
                answer = await client.batch_write_item(RequestItems=requests)
                requests = answer.get("UnprocessedItems") or {}

    await asyncio.gather(*(send(c) for c in chunks))


def things(name: str, n: int) -> list[Thing]:
    return [Thing(name, i, data=f"d{i:04}", flag=i % 2 == 0) for i in range(n)]


def orders(customer: str, n: int) -> list[Order]:
    return [
        Order(
            customer,
            f"2026-{i:04}",
            status="open" if i % 3 else "paid",
            total=i,
            placed_at=T0 + timedelta(hours=i),
        )
        for i in range(n)
    ]


async def collect(read: Any) -> list[Any]:
    return [item async for item in read]


# -- query -----------------------------------------------------------------------------------


async def test_query_returns_one_partition_in_range_key_order(db: Session) -> None:
    """A query yields the hash key's items in range order, reversed on request; other
    partitions are not touched."""
    await seed(db, things("a", 12) + things("b", 3))
    got = await collect(db.query(Thing, "a"))
    assert got == things("a", 12)
    assert await collect(db.query(Thing, "a", reverse=True)) == things("a", 12)[::-1]
    assert await collect(db.query(Thing, "nobody")) == []


@pytest.mark.parametrize(
    ("condition", "sizes"),
    [
        (attr("size") == 3, [3]),
        (attr("size") < 3, [0, 1, 2]),
        (attr("size") <= 3, [0, 1, 2, 3]),
        (attr("size") > 8, [9, 10, 11]),
        (attr("size") >= 8, [8, 9, 10, 11]),
        (attr("size").between(4, 6), [4, 5, 6]),
    ],
    ids=["==", "<", "<=", ">", ">=", "between"],
)
async def test_every_key_operator_on_a_number_range_key(
    db: Session, condition: Any, sizes: list[int]
) -> None:
    """Each key-condition operator selects exactly the matching range keys."""
    await seed(db, things("a", 12))
    assert [t.size for t in await collect(db.query(Thing, "a", range=condition))] == sizes


async def test_begins_with_on_a_string_range_key_and_a_filter(db: Session) -> None:
    """begins_with on the range key, and a filter applied after reading."""
    await seed(db, orders("c1", 30))
    got = await collect(db.query(Order, "c1", range=attr("order_id").begins_with("2026-001")))
    assert [o.order_id for o in got] == [f"2026-{i:04}" for i in range(10, 20)]
    paid = await collect(db.query(Order, "c1", filter=attr("status") == "paid"))
    assert [o.total for o in paid] == list(range(0, 30, 3))


async def test_query_a_global_index_with_datetime_range(db: Session) -> None:
    """A GSI query by its own hash key; the datetime range condition is converted as the
    field is stored."""
    await seed(db, orders("c1", 10) + orders("c2", 10))
    got = await collect(
        db.query(
            Order,
            "paid",
            index="by_status",
            range=attr("placed_at").between(T0, T0 + timedelta(hours=3)),
        )
    )
    assert sorted((o.customer_id, o.total) for o in got) == [
        ("c1", 0),
        ("c1", 3),
        ("c2", 0),
        ("c2", 3),
    ]


async def test_query_a_local_index(db: Session) -> None:
    """An LSI query: same hash key, another range key, consistent reads allowed."""
    await seed(db, [Thing("a", i, data=f"{'x' if i % 2 else 'y'}{i}") for i in range(10)])
    got = await collect(
        db.query(Thing, "a", index="by_data", range=attr("data").begins_with("x"), consistent=True)
    )
    assert [t.size for t in got] == [1, 3, 5, 7, 9]


async def test_limit_counts_returned_items_across_pages(db: Session) -> None:
    """limit caps what is yielded over several small pages, also with a filter."""
    await seed(db, things("a", 50))
    assert len(await collect(db.query(Thing, "a", limit=17, page_size=5))) == 17
    flagged = await collect(db.query(Thing, "a", filter=attr("flag") == True, limit=7, page_size=4))
    assert [t.size for t in flagged] == [0, 2, 4, 6, 8, 10, 12]


async def test_first_and_count(db: Session) -> None:
    """first() gives one item or None; count() counts over all pages without reading items,
    honouring the filter."""
    await seed(db, things("a", 40))
    assert await db.query(Thing, "a").first() == things("a", 1)[0]
    assert await db.query(Thing, "a", reverse=True).first() == things("a", 40)[-1]
    assert await db.query(Thing, "zz").first() is None
    assert await db.query(Thing, "a").count() == 40
    assert await db.query(Thing, "a", filter=attr("flag") == True, page_size=7).count() == 20
    assert await db.query(Thing, "a", attributes=["data"]).count() == 40


async def test_attributes_yield_dicts_with_the_keys(db: Session) -> None:
    """A projection yields dicts of what was asked plus the keys."""
    await seed(db, things("a", 3))
    got = await collect(db.query(Thing, "a", attributes=["data"]))
    assert got == [{"name": "a", "size": i, "data": f"d{i:04}"} for i in range(3)]


@model(
    table="tickets",
    hash_key="ticket_id",
    indexes=[GlobalIndex("by_queue", hash_key="queue", projection="KEYS_ONLY")],
)
@attrs.define
class Ticket:
    ticket_id: str
    queue: str
    body: str = ""


async def test_an_index_that_leaves_fields_out_needs_attributes(db: Session) -> None:
    """Items of a KEYS_ONLY index cannot load as the model: without attributes= that is a
    clear error before any request; with it, the keys come back as dicts."""
    await create_table(db, Ticket)
    await seed(db, [Ticket("t1", "q", "hello"), Ticket("t2", "q", "world")])
    with pytest.raises(ValidationError, match="KEYS_ONLY, without body"):
        db.query(Ticket, "q", index="by_queue")
    got = await collect(db.query(Ticket, "q", index="by_queue", attributes=["queue"]))
    assert sorted(g["ticket_id"] for g in got) == ["t1", "t2"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda db: db.query(Thing, "a", range=attr("data") == "x"), "'data' is not it"),
        (lambda db: db.query(Thing, "a", range=attr("size") != 3), "range= takes"),
        (lambda db: db.query(Thing, "a", range=attr("size").contains(3)), "range= takes"),
        (lambda db: db.query(Thing, "a", range=attr("size") == attr("size")), "range= takes"),
        (lambda db: db.query(Thing, "a", range=attr("size").exists()), "range= takes"),
        (lambda db: db.query(Thing, 5), "name"),
        (lambda db: db.query(Thing, "a", index="nope"), "no index 'nope'"),
        (lambda db: db.query(Order, "paid", index="by_status", consistent=True), "global"),
        (lambda db: db.query(Ticket, "t1", range=attr("queue") == "q"), "no range key"),
        (lambda db: db.query(Thing, "a", limit=0), "limit"),
        (lambda db: db.query(Thing, "a", attributes="data"), "list"),
        (lambda db: db.query(Thing, "a", filter="flag = true"), "condition"),
        (lambda db: db.scan(Thing, segments=0), "segments"),
        (lambda db: db.scan(Thing, segment=3), "together"),
        (lambda db: db.scan(Thing, segment=4, total_segments=4), "segment must be"),
        (lambda db: db.scan(Thing, segments=2, segment=0, total_segments=2), "segments=N"),
    ],
)
async def test_bad_reads_are_refused_before_any_request(
    db: Session, call: Any, message: str
) -> None:
    """Each mistake raises ValidationError naming it, when the read is built."""
    with pytest.raises(ValidationError, match=message):
        call(db)


# -- pages and cursors -----------------------------------------------------------------------


async def test_paging_through_a_thousand_items_with_cursors(db: Session) -> None:
    """page() with cursor round trips visits 1,000 items exactly once, in order; the last
    page has no cursor. With a filter, pages stay exact."""
    await seed(db, things("a", 1000))
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = await db.query(Thing, "a").page(size=37, cursor=cursor)
        seen += [t.size for t in page.items]
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
        assert len(page.items) == 37
    assert seen == list(range(1000)) and pages == 28
    flagged: list[int] = []
    cursor = None
    while True:
        page = await db.query(Thing, "a", filter=attr("flag") == True).page(50, cursor=cursor)
        flagged += [t.size for t in page.items]
        if page.cursor is None:
            break
        cursor = page.cursor
    assert flagged == list(range(0, 1000, 2))


@model(table="blobs", hash_key="owner", range_key="score")
@attrs.define
class Blob:
    owner: bytes
    score: float


async def test_cursors_round_trip_binary_and_number_keys(db: Session) -> None:
    """A cursor carries binary and number keys exactly (floats included)."""
    await create_table(db, Blob)
    owner = b"\x00\xff\x10"
    values = [Blob(owner, i / 7) for i in range(25)]
    await seed(db, values)
    got: list[Blob] = []
    cursor = None
    while True:
        page = await db.query(Blob, owner).page(size=4, cursor=cursor)
        got += page.items
        if page.cursor is None:
            break
        cursor = page.cursor
        assert cursor.replace("-", "").replace("_", "").replace(".", "").isalnum()
    assert got == values


async def test_tampered_and_foreign_cursors_are_refused(db: Session) -> None:
    """An edited cursor, one from another partition, index or table, and garbage are all
    refused with ValidationError; nothing is read."""
    await seed(db, things("a", 10) + things("b", 10))
    page = await db.query(Thing, "a").page(size=3)
    assert page.cursor is not None
    payload, tag = page.cursor.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in (f"{flipped}.{tag}", f"{payload}.{tag[:-1]}", "garbage", "", "a.b"):
        with pytest.raises(ValidationError, match="cursor"):
            await db.query(Thing, "a").page(size=3, cursor=bad)
    for other in (
        db.query(Thing, "b"),
        db.query(Thing, "a", index="by_data"),
        db.scan(Thing),
        db.query(Order, "a"),
    ):
        with pytest.raises(ValidationError, match="it belongs to another read"):
            await other.page(size=3, cursor=page.cursor)
    more = await db.query(Thing, "a").page(size=3, cursor=page.cursor)
    assert [m.size for m in more.items] == [3, 4, 5]


async def test_a_cursor_continues_only_a_read_that_gives_the_same_results(db: Session) -> None:
    """Direction, range condition, filter, projection and limit all shape the results: a
    cursor of one read would silently skip or repeat items in another, so it is refused.
    Page size and consistency do not, so they may change between pages."""
    await seed(db, things("a", 10))
    page = await db.query(Thing, "a", range=attr("size") >= 2).page(size=3)
    assert page.cursor is not None and [t.size for t in page.items] == [2, 3, 4]
    for other in (
        db.query(Thing, "a", range=attr("size") >= 2, reverse=True),
        db.query(Thing, "a", range=attr("size") >= 1),
        db.query(Thing, "a"),
        db.query(Thing, "a", range=attr("size") >= 2, filter=attr("flag") == False),
        db.query(Thing, "a", range=attr("size") >= 2, attributes=["data"]),
        db.query(Thing, "a", range=attr("size") >= 2, limit=5),
    ):
        with pytest.raises(ValidationError, match="it belongs to another read"):
            await other.page(size=3, cursor=page.cursor)
    same = db.query(Thing, "a", range=attr("size") >= 2, consistent=True, page_size=2)
    more = await same.page(size=3, cursor=page.cursor)
    assert [t.size for t in more.items] == [5, 6, 7]
    scan_page = await db.scan(Thing).page(size=3)
    assert scan_page.cursor is not None
    with pytest.raises(ValidationError, match="it belongs to another read"):
        await db.scan(Thing, filter=attr("size") > 0).page(size=3, cursor=scan_page.cursor)


async def test_count_and_page_honour_the_limit(db: Session) -> None:
    await seed(db, things("a", 10))
    assert await db.query(Thing, "a", limit=4).count() == 4
    assert await db.query(Thing, "a", limit=40).count() == 10
    assert await db.query(Thing, "a", limit=2, page_size=3).count() == 2
    assert await db.scan(Thing, limit=3).count() == 3
    filtered = db.query(Thing, "a", filter=attr("data") >= "d0005", limit=3, page_size=2)
    assert await filtered.count() == 3
    assert [t.size async for t in filtered] == [5, 6, 7]
    read = db.query(Thing, "a", limit=5)
    sizes, cursor = [], None
    while True:
        page = await read.page(size=2, cursor=cursor)
        sizes.append([t.size for t in page.items])
        cursor = page.cursor
        if cursor is None:
            break
    assert sizes == [[0, 1], [2, 3], [4]]
    exact = await db.query(Thing, "a", limit=2).page(size=2)
    assert len(exact.items) == 2 and exact.cursor is None


async def test_contains_takes_another_attribute(db: Session) -> None:
    """contains(path, other attribute), as DynamoDB allows and == or between already do."""
    await db.put(Thing("a", 1, data="x", labels={"x", "y"}))
    await db.put(Thing("a", 2, data="z", labels={"x"}))
    found = db.query(Thing, "a", filter=attr("labels").contains(attr("data")))
    assert [t.size async for t in found] == [1]


async def test_a_cursor_key_makes_cursors_unforgeable(db: Session, dynamodb_endpoint: str) -> None:
    """With cursor_key, only sessions holding the same key accept the cursor."""
    await seed(db, things("a", 10))
    common = {
        "region": "us-east-1",
        "endpoint_url": dynamodb_endpoint,
        "table_prefix": db.table_prefix,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    one = Session(cursor_key=b"k" * 32, **common)
    same = Session(cursor_key=b"k" * 32, **common)
    other = Session(cursor_key=b"x" * 32, **common)
    try:
        page = await one.query(Thing, "a").page(size=4)
        assert page.cursor is not None
        assert len((await same.query(Thing, "a").page(size=4, cursor=page.cursor)).items) == 4
        with pytest.raises(ValidationError, match="cursor"):
            await other.query(Thing, "a").page(size=4, cursor=page.cursor)
        with pytest.raises(ValidationError, match="cursor"):
            await db.query(Thing, "a").page(size=4, cursor=page.cursor)
    finally:
        for s in (one, same, other):
            await s.close()
    with pytest.raises(ValidationError, match="cursor_key"):
        Session(cursor_key=b"short")


# -- stopping early --------------------------------------------------------------------------


async def test_stopping_a_query_early_leaves_nothing_running(
    db: Session, dynamodb_endpoint: str
) -> None:
    """Breaking out of a query stops the reading: one page was fetched, no task is left."""
    await seed(db, things("a", 100))
    sent: list[str] = []
    watched = Session(
        region=REGION,
        endpoint_url=dynamodb_endpoint,
        table_prefix=db.table_prefix,
        on_request=lambda event: sent.append(event.operation),
        **DUMMY_CREDENTIALS,
    )
    try:
        async for thing in watched.query(Thing, "a", page_size=10):
            if thing.size == 4:
                break
        # Python finalises the abandoned generator on the next turns of the loop.
        for _ in range(10):
            await asyncio.sleep(0)
        assert sent == ["Query"]
        assert asyncio.all_tasks() == {asyncio.current_task()}
    finally:
        await watched.close()


async def test_stopping_a_parallel_scan_early_cancels_its_segments(db: Session) -> None:
    """Breaking out of a parallel scan cancels every segment task at once."""
    await seed(db, things("a", 600))
    scan = db.scan(Thing, segments=8, page_size=10)
    iterator = aiter(scan)
    first = await anext(iterator)
    assert isinstance(first, Thing)
    assert len(asyncio.all_tasks()) > 1  # the segments are running
    await iterator.aclose()  # what `break` leads to, at once instead of at collection
    assert asyncio.all_tasks() == {asyncio.current_task()}


# -- scan ------------------------------------------------------------------------------------


@pytest.mark.parametrize("segments", [1, 4, 16])
async def test_parallel_scan_yields_each_item_exactly_once(db: Session, segments: int) -> None:
    """A scan of 5,000 items in 1, 4 or 16 segments yields each of them once."""
    await seed(db, things("a", 2500) + things("b", 2500))
    got = await collect(db.scan(Thing, segments=segments))
    keys = [(t.name, t.size) for t in got]
    assert len(keys) == 5000 and len(set(keys)) == 5000


async def test_scan_shards_filter_limit_and_pages(db: Session) -> None:
    """segment/total_segments shards cover the table once together; filter and limit work;
    a one-segment scan pages with cursors; a parallel scan refuses page()."""
    await seed(db, things("a", 300))
    shards = [await collect(db.scan(Thing, segment=i, total_segments=3)) for i in range(3)]
    assert sorted(t.size for shard in shards for t in shard) == list(range(300))
    flagged = await collect(db.scan(Thing, filter=attr("flag") == True))
    assert len(flagged) == 150 and all(t.flag for t in flagged)
    assert len(await collect(db.scan(Thing, limit=42, page_size=10))) == 42
    assert len(await collect(db.scan(Thing, segments=4, limit=42))) == 42
    total, cursor = 0, None
    while True:
        page = await db.scan(Thing).page(size=64, cursor=cursor)
        total += len(page.items)
        if page.cursor is None:
            break
        cursor = page.cursor
    assert total == 300
    with pytest.raises(ValidationError, match="one segment"):
        await db.scan(Thing, segments=2).page(size=5)
    assert await db.scan(Thing, filter=attr("flag") == True).count() == 150


async def test_a_failing_segment_fails_the_scan_and_stops_the_others(
    db: Session, dynamodb_endpoint: str
) -> None:
    """When one segment's request fails for good, the scan raises that error and no
    segment task is left running (faults injected by a proxy in front of the engine)."""
    from botocore.config import Config

    from dynamorm_async import RequestFailed
    from dynamorm_async.testing import FaultProxy

    await seed(db, things("a", 400))
    with FaultProxy(dynamodb_endpoint) as proxy:
        faulty = Session(
            region=REGION,
            endpoint_url=proxy.endpoint,
            table_prefix=db.table_prefix,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
            **DUMMY_CREDENTIALS,
        )
        try:
            proxy.fail("Scan", code="InternalServerError", status=500, times=None)
            with pytest.raises(RequestFailed) as caught:
                await collect(faulty.scan(Thing, segments=4, page_size=20))
            assert caught.value.code == "InternalServerError"
            for _ in range(10):
                await asyncio.sleep(0)
            assert asyncio.all_tasks() == {asyncio.current_task()}
        finally:
            await faulty.close()
