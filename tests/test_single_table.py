"""Single-table design on a real engine: entities of one shared table, key templates of every
type, range conditions exact at their bounds, the type guard, collections, batches and
transactions across entities, stream images, index keys that follow updates, and an
in-place migration of one entity type that is killed and resumed."""

from __future__ import annotations

import enum
import os
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from killing import kill_and_resume
from single_table_worker import Customer, OrderV1, OrderV2, shop

from dynamorm_async import (
    DeserializationError,
    GlobalIndex,
    Key,
    LocalIndex,
    ModelError,
    Session,
    Table,
    ValidationError,
    attr,
    from_item,
)

HERE = Path(__file__).parent
ENGINE = os.environ.get("DYNAMORM_TEST_ENGINE", "dynamodb-local")

app = Table(
    "app",
    hash_key="pk",
    range_key="sk",
    indexes=[
        GlobalIndex("gsi1", hash_key="gsi1pk", range_key="gsi1sk"),
        LocalIndex("lsi1", range_key="lsi1sk"),
    ],
)


@app.entity(key=Key("USER#{user_id}", "PROFILE"), indexes={"gsi1": Key("EMAIL#{email}", "USER")})
@attrs.define
class User:
    user_id: str
    email: str
    name: str
    nickname: str | None = None


@app.entity(
    key=Key("USER#{user_id}", "ORDER#{placed_at}#{order_id}"),
    indexes={"lsi1": Key("USER#{user_id}", "TOTAL#{total:08d}")},
    version="version",
)
@attrs.define
class Order:
    user_id: str
    order_id: str
    placed_at: datetime
    total: int
    version: int = 0


@app.entity(key=Key("USER#{user_id}", "PROFILE"), type="Twin")
@attrs.define
class Twin:  # the same fields and key templates as User: only the type tells them apart
    user_id: str
    email: str
    name: str
    nickname: str | None = None


@app.entity(
    key=Key("TICKET#{ticket}", "NOTE#{seq:04d}"),
    indexes={"gsi1": Key("ASSIGNEE#{assignee}", "NOTE#{seq:04d}")},
)
@attrs.define
class Note:
    ticket: str
    seq: int
    text: str
    assignee: str | None = None  # optional: a note without one is out of gsi1


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


@app.entity(key=Key("K#{s}#{n}#{p:05d}", "{t}#{d}#{u}#{c}#{lv}"))
@attrs.define
class Every:
    s: str
    n: int
    p: int
    t: datetime
    d: date
    u: uuid.UUID
    c: Color
    lv: Level


T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)


async def test_every_key_part_type_round_trips(dynamodb_session: Session) -> None:
    """str, unpadded and padded ints, a datetime in another timezone (stored in UTC), a
    date, a UUID and Enums of str and int make keys that read back equal."""
    db = dynamodb_session
    await db.tables.ensure(app)
    berlin = timezone(timedelta(hours=2))
    values = [
        Every("a b", -7, 0, datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=berlin), date(1999, 12, 31),
              uuid.UUID(int=5), Color.RED, Level.HIGH),
        Every("é€😀", 10**12, 99_999, T0, date(2026, 2, 28), uuid.uuid4(), Color.BLUE, Level.LOW),
    ]  # fmt: skip
    for e in values:
        await db.put(e)
        key = {f: getattr(e, f) for f in ("s", "n", "p", "t", "d", "u", "c", "lv")}
        assert await db.get(Every, key, consistent=True) == e
    client = await db.client()
    raw = await client.get_item(
        TableName=db.table_name(Every),
        Key={
            "pk": {"S": "K#a b#-7#00000"},
            "sk": {
                "S": "2026-01-02T01:04:05.000006+00:00#1999-12-31#"
                "00000000-0000-0000-0000-000000000005#red#2"
            },
        },
    )
    assert raw["Item"]["_type"] == {"S": "Every"}
    with pytest.raises(ValidationError, match="does not fit 5 digits"):
        await db.put(attrs.evolve(values[0], p=100_000))
    with pytest.raises(ValidationError, match="holds '#', the separator"):
        await db.put(attrs.evolve(values[0], s="a#b"))


async def orders(db: Session) -> list[Order]:
    """Three orders at each of five times, two users, one user profile."""
    await db.tables.ensure(app)
    out = [
        Order(user, f"o{i}{j}", T0 + timedelta(hours=i), 100 * i + j)
        for user in ("u1", "u2")
        for i in range(5)
        for j in range(3)
    ]
    await db.batch_write(put=[*out, User("u1", "ada@example.com", "Ada")])
    return [attrs.evolve(o, version=1) for o in out]  # as a batch write stores them


T2 = T0 + timedelta(hours=2)


