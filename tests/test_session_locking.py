"""Optimistic locking with a version attribute: new items, loaded items, lost races."""

from __future__ import annotations

import asyncio

import attrs
import pytest
from models import Order, Thing, item_count

from dynamorm_async import (
    ConditionFailed,
    ModelError,
    Session,
    ValidationError,
    VersionConflict,
    model,
)


async def test_a_new_object_creates_the_item_with_version_one(db: Session) -> None:
    """Version 0 means never stored: put creates the item and sets version 1 in memory."""
    order = Order("c1", "o1")
    await db.put(order)
    assert order.version == 1
    stored = await db.get(Order, "c1", "o1", consistent=True)
    assert stored is not None and stored.version == 1


async def test_a_second_new_object_with_the_same_key_conflicts(db: Session) -> None:
    """Two writers that both think the item is new: the second gets VersionConflict and its
    object is left as it was."""
    await db.put(Order("c1", "o1", status="first"))
    late = Order("c1", "o1", status="second")
    with pytest.raises(VersionConflict) as caught:
        await db.put(late)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert isinstance(caught.value.item, Order) and caught.value.item.status == "first"
    assert late.version == 0 and late.updated_at is None and late.created_at is None
    stored = await db.get(Order, "c1", "o1", consistent=True)
    assert stored is not None and stored.status == "first"


async def test_put_of_a_stale_object_conflicts_and_changes_nothing(db: Session) -> None:
    """A loaded object may replace only the version it was loaded with."""
    await db.put(Order("c1", "o1"))
    a = await db.get(Order, "c1", "o1", consistent=True)
    b = await db.get(Order, "c1", "o1", consistent=True)
    assert a is not None and b is not None
    a.status = "from a"
    await db.put(a)
    assert a.version == 2
    b.status = "from b"
    before = attrs.evolve(b)
    with pytest.raises(VersionConflict) as caught:
        await db.put(b)
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert b == before
    stored = await db.get(Order, "c1", "o1", consistent=True)
    assert stored == a


async def test_update_and_delete_check_the_version_too(db: Session) -> None:
    """update and delete of a stale object raise VersionConflict and leave the item alone;
    with the current version they go through."""
    order = Order("c1", "o1")
    await db.put(order)
    stale = attrs.evolve(order)
    newer = await db.update(order, set={"status": "paid"})
    assert newer.version == 2
    with pytest.raises(VersionConflict):
        await db.update(stale, set={"status": "lost"})
    with pytest.raises(VersionConflict):
        await db.delete(stale)
    assert await db.get(Order, "c1", "o1", consistent=True) == newer
    await db.delete(newer)
    assert await db.get(Order, "c1", "o1", consistent=True) is None


async def test_writing_a_deleted_item_back_conflicts(db: Session) -> None:
    """An object whose item was deleted meanwhile cannot silently recreate it."""
    order = Order("c1", "o1")
    await db.put(order)
    await db.delete(Order, "c1", "o1")
    with pytest.raises(VersionConflict) as caught:
        await db.put(order)
    assert (caught.value.expected, caught.value.actual, caught.value.item) == (1, None, None)
    with pytest.raises(VersionConflict):
        await db.update(order, set={"status": "x"})
    assert await item_count(db, Order) == 0


async def test_update_by_key_counts_the_version_without_checking_it(db: Session) -> None:
    """update(Model, hash, range) has no version in memory: it bumps the stored one."""
    await db.put(Order("c1", "o1"))
    new = await db.update(Order, "c1", "o1", add={"total": 1})
    assert new.version == 2


async def test_update_of_a_never_stored_object_names_the_missing_item(db: Session) -> None:
    """update(obj) with version 0 may adopt an unversioned item; where there is none, the
    update fails saying so, and writes nothing."""
    with pytest.raises(ConditionFailed, match="no item with this key exists"):
        await db.update(Order("c1", "o1"), set={"status": "x"})
    assert await item_count(db, Order) == 0


async def test_bad_version_values_are_refused(db: Session) -> None:
    """A negative or non-int version is bad input."""
    for bad in (-1, True):
        with pytest.raises(ValidationError, match="version"):
            await db.put(Order("c1", "o1", version=bad))
    assert await item_count(db, Order) == 0


async def test_frozen_models_with_managed_attributes_are_refused(db: Session) -> None:
    """put writes the new version back into the object, so a frozen class is refused before
    anything is written."""

    @model(table="orders", hash_key="customer_id", range_key="order_id", version="version")
    @attrs.frozen
    class FrozenOrder:
        customer_id: str
        order_id: str
        version: int = 0

    with pytest.raises(ModelError, match="frozen"):
        await db.put(FrozenOrder("c1", "o1"))
    assert await item_count(db, Order) == 0


async def test_concurrent_writers_exactly_one_wins_each_round(db: Session) -> None:
    """20 coroutines load the same item and write it at once, for several rounds, with put
    and with update: each round exactly one write wins, the other 19 get VersionConflict,
    and the stored version ends equal to the number of successful writes."""
    await db.put(Order("c1", "race"))
    writers, rounds, wins = 20, 5, 1  # the first put counts as a write

    async def attempt(i: int, mine: Order, use_update: bool) -> bool:
        try:
            if use_update:
                await db.update(mine, add={"total": 1}, set={"note": f"writer {i}"})
            else:
                mine.total += 1
                mine.note = f"writer {i}"
                await db.put(mine)
        except VersionConflict:
            return False
        return True

    for r in range(rounds):
        # Every writer holds the same version before any of them writes.
        loaded = await asyncio.gather(
            *(db.get(Order, "c1", "race", consistent=True) for _ in range(writers))
        )
        assert len({o.version for o in loaded if o is not None}) == 1
        results = await asyncio.gather(
            *(attempt(i, o, r % 2 == 0) for i, o in enumerate(loaded) if o is not None)
        )
        assert results.count(True) == 1, f"round {r}: {results.count(True)} winners"
        wins += 1
    stored = await db.get(Order, "c1", "race", consistent=True)
    assert stored is not None
    assert stored.version == wins
    assert stored.total == rounds


async def test_models_without_version_have_last_writer_wins(db: Session) -> None:
    """Without a version attribute nothing is checked: the later put replaces the item."""
    await db.put(Thing("t", 1, data="a"))
    await db.put(Thing("t", 1, data="b"))
    got = await db.get(Thing, "t", 1)
    assert got is not None and got.data == "b"
