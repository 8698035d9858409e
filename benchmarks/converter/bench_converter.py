"""Converter benchmark: dump and load 10,000 typical items, side by side in one run.

Compared: dynamorm_async's ``to_item``/``from_item`` against boto3's TypeSerializer /
TypeDeserializer (the serializer alone, fed a ready dict: the strictest comparison) and
against PynamoDB's attribute serialisation when it is installed. Each figure is the median of
several runs of the whole batch, in microseconds per item. Prints a Markdown table.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs

from dynamorm_async import GlobalIndex, from_item, model, to_item

N = 10_000
RUNS = 7


@attrs.define
class Address:
    street: str
    city: str
    country: str


@model(
    table="users",
    hash_key="user_id",
    indexes=[GlobalIndex("by_email", hash_key="email")],
)
@attrs.define
class User:
    """A typical item: strings, numbers, a flag, a set, a timestamp, a nested map, a list."""

    user_id: str
    email: str
    name: str
    age: int
    balance: Decimal
    active: bool
    roles: set[str]
    created: datetime
    address: Address
    scores: list[int]
    nickname: str | None = None
    visits: int = 0


def make_users() -> list[User]:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return [
        User(
            user_id=f"user-{i:08d}",
            email=f"user{i}@example.com",
            name=f"User Number {i}",
            age=20 + i % 60,
            balance=Decimal(i) / 100,
            active=i % 3 != 0,
            roles={"reader", "writer"} if i % 2 else {"reader"},
            created=start + timedelta(seconds=i, microseconds=i),
            address=Address(f"{i} Main Street", "Springfield", "US"),
            scores=[i % 7, i % 11, i % 13],
            nickname=None if i % 4 else f"nick{i}",
            visits=i,
        )
        for i in range(N)
    ]


def as_plain(user: User) -> dict[str, Any]:
    """What a boto3 user hands to TypeSerializer: a dict of boto3-accepted values."""
    plain = {
        "user_id": user.user_id,
        "email": user.email,
        "name": user.name,
        "age": user.age,
        "balance": user.balance,
        "active": user.active,
        "roles": user.roles,
        "created": user.created.isoformat(),
        "address": {
            "street": user.address.street,
            "city": user.address.city,
            "country": user.address.country,
        },
        "scores": user.scores,
        "visits": user.visits,
    }
    if user.nickname is not None:
        plain["nickname"] = user.nickname
    return plain


def per_item_us(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) / N * 1e6


def main() -> None:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    users = make_users()
    items = [to_item(u) for u in users]
    assert [from_item(User, it) for it in items] == users
    serializer, deserializer = TypeSerializer(), TypeDeserializer()
    plains = [as_plain(u) for u in users]
    boto_items = [{k: serializer.serialize(v) for k, v in p.items()} for p in plains]

    rows: list[tuple[str, float, float]] = []
    rows.append(
        (
            "dynamorm_async to_item / from_item",
            per_item_us(lambda: [to_item(u) for u in users]),
            per_item_us(lambda: [from_item(User, it) for it in items]),
        )
    )
    rows.append(
        (
            "boto3 TypeSerializer / TypeDeserializer (ready dicts)",
            per_item_us(
                lambda: [{k: serializer.serialize(v) for k, v in p.items()} for p in plains]
            ),
            per_item_us(
                lambda: [
                    {k: deserializer.deserialize(v) for k, v in it.items()} for it in boto_items
                ]
            ),
        )
    )
    rows.append(
        (
            "boto3, from and to the attrs object",
            per_item_us(
                lambda: [
                    {k: serializer.serialize(v) for k, v in as_plain(u).items()} for u in users
                ]
            ),
            per_item_us(lambda: [_boto_load(deserializer, it) for it in boto_items]),
        )
    )
    pynamo = _pynamodb_rows(users)
    if pynamo is not None:
        rows.append(pynamo)

    ours_dump, ours_load = rows[0][1], rows[0][2]
    print(f"Converter, {N:,} items, median of {RUNS} runs, Python {sys.version.split()[0]}\n")
    print("| path | dump us/item | load us/item | dump vs ours | load vs ours |")
    print("|---|---:|---:|---:|---:|")
    for name, dump, load in rows:
        ratios = f"{dump / ours_dump:.2f}x | {load / ours_load:.2f}x"
        print(f"| {name} | {dump:.2f} | {load:.2f} | {ratios} |")
    boto_dump, boto_load = rows[1][1], rows[1][2]
    print(
        f"\nGoal: dump >= 3x and load >= 2.5x boto3's serializer. Measured: dump "
        f"{boto_dump / ours_dump:.2f}x, load {boto_load / ours_load:.2f}x."
    )


def _boto_load(deserializer: Any, item: dict[str, Any]) -> User:
    plain = {k: deserializer.deserialize(v) for k, v in item.items()}
    return User(
        user_id=plain["user_id"],
        email=plain["email"],
        name=plain["name"],
        age=int(plain["age"]),
        balance=plain["balance"],
        active=plain["active"],
        roles=plain["roles"],
        created=datetime.fromisoformat(plain["created"]),
        address=Address(**plain["address"]),
        scores=[int(s) for s in plain["scores"]],
        nickname=plain.get("nickname"),
        visits=int(plain["visits"]),
    )


def _pynamodb_rows(users: list[User]) -> tuple[str, float, float] | None:
    try:
        from pynamodb.attributes import (
            BooleanAttribute,
            ListAttribute,
            MapAttribute,
            NumberAttribute,
            UnicodeAttribute,
            UnicodeSetAttribute,
            UTCDateTimeAttribute,
        )
        from pynamodb.models import Model
    except ImportError:
        return None

    class PAddress(MapAttribute[str, Any]):
        street = UnicodeAttribute()
        city = UnicodeAttribute()
        country = UnicodeAttribute()

    class PUser(Model):
        class Meta:
            table_name = "users"
            region = "us-east-1"

        user_id = UnicodeAttribute(hash_key=True)
        email = UnicodeAttribute()
        name = UnicodeAttribute()
        age = NumberAttribute()
        balance = NumberAttribute()
        active = BooleanAttribute()
        roles = UnicodeSetAttribute()
        created = UTCDateTimeAttribute()
        address = PAddress()
        scores = ListAttribute(of=NumberAttribute)
        nickname = UnicodeAttribute(null=True)
        visits = NumberAttribute()

    models = [
        PUser(
            u.user_id,
            email=u.email,
            name=u.name,
            age=u.age,
            balance=float(u.balance),
            active=u.active,
            roles=u.roles,
            created=u.created,
            address=PAddress(
                street=u.address.street, city=u.address.city, country=u.address.country
            ),
            scores=u.scores,
            nickname=u.nickname,
            visits=u.visits,
        )
        for u in users
    ]
    dumped = [m.serialize() for m in models]

    def load_all() -> None:
        for d in dumped:
            m = PUser()
            m.deserialize(d)

    return (
        "PynamoDB Model.serialize / deserialize",
        per_item_us(lambda: [m.serialize() for m in models]),
        per_item_us(load_all),
    )


if __name__ == "__main__":
    main()