@pytest.mark.parametrize(
    ("condition", "wanted"),
    [
        (attr("placed_at") == T2, lambda o: o.placed_at == T2),
        (attr("placed_at") < T2, lambda o: o.placed_at < T2),
        (attr("placed_at") <= T2, lambda o: o.placed_at <= T2),
        (attr("placed_at") > T2, lambda o: o.placed_at > T2),
        (attr("placed_at") >= T2, lambda o: o.placed_at >= T2),
        (
            attr("placed_at").between(T0 + timedelta(hours=1), T0 + timedelta(hours=3)),
            lambda o: T0 + timedelta(hours=1) <= o.placed_at <= T0 + timedelta(hours=3),
        ),
        (None, lambda o: True),
    ],
)
async def test_range_conditions_hold_exactly_the_items_at_their_bounds(
    dynamodb_session: Session, condition: Any, wanted: Any
) -> None:
    """A bound on the first field of "ORDER#{placed_at}#{order_id}" holds every order
    placed exactly at it, whatever its id (``<= t`` includes them, ``< t`` excludes them),
    in both directions; the user's profile in the same partition never comes back."""
    db = dynamodb_session
    stored = await orders(db)
    expected = [o for o in stored if o.user_id == "u1" and wanted(o)]
    for reverse in (False, True):
        got = [
            o async for o in db.query(Order, {"user_id": "u1"}, range=condition, reverse=reverse)
        ]
        assert got == sorted(expected, key=lambda o: (o.placed_at, o.order_id), reverse=reverse)


async def test_leading_range_fields_and_indexes(dynamodb_session: Session) -> None:
    """Fixing the first range field narrows to it; a condition then applies to the next
    one; a global index (email) and a local index (padded totals) are queried by their own
    templates; a condition on a field that is not the next one is refused."""
    db = dynamodb_session
    stored = await orders(db)
    at = T0 + timedelta(hours=3)
    got = [o async for o in db.query(Order, {"user_id": "u1", "placed_at": at})]
    assert [o.order_id for o in got] == ["o30", "o31", "o32"]
    got = [
        o
        async for o in db.query(
            Order, {"user_id": "u1", "placed_at": at}, range=attr("order_id") >= "o31"
        )
    ]
    assert [o.order_id for o in got] == ["o31", "o32"]
    user = await db.query(User, {"email": "ada@example.com"}, index="gsi1").first()
    assert user == User("u1", "ada@example.com", "Ada")
    rich = [
        o.total
        async for o in db.query(Order, {"user_id": "u2"}, index="lsi1", range=attr("total") > 300)
    ]
    assert rich == sorted(o.total for o in stored if o.user_id == "u2" and o.total > 300)
    with pytest.raises(ValidationError, match="next field"):
        db.query(Order, {"user_id": "u1"}, range=attr("order_id") == "o1")
    with pytest.raises(ValidationError, match="give the fields from the start"):
        db.query(Order, {"user_id": "u1", "order_id": "o1"})
    with pytest.raises(ValidationError, match="not in index 'gsi1'"):
        db.query(Order, {"user_id": "u1"}, index="gsi1")
    with pytest.raises(ValidationError, match="needs 'user_id'"):
        db.query(Order, {"placed_at": T0})


async def test_an_item_of_another_type_never_loads_as_this_one(dynamodb_session: Session) -> None:
    """Twin has User's fields and key templates: a User item at the key is not a Twin to
    get (DeserializationError naming both types), to a query or to a scan, and the other
    way round."""
    db = dynamodb_session
    await db.tables.ensure(app)
    await db.put(User("u1", "ada@example.com", "Ada"))
    with pytest.raises(DeserializationError, match="'User', not a 'Twin'"):
        await db.get(Twin, {"user_id": "u1"})
    assert [t async for t in db.query(Twin, {"user_id": "u1"})] == []
    assert [t async for t in db.scan(Twin)] == []
    await db.put(Order("u1", "o1", T0, 5))
    assert [u async for u in db.scan(User)] == [User("u1", "ada@example.com", "Ada")]
    assert await db.scan(Order).count() == 1


