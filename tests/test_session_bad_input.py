"""Bad input: each kind gets its documented error class, a message that names what was
wrong, and leaves the table exactly as it was (nothing sent, or nothing written)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from models import Order, Thing, item_count

from dynamorm_async import (
    ConditionFailed,
    DynamORMError,
    ModelError,
    Session,
    TableNotFound,
    ValidationError,
    attr,
    model,
    size,
)


@attrs.define
class NotAModel:
    name: str


@model(table="people", hash_key="person_id")
@attrs.define
class Person:
    """Hash key only, and a required field that is not a key."""

    person_id: str
    email: str


def stored_order() -> Order:
    return Order("c1", "o1", status="open", total=1, tags={"a"}, lines=["x"])


Case = Callable[[Session, Order], Awaitable[Any]]

CASES: list[tuple[str, Case, type[DynamORMError], str]] = [
    (
        "get: hash key of the wrong type",
        lambda db, o: db.get(Order, 123, "o1"),
        ValidationError,
        "customer_id",
    ),
    ("get: range key missing", lambda db, o: db.get(Order, "c1"), ValidationError, "order_id"),
    (
        "get: range key on a hash-only table",
        lambda db, o: db.get(Person, "p1", "extra"),
        ValidationError,
        "no range key",
    ),
    ("get: empty string key", lambda db, o: db.get(Order, "", "o1"), ValidationError, "non-empty"),
    ("get: None key", lambda db, o: db.get(Order, None, "o1"), ValidationError, "required"),
    (
        "get: unknown projected attribute",
        lambda db, o: db.get(Order, "c1", "o1", attributes=["nope"]),
        ValidationError,
        "nope",
    ),
    (
        "get: attributes as one string",
        lambda db, o: db.get(Order, "c1", "o1", attributes="status"),
        ValidationError,
        "list",
    ),
    (
        "get: class that is not a model",
        lambda db, o: db.get(NotAModel, "x"),
        ModelError,
        "not a model",
    ),
    (
        "get: invalid table_name",
        lambda db, o: db.get(Order, "c1", "o1", table_name="no spaces allowed"),
        ValidationError,
        "table name",
    ),
    (
        "put: not an attrs instance",
        lambda db, o: db.put({"customer_id": "c1"}),
        ValidationError,
        "dict",
    ),
    ("put: a class instead of an instance", lambda db, o: db.put(Order), ValidationError, "class"),
    (
        "put: attrs instance that is not a model",
        lambda db, o: db.put(NotAModel("x")),
        ModelError,
        "not a model",
    ),
    (
        "put: item over 400 KB",
        lambda db, o: db.put(attrs.evolve(o, note="x" * 410_000)),
        ValidationError,
        "400 KB",
    ),
    (
        "put: number out of DynamoDB's range",
        lambda db, o: db.put(attrs.evolve(o, price=Decimal("1E+200"))),
        ValidationError,
        "price",
    ),
    (
        "put: NaN",
        lambda db, o: db.put(attrs.evolve(o, price=Decimal("NaN"))),
        ValidationError,
        "price",
    ),
    (
        "put: naive datetime",
        lambda db, o: db.put(attrs.evolve(o, placed_at=datetime(2026, 1, 1))),
        ValidationError,
        "placed_at",
    ),
    (
        "put: empty key",
        lambda db, o: db.put(attrs.evolve(o, order_id="")),
        ValidationError,
        "order_id",
    ),
    (
        "put: wrong type in a set",
        lambda db, o: db.put(attrs.evolve(o, tags={"a", 1})),
        ValidationError,
        "tags",
    ),
    (
        "put: condition that is not a condition",
        lambda db, o: db.put(o, condition="status = :s"),
        ValidationError,
        "condition",
    ),
    (
        "put: condition on an unknown attribute",
        lambda db, o: db.put(o, condition=attr("stauts") == "open"),
        ValidationError,
        "stauts",
    ),
    (
        "put: condition value of the wrong type",
        lambda db, o: db.put(o, condition=attr("total") == "ten"),
        ValidationError,
        "total",
    ),
    (
        "put: is_in with no values",
        lambda db, o: db.put(o, condition=attr("status").is_in([])),
        ValidationError,
        "is_in",
    ),
    (
        "put: is_in with 101 values",
        lambda db, o: db.put(o, condition=attr("total").is_in(range(101))),
        ValidationError,
        "is_in",
    ),
    (
        "put: bad attribute_type",
        lambda db, o: db.put(o, condition=attr("status").attribute_type("STRING")),
        ValidationError,
        "attribute_type",
    ),
    (
        "put: begins_with a number",
        lambda db, o: db.put(o, condition=attr("status").begins_with(1)),
        ValidationError,
        "begins_with",
    ),
    (
        "put: size compared with text",
        lambda db, o: db.put(o, condition=size(attr("tags")) > "3"),
        ValidationError,
        "size",
    ),
    (
        "put: index into a non-list",
        lambda db, o: db.put(o, condition=attr("status[0]") == "o"),
        ValidationError,
        "status",
    ),
    (
        "put: condition combined with a bool",
        lambda db, o: db.put(o, condition=(attr("total") == 1) & True),
        ValidationError,
        "combine",
    ),
    (
        "update: a key attribute",
        lambda db, o: db.update(o, set={"order_id": "o2"}),
        ValidationError,
        "key attribute",
    ),
    (
        "update: the version attribute",
        lambda db, o: db.update(o, set={"version": 9}),
        ValidationError,
        "version",
    ),
    (
        "update: unknown field",
        lambda db, o: db.update(o, set={"colour": "red"}),
        ValidationError,
        "colour",
    ),
    (
        "update: nested unknown field",
        lambda db, o: db.update(o, set={"address.country": "DE"}),
        ValidationError,
        "country",
    ),
    (
        "update: value of the wrong type",
        lambda db, o: db.update(o, set={"total": "many"}),
        ValidationError,
        "total",
    ),
    ("update: nothing to do", lambda db, o: db.update(o), ValidationError, "at least one"),
    (
        "update: the same path twice",
        lambda db, o: db.update(o, set={"note": "a"}, remove=["note"]),
        ValidationError,
        "twice",
    ),
    (
        "update: overlapping paths",
        lambda db, o: db.update(o, set={"address": None, "address.city": "x"}),
        ValidationError,
        "twice",
    ),
    (
        "update: add to a string",
        lambda db, o: db.update(o, add={"status": 1}),
        ValidationError,
        "numbers and sets",
    ),
    (
        "update: add a string to a number",
        lambda db, o: db.update(o, add={"total": "1"}),
        ValidationError,
        "number",
    ),
    (
        "update: add an empty set",
        lambda db, o: db.update(o, add={"tags": set()}),
        ValidationError,
        "non-empty",
    ),
    (
        "update: delete from a non-set",
        lambda db, o: db.update(o, delete={"lines": {"x"}}),
        ValidationError,
        "set",
    ),
    (
        "update: append to a non-list",
        lambda db, o: db.update(o, append={"status": ["x"]}),
        ValidationError,
        "lists",
    ),
    (
        "update: append a string",
        lambda db, o: db.update(o, append={"lines": "xyz"}),
        ValidationError,
        "list of elements",
    ),
    (
        "update: remove a required field",
        lambda db, o: db.update(Person, "p1", remove=["email"]),
        ValidationError,
        "required",
    ),
    (
        "update: remove given as a string",
        lambda db, o: db.update(o, remove="note"),
        ValidationError,
        "list",
    ),
    (
        "update: set given as a list",
        lambda db, o: db.update(o, set=[("status", "x")]),
        ValidationError,
        "mapping",
    ),
    (
        "update: instance and key values",
        lambda db, o: db.update(o, "c1", set={"status": "x"}),
        ValidationError,
        "instance",
    ),
    (
        "update: class without key values",
        lambda db, o: db.update(Order, set={"status": "x"}),
        ValidationError,
        "key values",
    ),
    (
        "delete: class without key values",
        lambda db, o: db.delete(Order),
        ValidationError,
        "key values",
    ),
    (
        "delete: wrong range key type",
        lambda db, o: db.delete(Order, "c1", 5),
        ValidationError,
        "order_id",
    ),
    (
        "a table that does not exist",
        lambda db, o: db.get(Order, "c1", "o1", table_name="missing_table"),
        TableNotFound,
        "missing_table",
    ),
    (
        "a false condition",
        lambda db, o: db.delete(Order, "c1", "o1", condition=attr("total") > 100),
        ConditionFailed,
        "DeleteItem",
    ),
]


@pytest.mark.parametrize(
    ("case", "error", "named"), [(c, e, n) for _, c, e, n in CASES], ids=[d for d, _, _, _ in CASES]
)
async def test_bad_input_is_refused_and_touches_nothing(
    db: Session, case: Case, error: type[DynamORMError], named: str
) -> None:
    """The operation raises the documented error naming the culprit; the stored item and
    the item count are unchanged afterwards."""
    order = stored_order()
    await db.put(order)
    snapshot = await db.get(Order, "c1", "o1", consistent=True)
    with pytest.raises(error) as caught:
        await case(db, order)
    assert named.lower() in str(caught.value).lower()
    assert isinstance(caught.value, DynamORMError)
    assert await db.get(Order, "c1", "o1", consistent=True) == snapshot
    assert await item_count(db, Order) == 1
    assert await item_count(db, Thing) == 0
    assert order.version == 1


async def test_condition_used_as_a_bool_is_a_type_error() -> None:
    """``and``/``or``/``if`` on a condition would silently drop half of it: TypeError."""
    with pytest.raises(TypeError, match="&"):
        (attr("a") == 1) and (attr("b") == 2)
    with pytest.raises(TypeError):
        bool(attr("a").exists())


async def test_an_item_just_under_the_size_limit_is_accepted(db: Session) -> None:
    """The size check never refuses what DynamoDB accepts: an item a little under 400 KB
    by DynamoDB's rules is written."""
    big = attrs.evolve(stored_order(), note="x" * 400_000)
    await db.put(big)
    got = await db.get(Order, "c1", "o1", consistent=True)
    assert got is not None and got.note == big.note


def test_there_are_at_least_twenty_kinds_of_bad_input() -> None:
    """The table above covers every operation with many distinct kinds of bad input."""
    assert {d.split(":")[0] for d, _, _, _ in CASES} >= {"get", "put", "update", "delete"}
    assert len(CASES) >= 20
