"""Single-table design: a small shop's customers, orders and order lines in one table.

One table, ``shop``, holds three entity types. Its key attributes are plain strings (``pk``,
``sk``, and ``gsi1pk``/``gsi1sk`` of its global index ``gsi1``) that each entity makes from
key templates over its own fields; every item also stores its type in ``_type``. The
templates are chosen so that each access pattern is one request:

============================  ==========================================  ======================
Access pattern                Call                                        Key condition
============================  ==========================================  ======================
a customer by id              ``db.get(Customer, {"customer_id": c})``    pk = CUSTOMER#c
                                                                          sk = PROFILE
a customer by e-mail          ``db.query(Customer, {"email": e},``        gsi1pk = EMAIL#e
                              ``index="gsi1")``                           gsi1sk = CUSTOMER
a customer's orders from      ``db.query(Order, {"customer_id": c},``     pk = CUSTOMER#c
one date to another           ``range=attr("placed_at").between(a, b))``  sk BETWEEN ORDER#a
                                                                          AND ORDER#b (1)
an order and its lines        ``db.query(app.collection(Order, Line),``   gsi1pk = ORDER#o
                              ``{"order_id": o}, index="gsi1")``
a customer and all their      ``db.query(app.collection(Customer,``       pk = CUSTOMER#c
orders                        ``Order), {"customer_id": c})``
place an order with its       ``db.transaction()``: put the order and     (TransactWriteItems)
lines                         its lines, count it in the customer
a stream record               ``from_item(app, new_image)``               (none: no request)
============================  ==========================================  ======================

(1) The upper end is ``ORDER#b`` with its last character one code point up, so that every
order placed at ``b`` is in; a filter on ``placed_at`` keeps the result exact.

How keys are formatted: a template's slots take the field's value as text, a str as it is,
an int zero-padded to the width asked (``{line:03d}`` -> ``007``, so text order is number
order), a datetime in the library's fixed-width UTC form. Ada's profile, her order o-1001
(2 March 2026, 09:30 UTC) and its second line are stored with::

    Customer  pk = CUSTOMER#c-ada, sk = PROFILE
              gsi1pk = EMAIL#ada@example.com, gsi1sk = CUSTOMER, _type = Customer
    Order     pk = CUSTOMER#c-ada, sk = ORDER#2026-03-02T09:30:00.000000+00:00#o-1001
              gsi1pk = ORDER#o-1001, gsi1sk = ORDER, _type = Order
    Line      pk = CUSTOMER#c-ada, sk = ORDER#2026-03-02T09:30:00.000000+00:00#o-1001#LINE#002
              gsi1pk = ORDER#o-1001, gsi1sk = LINE#002, _type = Line

so each order's lines sort right after it. A value that would break a key (empty, or holding
the ``#`` that follows its slot) is refused before any request.

Items of other types: a customer's partition holds its profile, its orders and their lines.
A query or scan of one entity sends a filter on ``_type``, so only that entity's items come
back (the others are still read, and paid for); a collection loads each item as its own
class and skips the types it does not name; ``from_item(app, image)`` raises
``DeserializationError`` for a type no entity of the table claims.

Run it with ``python examples/single_table.py``: with no ``AWS_ENDPOINT_URL_DYNAMODB`` set
it starts DynamoDB Local for the run. ``TABLE_PREFIX`` (optional) goes in front of the table
name. The table is created for the run and deleted at the end unless ``--keep``; a table
that exists already is left alone (exit status 2). Exit status 0 when every step ran.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import attrs

from dynamorm_async import (
    DeserializationError,
    GlobalIndex,
    Key,
    Session,
    Table,
    TransactionCanceled,
    attr,
    from_item,
)

app = Table(
    "shop",
    hash_key="pk",
    range_key="sk",
    indexes=[GlobalIndex("gsi1", hash_key="gsi1pk", range_key="gsi1sk")],
)


@app.entity(
    key=Key("CUSTOMER#{customer_id}", "PROFILE"),
    indexes={"gsi1": Key("EMAIL#{email}", "CUSTOMER")},
)
@attrs.define
class Customer:
    customer_id: str
    email: str
    name: str
    orders_placed: int = 0


@app.entity(
    key=Key("CUSTOMER#{customer_id}", "ORDER#{placed_at}#{order_id}"),
    indexes={"gsi1": Key("ORDER#{order_id}", "ORDER")},
    version="version",
)
@attrs.define
class Order:
    customer_id: str
    order_id: str
    placed_at: datetime
    status: str
    total: Decimal
    version: int = 0


@app.entity(
    key=Key("CUSTOMER#{customer_id}", "ORDER#{placed_at}#{order_id}#LINE#{line:03d}"),
    indexes={"gsi1": Key("ORDER#{order_id}", "LINE#{line:03d}")},
)
@attrs.define
class Line:
    customer_id: str  # with placed_at, copied from the order: the line's key needs them
    order_id: str
    placed_at: datetime
    line: int
    sku: str
    quantity: int
    price: Decimal


def day(d: int, hour: int = 9, minute: int = 30) -> datetime:
    return datetime(2026, 3, d, hour, minute, tzinfo=timezone.utc)


def order_with_lines(
    customer_id: str, order_id: str, placed_at: datetime, *lines: tuple[str, int, str]
) -> tuple[Order, list[Line]]:
    """An order and its lines ((sku, quantity, unit price) each); the total adds them up."""
    items = [
        Line(customer_id, order_id, placed_at, n, sku, quantity, Decimal(price))
        for n, (sku, quantity, price) in enumerate(lines, start=1)
    ]
    total = sum((i.price * i.quantity for i in items), Decimal(0))
    return Order(customer_id, order_id, placed_at, "placed", total), items


def seed_data() -> list[Any]:
    """Three customers; Ada has three orders, Grace one, Alan none."""
    entities: list[Any] = [
        Customer("c-ada", "ada@example.com", "Ada Lovelace", orders_placed=3),
        Customer("c-grace", "grace@example.com", "Grace Hopper", orders_placed=1),
        Customer("c-alan", "alan@example.com", "Alan Turing"),
    ]
    for order, lines in (
        order_with_lines("c-ada", "o-1001", day(2), ("notebook", 2, "4.50"), ("pen", 3, "1.20")),
        order_with_lines("c-ada", "o-1002", day(9), ("ink", 1, "7.00")),
        order_with_lines("c-ada", "o-1003", day(20), ("paper", 5, "3.10")),
        order_with_lines("c-grace", "o-1004", day(5), ("compiler", 1, "99.00")),
    ):
        entities += [order, *lines]
    return entities


def describe(entity: object) -> str:
    """An entity in plain words."""
    match entity:
        case Customer():
            return f"{entity.name} <{entity.email}>, orders placed: {entity.orders_placed}"
        case Order():
            when = entity.placed_at.strftime("%d %B %Y")
            return f"order {entity.order_id} of {when}, {entity.status}, total {entity.total:.2f}"
        case Line():
            return f"  line {entity.line}: {entity.quantity} x {entity.sku} at {entity.price:.2f}"
    return f"something else: {entity!r}"


def say(text: str) -> None:
    print(f"\n== {text}")


async def tour(db: Session) -> None:
    """Seed the shop, then run each access pattern and say what it found."""
    say("Seeding customers, orders and lines with one batch_write")
    written = await db.batch_write(put=seed_data())
    print(f"stored {written} items of three types in {db.table_name(Customer)}")

    say("A customer by id (GetItem on pk = CUSTOMER#c-ada, sk = PROFILE)")
    print(describe(await db.get(Customer, {"customer_id": "c-ada"}, consistent=True)))
    both = await db.batch_get(Customer, [{"customer_id": "c-grace"}, {"customer_id": "c-bob"}])
    print(f"batch_get of c-grace and c-bob: {[c.name if c else None for c in both]}")

    say("A customer by e-mail (gsi1: gsi1pk = EMAIL#grace@example.com)")
    found = await db.query(Customer, {"email": "grace@example.com"}, index="gsi1").first()
    print(f"grace@example.com is {found.name if found else 'nobody'}")

    say("Ada's orders from 1 to 10 March (sk BETWEEN two ORDER#<date> keys)")
    since, until = day(1, 0, 0), day(10, 23, 59)
    async for order in db.query(
        Order, {"customer_id": "c-ada"}, range=attr("placed_at").between(since, until)
    ):
        print(describe(order))

    say("Order o-1001 and its lines in one query (a collection on gsi1: gsi1pk = ORDER#o-1001)")
    async for item in db.query(app.collection(Order, Line), {"order_id": "o-1001"}, index="gsi1"):
        print(describe(item))

    say("Ada and all her orders in one query (a collection on pk = CUSTOMER#c-ada)")
    ada = app.collection(Customer, Order)  # sk order reversed: PROFILE, then newest orders
    async for entity in db.query(ada, {"customer_id": "c-ada"}, reverse=True):
        print(f"{type(entity).__name__}: {describe(entity)}")
    print("(her order lines share the partition: they are read, and skipped as not asked for)")
    customers = sorted([c.name async for c in db.scan(Customer)])
    print(f"a scan of Customer returns the customers only: {customers}")

    say("Alan places an order with two lines: one transaction, all or nothing")
    order, lines = order_with_lines(
        "c-alan", "o-1005", day(21, 14, 5), ("chalk", 10, "0.40"), ("board", 1, "25.00")
    )
    async with db.transaction() as tx:
        tx.put(order)  # version 0: the order must not exist yet
        for line in lines:
            tx.put(line)
        tx.update(Customer, {"customer_id": "c-alan"}, add={"orders_placed": 1})
    alan = await db.get(Customer, {"customer_id": "c-alan"}, consistent=True)
    print(f"placed {order.order_id} with {len(lines)} lines; now {describe(alan)}")
    try:
        async with db.transaction() as tx:
            tx.put(Order("c-alan", "o-1005", order.placed_at, "placed", order.total))
            tx.update(Customer, {"customer_id": "c-alan"}, add={"orders_placed": 1})
    except TransactionCanceled as exc:
        print(f"placing o-1005 again is refused ({exc.reasons[0].code}), nothing is written")

    say("Grace changes her e-mail: update() rewrites the gsi1 key with it")
    await db.update(Customer, {"customer_id": "c-grace"}, set={"email": "grace@navy.mil"})
    old = await db.query(Customer, {"email": "grace@example.com"}, index="gsi1").first()
    new = await db.query(Customer, {"email": "grace@navy.mil"}, index="gsi1").first()
    for email, who in (("grace@example.com", old), ("grace@navy.mil", new)):
        print(f"{email} is {who.name if who else 'nobody'}")

    say("A stream consumer: each NewImage loaded as its own entity with from_item(app, ...)")
    client = await db.client()  # Alan's items in the wire format, as stream records hold them
    response = await client.query(
        TableName=db.table_name(Customer),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "CUSTOMER#c-alan"}},
        ConsistentRead=True,
    )
    for image in response["Items"]:
        entity = from_item(app, image)
        print(f"pk {image['pk']['S']}, sk {image['sk']['S']}, _type {image['_type']['S']}")
        print(f"  -> {type(entity).__name__}: {describe(entity).strip()}")
    try:
        from_item(app, {"pk": {"S": "COUPON#c1"}, "sk": {"S": "X"}, "_type": {"S": "Coupon"}})
    except DeserializationError:
        print("an image of type 'Coupon', which no entity claims: DeserializationError")


async def shop(db: Session, *, keep: bool = False) -> int:
    """Create the table, run the tour and (unless ``keep``) delete the table; returns the
    exit status (2, doing nothing, when the table exists already)."""
    table = db.table_name(Customer)
    if await db.tables.exists(app):
        print(f"{table} exists already: delete it, or set another TABLE_PREFIX.")
        return 2
    desc = await db.tables.ensure(app)
    keys = " and ".join(k.name for k in desc.key_schema)
    print(f"created {table}: key {keys}; index {', '.join(i.name for i in desc.global_indexes)}")
    try:
        await tour(db)
    finally:
        if not keep:
            await db.tables.delete(app)
            print(f"\ndeleted {table}")
    return 0


@contextmanager
def local_database() -> Iterator[None]:
    """Use ``AWS_ENDPOINT_URL_DYNAMODB`` when it is set; else start DynamoDB Local for the
    run and point the environment (which ``Session()`` reads) at it."""
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        yield
        return
    from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB

    print("No AWS_ENDPOINT_URL_DYNAMODB set: starting DynamoDB Local for this run ...")
    with LocalDynamoDB() as local:
        os.environ.update(
            AWS_ENDPOINT_URL_DYNAMODB=local.endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_ACCESS_KEY_ID=DUMMY_CREDENTIALS["aws_access_key_id"],
            AWS_SECRET_ACCESS_KEY=DUMMY_CREDENTIALS["aws_secret_access_key"],
        )
        yield


async def run(keep: bool) -> int:
    async with Session(table_prefix=os.environ.get("TABLE_PREFIX", "")) as db:
        return await shop(db, keep=keep)


def main(argv: list[str] | None = None) -> int:
    """Run the tour; returns the exit status."""
    parser = argparse.ArgumentParser(description="A shop in one DynamoDB table.")
    parser.add_argument("--keep", action="store_true", help="keep the table at the end")
    args = parser.parse_args(argv)
    with local_database():
        return asyncio.run(run(args.keep))


if __name__ == "__main__":
    sys.exit(main())