async def test_a_collection_yields_each_item_as_its_entity_and_skips_unknown_types(
    dynamodb_session: Session,
) -> None:
    """A collection query returns the user and their orders as User and Order objects in
    key order; an item of a type no entity of the collection claims is skipped and
    counted on the query; limit counts what is yielded."""
    db = dynamodb_session
    stored = await orders(db)
    client = await db.client()
    await client.put_item(
        TableName=db.table_name(User),
        Item={"pk": {"S": "USER#u1"}, "sk": {"S": "A-GHOST"}, "_type": {"S": "Ghost"}},
    )
    query = db.query(app.collection(User, Order), {"user_id": "u1"})
    got = [x async for x in query]
    assert query.skipped == 1
    assert got[-1] == User("u1", "ada@example.com", "Ada")
    assert got[:-1] == sorted(
        (o for o in stored if o.user_id == "u1"), key=lambda o: (o.placed_at, o.order_id)
    )
    limited = db.query(app.collection(User, Order), {"user_id": "u1"}, limit=4)
    assert len([x async for x in limited]) == 4
    with pytest.raises(ValidationError, match="cannot be queried together"):
        db.query(app.collection(User, Note), {"user_id": "u1"})
    with pytest.raises(ValidationError, match="range= and attributes= are for one entity"):
        db.query(app.collection(User, Order), {"user_id": "u1"}, range=attr("placed_at") > T0)


async def test_batches_and_transactions_across_entities(dynamodb_session: Session) -> None:
    """batch_write, batch_get, a transaction and transact_get take entities like models,
    with their keys as mappings."""
    db = dynamodb_session
    await db.tables.ensure(app)
    user = User("u9", "u9@example.com", "Nine")
    order = Order("u9", "o1", T0, 10)
    await db.batch_write(put=[user, order])
    found = await db.batch_get(User, [{"user_id": "u9"}, {"user_id": "nobody"}])
    assert found == [user, None]
    async with db.transaction() as tx:
        tx.update(User, {"user_id": "u9"}, set={"name": "Nina"})
        tx.delete(Order, {"user_id": "u9", "placed_at": T0, "order_id": "o1"})
        tx.put(Order("u9", "o2", T0 + timedelta(hours=1), 20))
    got = await db.transact_get(
        [
            (User, {"user_id": "u9"}),
            (Order, {"user_id": "u9", "placed_at": T0, "order_id": "o1"}),
            (Order, {"user_id": "u9", "placed_at": T0 + timedelta(hours=1), "order_id": "o2"}),
        ]
    )
    assert got[0].name == "Nina" and got[1] is None and got[2].total == 20
    await db.batch_write(delete=[(User, {"user_id": "u9"})])
    assert await db.get(User, {"user_id": "u9"}, consistent=True) is None


async def test_a_stream_image_loads_as_its_entity(dynamodb_session: Session) -> None:
    """from_item(app, image) dispatches by the type attribute; an unknown type is a
    DeserializationError naming it and the table's entities."""
    db = dynamodb_session
    await db.tables.ensure(app)
    await db.put(Order("u1", "o1", T0, 10))
    client = await db.client()
    image = (await client.scan(TableName=db.table_name(Order)))["Items"][0]
    assert from_item(app, image) == Order("u1", "o1", T0, 10, version=1)
    with pytest.raises(DeserializationError, match="no entity of type 'Ghost'"):
        from_item(app, {**image, "_type": {"S": "Ghost"}})


async def test_index_keys_follow_updates_and_sparse_indexes(dynamodb_session: Session) -> None:
    """An update of a field in an index template rewrites that index's keys; None leaves
    the item out of the index; key fields cannot be updated, nor template fields with
    add=; an upsert stores the key fields and the type, so the item loads."""
    db = dynamodb_session
    await db.tables.ensure(app)
    await db.put(User("u1", "old@example.com", "Ada"))
    await db.update(User, {"user_id": "u1"}, set={"email": "new@example.com"})
    assert await db.query(User, {"email": "old@example.com"}, index="gsi1").first() is None
    moved = await db.query(User, {"email": "new@example.com"}, index="gsi1").first()
    assert moved is not None and moved.user_id == "u1"
    await db.put(Note("t1", 1, "first", assignee="bo"))
    await db.put(Note("t1", 2, "second"))
    assert [n.seq async for n in db.query(Note, {"assignee": "bo"}, index="gsi1")] == [1]
    await db.update(Note, {"ticket": "t1", "seq": 1}, set={"assignee": None})
    assert [n async for n in db.query(Note, {"assignee": "bo"}, index="gsi1")] == []
    await db.update(Note, {"ticket": "t1", "seq": 2}, set={"assignee": "cy"})
    assert [n.text async for n in db.query(Note, {"assignee": "cy"}, index="gsi1")] == ["second"]
    with pytest.raises(ValidationError, match="part of the item's key"):
        await db.update(User, {"user_id": "u1"}, set={"user_id": "u2"})
    with pytest.raises(ValidationError, match="changes with set="):
        await db.update(
            Order, {"user_id": "u1", "placed_at": T0, "order_id": "o"}, add={"total": 1}
        )
    made = await db.update(Note, {"ticket": "t2", "seq": 7}, set={"text": "upserted"}, upsert=True)
    assert made == Note("t2", 7, "upserted")
    assert [n async for n in db.query(Note, {"ticket": "t2"})] == [made]


