"""A short tour of dynamorm_async against a DynamoDB Local it starts by itself.

Run it with ``make demo``. No AWS account and no configuration: the first run fetches Amazon's
DynamoDB Local into the user cache (about 56 MB, verified by its checksum), later runs start it
in a few seconds.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pprint import pformat

import attrs
from tqdm import tqdm

from dynamorm_async import (
    ConditionFailed,
    GlobalIndex,
    Key,
    LocalIndex,
    Progress,
    Session,
    Table,
    TransactionCanceled,
    VersionConflict,
    attr,
    model,
    model_info,
    to_item,
)
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB


@attrs.define
class Line:
    sku: str
    quantity: int
    price: Decimal


@model(
    table="orders",
    hash_key="customer_id",
    range_key="order_id",
    indexes=[
        GlobalIndex("by_status", hash_key="status", range_key="placed_at"),
        LocalIndex("by_total", range_key="total"),
    ],
    ttl="expires_at",
    version="version",
)
@attrs.define
class Order:
    customer_id: str
    order_id: str
    status: str
    placed_at: datetime
    total: int
    lines: list[Line] = attrs.Factory(list)
    tags: set[str] = attrs.Factory(set)
    note: str | None = None
    expires_at: datetime | None = None
    version: int = 0


@model(table="stock", hash_key="sku")
@attrs.define
class Stock:
    sku: str
    available: int


@model(table="customers_v1", hash_key="customer_id")
@attrs.define
class CustomerV1:
    customer_id: str
    full_name: str
    email: str


@model(table="customers_v2", hash_key="customer_id")
@attrs.define
class CustomerV2:
    customer_id: str
    first_name: str
    last_name: str
    email_domain: str


# Single-table design: authors and their books share one table, their keys made from templates.
library = Table("library", hash_key="pk", range_key="sk")


@library.entity(key=Key("AUTHOR#{author_id}", "PROFILE"))
@attrs.define
class Author:
    author_id: str
    name: str


@library.entity(key=Key("AUTHOR#{author_id}", "BOOK#{year:04d}#{title}"))
@attrs.define
class Book:
    author_id: str
    year: int
    title: str


def upgrade(old: CustomerV1) -> CustomerV2:
    """The migration's transform: split the name, keep only the e-mail's domain."""
    first, _, last = old.full_name.partition(" ")
    return CustomerV2(old.customer_id, first, last, old.email.rpartition("@")[2])


def say(text: str) -> None:
    print(f"\n== {text}")


async def tour(endpoint: str) -> None:
    now = datetime.now(timezone.utc)
    order = Order(
        customer_id="cust-1",
        order_id="2026-11-24-0001",
        status="open",
        placed_at=now,
        total=4250,
        lines=[Line("book", 2, Decimal("12.50")), Line("pen", 5, Decimal("3.50"))],
        tags={"gift", "express"},
        expires_at=now.replace(microsecond=0) + timedelta(days=90),  # TTL: whole seconds
    )
    say("A model is an attrs class; @model adds the table, keys and indexes")
    info = model_info(Order)
    print(f"table {info.table!r}, key schema {info.key_schema()}")
    print(f"indexes: {[index.name for index in info.indexes]}")

    say("to_item turns it straight into DynamoDB's wire format (note is None: left out)")
    item = to_item(order)
    print(pformat(item, width=100))

    say("A Session opens its client on the first request; its table manager ensures the tables")
    db = Session(
        region=REGION,
        endpoint_url=endpoint,
        table_prefix=f"demo_{int(time.time())}_",
        **DUMMY_CREDENTIALS,
    )
    async with db:
        # CreateTable for each, concurrently; wait until usable (indexes too); enable TTL.
        desc, _ = await db.tables.ensure_all(Order, Stock)
        table = desc.name
        print(
            f"indexes: {[(i.name, i.status) for i in desc.global_indexes]}, TTL {desc.ttl_status}"
        )
        print(f"created table {table}: {desc.status}")

        say("put writes it; the version goes from 0 (never stored) to 1")
        await db.put(order)
        print(f"stored, version now {order.version}")
        loaded = await db.get(Order, "cust-1", "2026-11-24-0001", consistent=True)
        print(f"read back, equal to what was written: {loaded == order}")

        say("update changes attributes in place and returns the new item")
        shipped = await db.update(
            order,
            set={"status": "shipped", "lines[0].quantity": 3},
            add={"tags": {"tracked"}},
            remove=["expires_at"],
        )
        print(
            f"status {shipped.status!r}, first line {shipped.lines[0]}, version {shipped.version}"
        )

        say("Optimistic locking: the old object is stale now, so writing it is refused")
        try:
            await db.put(order)
        except VersionConflict as exc:
            print(f"VersionConflict: expected version {exc.expected}, table has {exc.actual}")

        say("Conditions are built with attr(); names and values travel as placeholders")
        try:
            await db.delete(shipped, condition=attr("status") == "open")
        except ConditionFailed as exc:
            print(f"not deleted, the stored item says status={exc.item.status!r}")
        brief = await db.get(Order, "cust-1", "2026-11-24-0001", attributes=["status", "tags"])
        print(f"a projection comes back as a dict: {brief}")
        await db.delete(shipped, condition=attr("status") == "shipped")
        gone = await db.get(Order, "cust-1", "2026-11-24-0001", consistent=True)
        print(f"deleted: {gone is None}")

        await queries(db, now)
        await transactions(db, now)
        await shared_table(db)
        await migration(db)
        for model_class in (Order, Stock, CustomerV1, CustomerV2, library):
            await db.tables.delete(model_class)
        print(f"\ndeleted the demo's tables ({table} and four more)")


async def queries(db: Session, now: datetime) -> None:
    say("Queries read a partition in key order, or an index; pages carry a cursor")
    orders = [
        Order(
            customer_id="cust-2",
            order_id=f"2026-11-{day:02d}-0001",
            status="open" if day % 4 else "shipped",
            placed_at=now - timedelta(days=30 - day),
            total=1000 + 10 * day,
        )
        for day in range(1, 21)
    ]
    await db.batch_write(put=orders)  # 20 items, one BatchWriteItem
    print(f"wrote {len(orders)} orders of cust-2 with one batch_write")
    page = await db.query(Order, "cust-2", reverse=True).page(size=5)
    print(f"newest 5: {[o.order_id for o in page.items]}; cursor for the next page: {page.cursor}")
    following = await db.query(Order, "cust-2", reverse=True).page(size=5, cursor=page.cursor)
    print(f"next 5:   {[o.order_id for o in following.items]}")
    shipped = [o.order_id async for o in db.query(Order, "shipped", index="by_status")]
    print(f"shipped orders, through the by_status index: {shipped}")
    big = await db.query(Order, "cust-2", filter=attr("total") >= 1150).count()
    print(f"orders of cust-2 with a total of at least 1150: {big}")


async def transactions(db: Session, now: datetime) -> None:
    say("A transaction writes several items all or nothing")
    await db.put(Stock("sku-1", available=1))
    order = Order("cust-3", "2026-11-25-0001", "open", now, 1999)
    async with db.transaction() as tx:
        tx.put(order)
        tx.update(Stock, "sku-1", add={"available": -1}, condition=attr("available") > 0)
    stock = await db.get(Stock, "sku-1", consistent=True)
    print(f"order placed and stock taken in one step: {stock.available if stock else '?'} left")
    try:
        async with db.transaction() as tx:
            tx.put(Order("cust-3", "2026-11-25-0002", "open", now, 1999))
            tx.update(Stock, "sku-1", add={"available": -1}, condition=attr("available") > 0)
    except TransactionCanceled as exc:
        print(f"second order refused, nothing written: {[r.code for r in exc.reasons]}")
    missing = await db.get(Order, "cust-3", "2026-11-25-0002", consistent=True)
    print(f"the second order was not stored either: {missing is None}")


async def shared_table(db: Session) -> None:
    say("One table, two entity types: a collection reads an author and her books in one query")
    await db.tables.ensure(library)
    await db.batch_write(
        put=[
            Author("le-guin", "Ursula K. Le Guin"),
            Book("le-guin", 1969, "The Left Hand of Darkness"),
            Book("le-guin", 1974, "The Dispossessed"),
            Author("banks", "Iain M. Banks"),
            Book("banks", 1987, "Consider Phlebas"),
        ]
    )
    print("wrote 2 authors and 3 books into one table, each item's pk and sk from its templates")
    async for item in db.query(library.collection(Author, Book), {"author_id": "le-guin"}):
        stored = to_item(item)
        print(f"{item!r}, stored as pk={stored['pk']['S']} sk={stored['sk']['S']}")
    books = [b.title async for b in db.query(Book, {"author_id": "le-guin"})]
    print(f"a query of Book alone leaves the author out: {books}")


async def migration(db: Session) -> None:
    say("A data migration: CustomerV1 -> CustomerV2 with a parallel scan and batch writes")
    await db.tables.ensure(CustomerV1)
    names = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"]
    customers = [
        CustomerV1(f"c{i:05d}", names[i % 4], f"user{i}@example{i % 3}.org") for i in range(5000)
    ]
    await db.batch_write(put=customers)
    print(f"seeded {len(customers)} CustomerV1 items")
    with tqdm(total=len(customers), unit="item", desc="migrating") as bar:

        def on_progress(progress: Progress) -> None:
            bar.update(progress.scanned - bar.n)

        report = await db.tables.auto_migrate(
            CustomerV1, target=CustomerV2, transform=upgrade, segments=4, on_progress=on_progress
        )
    print(
        f"scanned {report.scanned}, wrote {report.written}, failed {report.failed}, "
        f"in {report.duration:.1f} s; complete: {report.checkpoint is None}"
    )
    print(f"for example: {await db.get(CustomerV2, 'c00001', consistent=True)}")


def main() -> None:
    say("Starting DynamoDB Local (fetched into the user cache on the first run)")
    started = time.monotonic()
    with LocalDynamoDB() as server:
        print(
            f"DynamoDB Local answers at {server.endpoint} after {time.monotonic() - started:.1f} s"
        )
        asyncio.run(tour(server.endpoint))
    say("DynamoDB Local stopped. Done.")


if __name__ == "__main__":
    main()
