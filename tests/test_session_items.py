"""put / get / delete / update against a real engine: every path, every update action,
every condition operator, reserved and unusual attribute names, nested paths."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from models import Address, Order, Thing, item_count, raw_item

from dynamorm_async import ConditionFailed, Session, attr, size

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def sample_order(**changes: Any) -> Order:
    values: dict[str, Any] = {
        "customer_id": "c1",
        "order_id": "o1",
        "status": "open",
        "total": 10,
        "price": Decimal("9.99"),
        "tags": {"red", "big"},
        "lines": ["a", "b"],
        "address": Address("Main St 1", "Berlin"),
        "extra": {"color": "blue", "n": 1},
        "note": "fragile",
        "placed_at": T0,
        "expires_at": T0 + timedelta(days=30),
    }
    values.update(changes)
    return Order(**values)


def sample_thing(**changes: Any) -> Thing:
    values: dict[str, Any] = {
        "name": "widget",
        "size": 3,
        "data": "payload",
        "first_name": "Ada",
        "dashed": "x",
        "umlaut": "groß",
        "counts": {"a": 1},
        "scores": [1, 2, 3],
        "labels": {"l1", "l2"},
        "blob": b"\x00\x01",
        "flag": True,
        "maybe": "here",
    }
    values.update(changes)
    return Thing(**values)


# -- put / get -------------------------------------------------------------------------------


async def test_put_then_get_returns_an_equal_model(db: Session) -> None:
    """What put writes, get reads back as an equal model (consistent and eventual reads)."""
    order = sample_order()
    await db.put(order)
    assert await db.get(Order, "c1", "o1", consistent=True) == order
    thing = sample_thing()
    await db.put(thing)
    assert await db.get(Thing, "widget", 3) == thing


async def test_get_of_a_missing_item_is_none(db: Session) -> None:
    """A key with no item gives None, not an error."""
    assert await db.get(Order, "nobody", "nothing") is None


async def test_put_sets_created_at_once_and_updated_at_on_every_write(db: Session) -> None:
    """created_at is set when it is None and kept afterwards; updated_at moves on each put."""
    order = sample_order()
    before = datetime.now(timezone.utc)
    await db.put(order)
    assert order.created_at is not None and order.created_at >= before
    assert order.updated_at == order.created_at
    first_created = order.created_at
    await db.put(order)
    assert order.created_at == first_created
    assert order.updated_at is not None and order.updated_at >= first_created
    stored = await db.get(Order, "c1", "o1", consistent=True)
    assert stored is not None
    assert (stored.created_at, stored.updated_at) == (order.created_at, order.updated_at)


async def test_put_replaces_the_whole_item(db: Session) -> None:
    """put writes the whole item: attributes left out of the new object are gone."""
    await db.put(sample_thing())
    await db.put(Thing("widget", 3))
    assert await db.get(Thing, "widget", 3) == Thing("widget", 3)
    stored = await raw_item(db, Thing, {"name": {"S": "widget"}, "size": {"N": "3"}})
    assert stored is not None and "maybe" not in stored and "labels" not in stored


async def test_put_if_not_exists_refuses_to_replace_and_carries_the_stored_item(
    db: Session,
) -> None:
    """if_not_exists=True fails on an existing key; the error holds the stored item."""
    await db.put(sample_thing(data="first"))
    with pytest.raises(ConditionFailed) as caught:
        await db.put(sample_thing(data="second"), if_not_exists=True)
    assert caught.value.item == sample_thing(data="first")
    assert caught.value.table == db.table_name(Thing)
    assert caught.value.key == {"name": "widget", "size": 3}
    assert "PutItem" in str(caught.value) and "widget" in str(caught.value)
    stored = await db.get(Thing, "widget", 3)
    assert stored is not None and stored.data == "first"
    await db.put(sample_thing(name="other"), if_not_exists=True)
    assert await db.get(Thing, "other", 3) is not None


async def test_put_return_old_gives_the_replaced_item(db: Session) -> None:
    """return_old=True returns the item that was replaced, or None for a new one."""
    assert await db.put(sample_thing(data="v1"), return_old=True) is None
    old = await db.put(sample_thing(data="v2"), return_old=True)
    assert old == sample_thing(data="v1")


async def test_get_with_attributes_returns_a_dict_of_what_was_asked(db: Session) -> None:
    """A projection reads the asked attributes plus the key, as {field name: value}."""
    await db.put(sample_order())
    got = await db.get(Order, "c1", "o1", attributes=["status", "address.city", "tags"])
    assert got == {
        "customer_id": "c1",
        "order_id": "o1",
        "status": "open",
        "address": {"city": "Berlin"},
        "tags": {"red", "big"},
    }
    assert await db.get(Order, "c1", "missing", attributes=["status"]) is None
    thing = await db.get(Thing, "widget", 3, attributes=["data"])
    assert thing is None


async def test_table_name_override_and_prefix(db: Session, dynamodb_table_prefix: str) -> None:
    """Operations go to prefix + table, or to table_name= when given."""
    from models import create_table

    assert db.table_name(Thing) == dynamodb_table_prefix + "things"
    other = dynamodb_table_prefix + "things_copy"
    await create_table(db, Thing, table_name=other)
    await db.put(sample_thing(data="copy"), table_name=other)
    assert await db.get(Thing, "widget", 3) is None
    got = await db.get(Thing, "widget", 3, table_name=other)
    assert got is not None and got.data == "copy"
    await db.delete(Thing, "widget", 3, table_name=other)
    assert await db.get(Thing, "widget", 3, table_name=other) is None


# -- delete ----------------------------------------------------------------------------------


async def test_delete_by_object_and_by_key(db: Session) -> None:
    """delete(obj) and delete(Model, hash, range) both remove the item; a missing item is
    not an error."""
    await db.put(sample_thing(size=1))
    await db.put(sample_thing(size=2))
    await db.delete(sample_thing(size=1))
    await db.delete(Thing, "widget", 2)
    await db.delete(Thing, "widget", 99)
    assert await item_count(db, Thing) == 0


async def test_delete_return_old_and_condition(db: Session) -> None:
    """return_old gives the deleted item; a false condition deletes nothing."""
    await db.put(sample_thing())
    with pytest.raises(ConditionFailed) as caught:
        await db.delete(Thing, "widget", 3, condition=attr("data") == "other")
    assert caught.value.item == sample_thing()
    assert await db.get(Thing, "widget", 3) == sample_thing()
    old = await db.delete(Thing, "widget", 3, condition=attr("data") == "payload", return_old=True)
    assert old == sample_thing()
    assert await db.delete(Thing, "widget", 3, return_old=True) is None


# -- update ----------------------------------------------------------------------------------


async def test_update_set_top_level_nested_list_element_and_map_key(db: Session) -> None:
    """set= writes top-level attributes and nested paths, converted by the field types."""
    order = sample_order()
    await db.put(order)
    placed = T0 + timedelta(hours=1)
    new = await db.update(
        order,
        set={
            "status": "shipped",
            "address.city": "Paris",
            "lines[1]": "B",
            "extra.color": "green",
            "placed_at": placed,
        },
    )
    assert new.status == "shipped"
    assert new.address == Address("Main St 1", "Paris")
    assert new.lines == ["a", "B"]
    assert new.extra == {"color": "green", "n": 1}
    assert new.placed_at == placed
    assert new.version == order.version + 1
    assert await db.get(Order, "c1", "o1", consistent=True) == new


async def test_update_returns_a_new_model_and_leaves_the_argument_alone(db: Session) -> None:
    """The object passed to update() is not changed; the returned one is the stored item."""
    order = sample_order()
    await db.put(order)
    snapshot = sample_order(
        version=order.version, created_at=order.created_at, updated_at=order.updated_at
    )
    new = await db.update(order, set={"status": "paid"})
    assert order == snapshot
    assert new.status == "paid" and new.updated_at is not None
    assert order.updated_at is not None and new.updated_at >= order.updated_at


async def test_update_set_none_and_empty_set_remove_the_attribute(db: Session) -> None:
    """None on an optional field and an empty set are stored as absent, as put stores them."""
    await db.put(sample_thing())
    new = await db.update(Thing, "widget", 3, set={"maybe": None, "labels": set()})
    assert new.maybe is None and new.labels == set()
    stored = await raw_item(db, Thing, {"name": {"S": "widget"}, "size": {"N": "3"}})
    assert stored is not None and "maybe" not in stored and "labels" not in stored


async def test_update_set_from_another_attribute_and_arithmetic(db: Session) -> None:
    """A set value may be another attribute or attr(...) +/- a number."""
    await db.put(sample_thing(data="copy me", scores=[5]))
    new = await db.update(
        Thing,
        "widget",
        3,
        set={"first_name": attr("data"), "scores[0]": attr("scores[0]") + 10},
    )
    assert new.first_name == "copy me" and new.scores == [15]
    new = await db.update(Thing, "widget", 3, set={"scores[0]": attr("scores[0]") - 1})
    assert new.scores == [14]


async def test_update_set_if_not_exists(db: Session) -> None:
    """set_if_not_exists writes only attributes that are absent."""
    await db.put(sample_thing(maybe=None))
    new = await db.update(
        Thing, "widget", 3, set_if_not_exists={"maybe": "filled", "data": "not me"}
    )
    assert new.maybe == "filled" and new.data == "payload"


async def test_update_add_to_numbers_and_sets_and_delete_from_sets(db: Session) -> None:
    """add= increments numbers (atomic counters) and extends sets; delete= shrinks sets."""
    order = sample_order()
    await db.put(order)
    new = await db.update(order, add={"total": 5, "price": Decimal("0.01"), "tags": {"new"}})
    assert new.total == 15 and new.price == Decimal("10.00")
    assert new.tags == {"red", "big", "new"}
    newer = await db.update(new, delete={"tags": {"red", "absent"}})
    assert newer.tags == {"big", "new"}
    await db.put(Thing("widget", 3, counts={"a": 1}))
    counted = await db.update(Thing, "widget", 3, add={"counts.a": 2, "counts.b": 1})
    assert counted.counts == {"a": 3, "b": 1}


async def test_update_remove_attributes_and_list_elements(db: Session) -> None:
    """remove= drops attributes, map keys and list elements."""
    await db.put(sample_thing())
    new = await db.update(Thing, "widget", 3, remove=["maybe", "counts.a", "scores[0]"])
    assert new.maybe is None and new.counts == {} and new.scores == [2, 3]


async def test_update_append_and_prepend_lists(db: Session) -> None:
    """append/prepend add elements at the end/front, creating the list when it is absent."""
    await db.put(sample_thing())
    await db.update(Thing, "widget", 3, remove=["scores"])
    new = await db.update(Thing, "widget", 3, append={"scores": [1, 2]})
    assert new.scores == [1, 2]
    new = await db.update(Thing, "widget", 3, prepend={"scores": [0]})
    assert new.scores == [0, 1, 2]
    new = await db.update(Thing, "widget", 3, append={"scores": (3,)})
    assert new.scores == [0, 1, 2, 3]


async def test_update_requires_an_existing_item_unless_upsert(db: Session) -> None:
    """Without upsert an absent item is a ConditionFailed (nothing created); with it, the
    item is created (and created_at set on a model that has one)."""
    with pytest.raises(ConditionFailed) as caught:
        await db.update(Thing, "ghost", 1, set={"data": "boo"})
    assert caught.value.item is None and "no item" in str(caught.value)
    assert await item_count(db, Thing) == 0
    made = await db.update(Thing, "ghost", 1, set={"data": "boo"}, upsert=True)
    assert made == Thing("ghost", 1, data="boo")
    order = await db.update(Order, "c9", "o9", set={"status": "draft"}, upsert=True)
    assert order.version == 1 and order.created_at is not None
    assert order.created_at == order.updated_at


async def test_update_condition_false_changes_nothing(db: Session) -> None:
    """A false condition raises ConditionFailed with the stored item; nothing changes."""
    await db.put(sample_thing())
    with pytest.raises(ConditionFailed) as caught:
        await db.update(Thing, "widget", 3, set={"data": "x"}, condition=attr("flag") == False)
    assert caught.value.item == sample_thing()
    assert await db.get(Thing, "widget", 3) == sample_thing()


async def test_unusual_attribute_names_work_everywhere(db: Session) -> None:
    """Reserved words (name, size, data), dots, dashes and unicode in stored names work in
    keys, conditions, updates and projections."""
    thing = sample_thing()
    await db.put(thing, condition=attr("name").not_exists() & attr("first.name").not_exists())
    cond = (
        (attr("first_name") == "Ada")
        & (attr("x-y") == "x")
        & (attr("größe") == "groß")
        & (attr("data") == "payload")
        & (attr("size") == 3)
    )
    new = await db.update(
        Thing,
        "widget",
        3,
        set={"first.name": "Grace", "dashed": "y", "umlaut": "klein"},
        condition=cond,
    )
    assert (new.first_name, new.dashed, new.umlaut) == ("Grace", "y", "klein")
    brief = await db.get(Thing, "widget", 3, attributes=["first_name", "x-y", "größe"])
    assert brief == {
        "name": "widget",
        "size": 3,
        "first_name": "Grace",
        "dashed": "y",
        "umlaut": "klein",
    }
    stored = await raw_item(db, Thing, {"name": {"S": "widget"}, "size": {"N": "3"}})
    assert stored is not None and stored["first.name"] == {"S": "Grace"}


# -- every condition operator, true and false --------------------------------------------------

CONDITIONS = [
    ("==", attr("data") == "payload", attr("data") == "other"),
    ("!=", attr("data") != "other", attr("data") != "payload"),
    ("<", attr("size") < 4, attr("size") < 3),
    ("<=", attr("size") <= 3, attr("size") <= 2),
    (">", attr("size") > 2, attr("size") > 3),
    (">=", attr("size") >= 3, attr("size") >= 4),
    ("between", attr("size").between(1, 3), attr("size").between(4, 9)),
    ("begins_with", attr("data").begins_with("pay"), attr("data").begins_with("load")),
    ("contains str", attr("data").contains("ylo"), attr("data").contains("zzz")),
    ("contains set", attr("labels").contains("l1"), attr("labels").contains("l9")),
    ("contains list", attr("scores").contains(2), attr("scores").contains(9)),
    ("is_in", attr("data").is_in(["x", "payload"]), attr("data").is_in(["x", "y"])),
    ("exists", attr("maybe").exists(), attr("counts.zz").exists()),
    ("not_exists", attr("counts.zz").not_exists(), attr("maybe").not_exists()),
    ("attribute_type", attr("labels").attribute_type("SS"), attr("labels").attribute_type("L")),
    ("size", size(attr("scores")) == 3, size(attr("scores")) > 3),
    ("map key", attr("counts.a") == 1, attr("counts.a") == 2),
    ("list element", attr("scores[1]") == 2, attr("scores[1]") == 3),
    ("bytes", attr("blob") == b"\x00\x01", attr("blob") == b"\x01"),
    ("bool", attr("flag") == True, attr("flag") == False),
    ("attribute vs attribute", attr("size") == attr("scores[2]"), attr("size") < attr("scores[2]")),
    (
        "and",
        (attr("size") == 3) & (attr("flag") == True),
        (attr("size") == 3) & (attr("flag") == False),
    ),
    (
        "or",
        (attr("size") == 9) | (attr("data") == "payload"),
        (attr("size") == 9) | (attr("data") == "x"),
    ),
    ("not", ~(attr("data") == "other"), ~(attr("data") == "payload")),
]


@pytest.mark.parametrize(
    ("holds", "fails"), [(t, f) for _, t, f in CONDITIONS], ids=[n for n, _, _ in CONDITIONS]
)
async def test_condition_operator_true_writes_and_false_refuses(
    db: Session, holds: Any, fails: Any
) -> None:
    """Each operator is evaluated by the engine: a true condition lets the write through,
    a false one raises ConditionFailed and leaves the item as it was."""
    thing = sample_thing()
    await db.put(thing)
    with pytest.raises(ConditionFailed):
        await db.put(sample_thing(data="changed"), condition=fails)
    assert await db.get(Thing, "widget", 3) == thing
    await db.put(sample_thing(data="payload", flag=True), condition=holds)


async def test_conditions_convert_values_by_field_type(db: Session) -> None:
    """A datetime, a Decimal and the TTL attribute compare as they are stored (ISO text,
    number, epoch seconds)."""
    order = sample_order()
    await db.put(order)
    assert order.expires_at is not None
    condition = (
        (attr("placed_at") == T0)
        & (attr("placed_at") < T0 + timedelta(seconds=1))
        & (attr("price") == Decimal("9.99"))
        & (attr("expires_at") > T0)
        & (attr("expires_at") == order.expires_at)
    )
    new = await db.update(order, set={"status": "checked"}, condition=condition)
    assert new.status == "checked"
