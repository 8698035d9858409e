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

from dynamorm_async import (
    ConditionFailed,
    GlobalIndex,
    LocalIndex,
    Session,
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

    say("A Session opens its client on the first request; its table manager ensures the table")
    db = Session(
        region=REGION,
        endpoint_url=endpoint,
        table_prefix=f"demo_{int(time.time())}_",
        **DUMMY_CREDENTIALS,
    )
    async with db:
        desc = await db.tables.ensure(Order)  # CreateTable, wait until usable, enable TTL
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
        await db.tables.delete(Order)
        print(f"deleted table {table}")


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