async def test_the_table_manager_takes_the_table_or_any_entity(
    dynamodb_session: Session,
) -> None:
    """ensure(app) creates the table with its generic keys and indexes; ensure(User) finds
    it matching; describe and delete take the table."""
    db = dynamodb_session
    created = await db.tables.ensure(app)
    assert [k.name for k in created.key_schema] == ["pk", "sk"]
    assert {i.name for i in created.global_indexes} == {"gsi1"}
    assert {i.name for i in created.local_indexes} == {"lsi1"}
    assert (await db.tables.ensure(User)).name == created.name == db.table_name(Order)
    assert (await db.tables.describe(app)).name == created.name
    await db.tables.delete(app)
    assert not await db.tables.exists(app)


def test_mistakes_in_entity_declarations_are_model_errors() -> None:
    """Unknown indexes and fields, a taken type, a key that does not fit the table, a field
    stored as a key attribute: ModelError when the class is defined."""
    with pytest.raises(ModelError, match="Table 'errs': index name must be 3 to 255"):
        Table("errs", hash_key="pk", range_key="sk", indexes=[GlobalIndex("g1", hash_key="g")])
    t = Table("errs", hash_key="pk", range_key="sk", indexes=[GlobalIndex("gs1", hash_key="gpk")])
    with pytest.raises(ModelError, match="has no index 'nope'"):
        t.entity(key=Key("A#{a}", "X"), indexes={"nope": Key("{a}")})(_class())
    with pytest.raises(ModelError, match="'zz' is not a field"):
        t.entity(key=Key("A#{zz}", "X"))(_class())
    with pytest.raises(ModelError, match="has a range key"):
        t.entity(key=Key("A#{a}"))(_class())
    with pytest.raises(ModelError, match="has no range key"):
        t.entity(key=Key("A#{a}", "X"), indexes={"gs1": Key("{a}", "Y")})(_class())
    t.entity(key=Key("A#{a}", "X"), type="One")(_class())
    t.entity(key=Key("A#{a}", "X"), type="One")(_class())  # the same class again: allowed
    with pytest.raises(ModelError, match="type 'One' is taken"):
        t.entity(key=Key("B#{a}", "X"), type="One")(_class("Other"))
    with pytest.raises(ModelError, match="keeps for its keys or the entity type"):
        t.entity(key=Key("A#{a}", "X"))(
            attrs.make_class("Bad", {"a": attrs.field(type=str), "pk": attrs.field(type=str)})
        )
    with pytest.raises(ModelError, match="two fields follow each other"):
        t.entity(key=Key("A#{a}{b}", "X"))(_class())
    with pytest.raises(ModelError, match="type attribute '_type' is a key"):
        Table("errs2", hash_key="_type")


def _class(name: str = "E") -> type:
    return attrs.make_class(
        name, {"a": attrs.field(type=str), "b": attrs.field(type=str, default="")}
    )


async def test_an_entity_migration_in_place_killed_twice_resumes_exact(
    dynamodb_session: Session, dynamodb_endpoint: str, tmp_path: Path
) -> None:
    """OrderV1 ("ORDER#{n}") becomes OrderV2 ("ORDER#{n:06d}", another type) in the shared
    table, in place: a process doing it is SIGKILLed at random moments twice and a third
    run resumes from the checkpoint saved after each page. Every order ends as exactly
    one OrderV2 at its new key, none is left as OrderV1, and the customers sharing the
    partitions are untouched."""
    db = dynamodb_session
    n = 1_200 if ENGINE == "dynamodb-local" else 240
    await db.tables.ensure(shop)
    customers = [Customer(f"c{i}", f"Customer {i}") for i in range(20)]
    old = [OrderV1(f"c{i % 20}", i, i % 50) for i in range(n)]
    await db.batch_write(put=[*customers, *old])
    seed, _ = await kill_and_resume(
        HERE / "single_table_worker.py", tmp_path / "orders.json", dynamodb_endpoint,
        db.table_prefix,
    )  # fmt: skip
    assert [o async for o in db.scan(OrderV1)] == []
    migrated = sorted([o async for o in db.scan(OrderV2, consistent=True)], key=lambda o: o.n)
    assert [(o.customer_id, o.n, o.total_cents) for o in migrated] == [
        (o.customer_id, o.n, o.total * 100) for o in old
    ], f"seed {seed}"
    assert all(o.version == 2 for o in migrated)
    assert (
        sorted([c async for c in db.scan(Customer)], key=lambda c: int(c.customer_id[1:]))
        == customers
    )
    assert await db.scan(OrderV2).count() == n
