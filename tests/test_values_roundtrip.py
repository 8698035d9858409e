"""Every value written reads back equal, and no write stores what the model cannot load:
empty sets, numbers under ``Any``, text that is not valid UTF-8, subclasses, upserts,
the TTL attribute as an index key, None where absence means another default, and INCLUDE
projections. Each runs against the engine, and each bad input is refused before anything is
written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from models import Order, Thing, item_count, raw_item

from dynamorm_async import (
    GlobalIndex,
    ModelError,
    Session,
    ValidationError,
    attr,
    field,
    from_item,
    model,
    model_info,
    to_item,
)

# -- empty sets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "default",
    [attrs.Factory(lambda: {"email"}), frozenset({"email"})],
    ids=["factory", "literal"],
)
def test_a_set_field_whose_default_is_not_empty_is_refused(default: Any) -> None:
    """An emptied set is stored as absent (DynamoDB has no empty set, and deleting the last
    member removes the attribute), so it would load back as this default."""
    with pytest.raises(ModelError, match="'channels': a set field's default must be empty"):

        @model(table="prefs", hash_key="user_id")
        @attrs.define
        class Prefs:
            user_id: str
            channels: frozenset[str] = attrs.field(default=default)


async def test_an_emptied_set_reads_back_empty(dynamodb_session: Session) -> None:
    @model(table="prefs", hash_key="user_id")
    @attrs.define
    class Prefs:
        user_id: str
        channels: set[str] = attrs.field(factory=set)
        muted: frozenset[str] | None = None

    db = dynamodb_session
    await db.tables.create(Prefs)
    await db.put(Prefs("u1", {"email", "sms"}, frozenset({"x"})))
    await db.update(Prefs, "u1", delete={"channels": {"email", "sms"}})
    assert await db.get(Prefs, "u1", consistent=True) == Prefs("u1", set(), frozenset({"x"}))
    await db.put(Prefs("u1", set(), frozenset()))
    assert await db.get(Prefs, "u1", consistent=True) == Prefs("u1", set(), None)


# -- numbers under Any --------------------------------------------------------------------------


async def test_numbers_under_any_read_back_exactly(db: Session) -> None:
    extra = {
        "price": Decimal("0.10") * 3,
        "count": 3,
        "big": 10**30,
        "half": 0.5,
        "nested": {"rates": [Decimal("1.25"), 2, Decimal("-0.001")]},
        "exp": Decimal("1E+2"),
    }
    await db.put(Order("c1", "o1", extra=extra))
    stored = await db.get(Order, "c1", "o1", consistent=True)
    assert stored is not None
    assert stored.extra == {
        "price": Decimal("0.30"),
        "count": 3,
        "big": 10**30,
        "half": Decimal("0.5"),
        "nested": {"rates": [Decimal("1.25"), 2, Decimal("-0.001")]},
        "exp": 100,
    }
    assert type(stored.extra["price"]) is Decimal and type(stored.extra["count"]) is int
    assert type(stored.extra["exp"]) is int and type(stored.extra["big"]) is int


def test_numbers_under_any_load_as_int_or_decimal() -> None:
    item = {"customer_id": {"S": "c"}, "order_id": {"S": "o"}, "extra": {"M": {}}}
    item["extra"]["M"] = {"a": {"N": "0.1"}, "b": {"N": "7"}, "c": {"N": "2.50E+1"}}
    item["extra"]["M"]["s"] = {"NS": ["1", "1.5"]}
    order = from_item(Order, item)
    assert order.extra == {"a": Decimal("0.1"), "b": 7, "c": 25, "s": {1, Decimal("1.5")}}


# -- text that is not valid UTF-8 ---------------------------------------------------------------

LONE = "ok \ud800 ok"


async def test_a_lone_surrogate_is_refused_by_every_write(db: Session) -> None:
    bad = Thing("t", 1, data=LONE)
    for write in (
        lambda: db.put(bad),
        lambda: db.batch_write(put=[bad]),
        lambda: db.update(Thing, "t", 1, set={"data": LONE}, upsert=True),
        lambda: db.update(Thing, "t", 1, set={"counts": {LONE: 1}}, upsert=True),
        lambda: db.put(Thing("t", 1, labels={"a", LONE})),
        lambda: db.put(Thing(LONE, 1)),
    ):
        with pytest.raises(ValidationError, match="lone surrogate"):
            await write()
    with pytest.raises(ValidationError, match=r"data.*lone surrogate"):
        await db.put(bad)
    with pytest.raises(ValidationError, match="lone surrogate"):
        async with db.transaction() as tx:
            tx.put(bad)
    with pytest.raises(ValidationError, match="lone surrogate"):
        to_item(Thing("t", 1, counts={LONE: 1}))
    assert await item_count(db, Thing) == 0
    text = "naïve Größe ✓ 🙂"  # valid text that is not ASCII still round-trips
    await db.put(Thing("t", 1, data=text, counts={text: 1}, labels={text}))
    assert await db.get(Thing, "t", 1, consistent=True) == Thing(
        "t", 1, data=text, counts={text: 1}, labels={text}
    )


# -- subclasses ---------------------------------------------------------------------------------


async def test_a_plain_subclass_of_an_attrs_class_stores_its_own_fields(
    dynamodb_session: Session,
) -> None:
    @attrs.define
    class Base:
        pk: str

    @model(table="subs", hash_key="pk")
    class Sub(Base):
        extra: int = 0
        note: str = "n"

    assert [f.name for f in model_info(Sub).fields] == ["pk", "extra", "note"]
    db = dynamodb_session
    await db.tables.create(Sub)
    await db.put(Sub("a", 5, "x"))
    assert await db.get(Sub, "a", consistent=True) == Sub("a", 5, "x")


# -- upserts ------------------------------------------------------------------------------------


@model(table="pages", hash_key="url")
@attrs.define
class Page:
    url: str
    title: str
    hits: int = 0


async def test_an_upsert_that_would_leave_a_required_field_unset_is_refused(
    dynamodb_session: Session,
) -> None:
    db = dynamodb_session
    await db.tables.create(Page)
    with pytest.raises(ValidationError, match="requires 'title'") as caught:
        await db.update(Page, "/a", add={"hits": 1}, upsert=True)
    assert caught.value.field == "title"
    with pytest.raises(ValidationError, match="requires 'title'"):
        async with db.transaction() as tx:
            tx.update(Page, "/a", add={"hits": 1}, upsert=True)
    client = await db.client()
    scan = await client.scan(TableName=db.table_name(Page))
    assert scan["Items"] == []
    page = await db.update(
        Page, "/a", add={"hits": 1}, set_if_not_exists={"title": "A"}, upsert=True
    )
    assert page == Page("/a", "A", 1)
    page = await db.update(
        Page, "/a", add={"hits": 1}, set_if_not_exists={"title": "B"}, upsert=True
    )
    assert page == Page("/a", "A", 2)
    # without upsert the item must exist, so it has its required fields already
    assert await db.update(Page, "/a", add={"hits": 1}) == Page("/a", "A", 3)


# -- the TTL attribute as an index key ----------------------------------------------------------


@model(
    table="sessions",
    hash_key="sid",
    ttl="expires_at",
    indexes=[GlobalIndex("by_expiry", hash_key="kind", range_key="expires_at")],
)
@attrs.define
class WebSession:
    sid: str
    kind: str
    expires_at: datetime


async def test_a_ttl_datetime_is_a_number_also_as_an_index_key(
    dynamodb_session: Session,
) -> None:
    info = model_info(WebSession)
    assert {"AttributeName": "expires_at", "AttributeType": "N"} in info.attribute_definitions()
    db = dynamodb_session
    await db.tables.create(WebSession)
    # In the future: an engine that expires items (DynamoDB Local does) deletes past ones.
    now = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    for i in range(3):
        await db.put(WebSession(f"s{i}", "web", now + timedelta(hours=i)))
    stored = await raw_item(db, WebSession, {"sid": {"S": "s1"}})
    assert stored is not None and stored["expires_at"] == {"N": str(int(now.timestamp()) + 3600)}
    soon = db.query(
        WebSession, "web", index="by_expiry", range=attr("expires_at") < now + timedelta(hours=2)
    )
    assert [s.sid async for s in soon] == ["s0", "s1"]


# -- None where absence would load as another default -------------------------------------------


async def test_update_stores_none_as_null_where_put_does(dynamodb_session: Session) -> None:
    @model(table="profiles", hash_key="user_id")
    @attrs.define
    class Profile:
        user_id: str
        nickname: str | None = "anon"

    db = dynamodb_session
    await db.tables.create(Profile)
    await db.put(Profile("u1", "ada"))
    updated = await db.update(Profile, "u1", set={"nickname": None})
    assert updated == Profile("u1", None)
    assert await db.get(Profile, "u1", consistent=True) == Profile("u1", None)
    stored = await raw_item(db, Profile, {"user_id": {"S": "u1"}})
    assert stored is not None and stored["nickname"] == {"NULL": True}


def test_an_optional_index_key_with_a_default_other_than_none_is_refused() -> None:
    with pytest.raises(ModelError, match="'status' is optional with a default other than None"):

        @model(table="tasks", hash_key="id", indexes=[GlobalIndex("by_status", hash_key="status")])
        @attrs.define
        class Task:
            id: str
            status: str | None = "new"


# -- INCLUDE projections ------------------------------------------------------------------------


def test_include_projection_names_must_be_fields() -> None:
    with pytest.raises(ModelError, match="projects 'titel', which is not a field"):

        @model(
            table="docs",
            hash_key="id",
            indexes=[GlobalIndex("by_kind", hash_key="kind", projection=["titel"])],
        )
        @attrs.define
        class Doc:
            id: str
            kind: str
            title: str


async def test_include_projection_names_are_stored_names(dynamodb_session: Session) -> None:
    @model(
        table="docs",
        hash_key="id",
        indexes=[GlobalIndex("by_kind", hash_key="kind", projection=["title"])],
    )
    @attrs.define
    class Doc:
        id: str
        kind: str
        title: str = field(stored_as="t")
        body: str = ""

    assert model_info(Doc).indexes[0].non_key_attributes == ("t",)
    db = dynamodb_session
    await db.tables.create(Doc)
    await db.put(Doc("d1", "note", "Hello", "long text"))
    found = await db.query(Doc, "note", index="by_kind", attributes=["title"]).first()
    assert found == {"id": "d1", "kind": "note", "title": "Hello"}
