"""No stored item is ever stuck: every item a read returns can be written back with the
version check, whether it was stored with version 0 (by an unconditional batch write or copy
of an earlier release) or without the version attribute at all (a table that existed before
the model gained ``version=``). The first checked write adopts such an item and stores
version 1; a new object still never overwrites an item that has a version."""

from __future__ import annotations

from typing import Any

import pytest
from models import Order, create_table, raw_item

from dynamorm_async import ConditionFailed, Session, VersionConflict

KEY = {"customer_id": {"S": "c1"}, "order_id": {"S": "o1"}}


async def store_raw(db: Session, version: str | None) -> None:
    """An item written by another client: version ``"0"``, or no version attribute."""
    item: dict[str, Any] = {**KEY, "status": {"S": "open"}, "total": {"N": "5"}}
    if version is not None:
        item["version"] = {"N": version}
    client = await db.client()
    await client.put_item(TableName=db.table_name(Order), Item=item)


async def stored_version(db: Session) -> str | None:
    item = await raw_item(db, Order, KEY)
    assert item is not None
    return item["version"]["N"] if "version" in item else None


async def loaded(db: Session, how: str) -> Order:
    if how == "get":
        order = await db.get(Order, "c1", "o1", consistent=True)
        assert order is not None
        return order
    read = (
        db.query(Order, "c1", consistent=True)
        if how == "query"
        else db.scan(Order, consistent=True)
    )
    order = await read.first()
    assert order is not None
    return order


@pytest.mark.parametrize("stored", ["0", None], ids=["version-0", "no-version"])
@pytest.mark.parametrize("how", ["get", "query", "scan"])
async def test_put_adopts_the_item_and_stores_version_one(
    db: Session, stored: str | None, how: str
) -> None:
    await store_raw(db, stored)
    order = await loaded(db, how)
    assert order.version == 0
    order.status = "paid"
    await db.put(order)
    assert order.version == 1
    assert await stored_version(db) == "1"
    again = await db.get(Order, "c1", "o1", consistent=True)
    assert again is not None and again.status == "paid" and again.total == 5
    order.status = "shipped"  # and the ordinary checked cycle goes on from there
    await db.put(order)
    assert await stored_version(db) == "2"


@pytest.mark.parametrize("stored", ["0", None], ids=["version-0", "no-version"])
async def test_update_adopts_the_item(db: Session, stored: str | None) -> None:
    await store_raw(db, stored)
    order = await loaded(db, "get")
    updated = await db.update(order, set={"status": "paid"}, add={"total": 1})
    assert (updated.version, updated.status, updated.total) == (1, "paid", 6)
    assert await stored_version(db) == "1"
    assert order.version == 0  # the argument is left alone, as for every update


@pytest.mark.parametrize("stored", ["0", None], ids=["version-0", "no-version"])
async def test_delete_with_the_check_removes_the_item(db: Session, stored: str | None) -> None:
    await store_raw(db, stored)
    order = await loaded(db, "get")
    await db.delete(order)
    assert await raw_item(db, Order, KEY) is None


@pytest.mark.parametrize("stored", ["0", None], ids=["version-0", "no-version"])
@pytest.mark.parametrize("action", ["put", "update", "delete"])
async def test_transaction_actions_adopt_the_item(
    db: Session, stored: str | None, action: str
) -> None:
    await store_raw(db, stored)
    order = await loaded(db, "get")
    async with db.transaction() as tx:
        if action == "put":
            order.status = "paid"
            tx.put(order)
        elif action == "update":
            tx.update(order, set={"status": "paid"})
        else:
            tx.delete(order)
    if action == "delete":
        assert await raw_item(db, Order, KEY) is None
    else:
        assert await stored_version(db) == "1"
        again = await db.get(Order, "c1", "o1", consistent=True)
        assert again is not None and again.status == "paid"
    if action == "put":
        assert order.version == 1


async def test_a_new_object_never_overwrites_an_item_that_has_a_version(db: Session) -> None:
    await store_raw(db, "3")
    with pytest.raises(VersionConflict) as caught:
        await db.put(Order("c1", "o1", status="new"))
    assert caught.value.expected == 0 and caught.value.actual == 3
    assert await stored_version(db) == "3"
    with pytest.raises(VersionConflict):
        await db.update(Order("c1", "o1"), set={"status": "new"})
    item = await raw_item(db, Order, KEY)
    assert item is not None and item["status"] == {"S": "open"}


async def test_a_new_object_update_of_a_missing_item_says_it_is_missing(db: Session) -> None:
    """Version 0 on update means "stored unversioned, or never stored": the update is sent,
    and a missing item is named as such (it is not a version conflict)."""
    with pytest.raises(ConditionFailed, match="no item with this key exists") as caught:
        await db.update(Order("c1", "o1"), set={"status": "x"})
    assert not isinstance(caught.value, VersionConflict)
    assert await raw_item(db, Order, KEY) is None
    created = await db.update(Order("c1", "o1"), set={"status": "x"}, upsert=True)
    assert created.version == 1 and await stored_version(db) == "1"


async def test_a_conflict_advises_a_reload_only_where_a_reload_helps(db: Session) -> None:
    await store_raw(db, None)
    order = await loaded(db, "get")
    await db.put(order)  # version 1
    stale = await loaded(db, "get")
    await db.put(order)  # version 2: ``stale`` is behind
    with pytest.raises(VersionConflict, match="reload") as behind:
        await db.put(stale)
    assert (behind.value.expected, behind.value.actual) == (1, 2)
    await db.delete(order)
    with pytest.raises(VersionConflict) as gone:
        await db.put(stale)
    message = str(gone.value)
    assert "reload" not in message and "deleted" in message, message
    assert gone.value.actual is None


@pytest.mark.parametrize("transform", [None, lambda order: order], ids=["as-stored", "model"])
async def test_copy_never_stores_version_zero(db: Session, transform: Any) -> None:
    """A copy writes unconditionally: version 0 is stored as 1, other versions as they are,
    and an item without the attribute stays without it (the first checked write adopts it)."""
    client = await db.client()
    for order_id, version in (("o0", "0"), ("o5", "5"), ("none", None)):
        item: dict[str, Any] = {"customer_id": {"S": "c1"}, "order_id": {"S": order_id}}
        if version is not None:
            item["version"] = {"N": version}
        await client.put_item(TableName=db.table_name(Order), Item=item)
    target = await create_table(db, Order, table_name=db.table_prefix + "orders_copy")
    report = await db.tables.copy(Order, Order, target_table=target, transform=transform)
    assert report.written == 3
    stored = {}
    for order_id in ("o0", "o5", "none"):
        response = await client.get_item(
            TableName=target,
            Key={"customer_id": {"S": "c1"}, "order_id": {"S": order_id}},
            ConsistentRead=True,
        )
        stored[order_id] = response["Item"].get("version")
    if transform is None:
        assert stored == {"o0": {"N": "1"}, "o5": {"N": "5"}, "none": None}
    else:  # through the model, an absent version loads as 0 and is stored as 1
        assert stored == {"o0": {"N": "1"}, "o5": {"N": "5"}, "none": {"N": "1"}}
