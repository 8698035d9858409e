"""The data every scenario uses, so that each library reads and writes the same items into
the same table layout.

- ``Record``: the item of the request, read and write scenarios, about 200 bytes on the wire
  (two string keys, an email, a name, three numbers, a flag, a string set, a timestamp and
  a short text), in a table with a string hash key ``pk`` and a string range key ``sk``.
  ``as_plain`` gives the same item as the dict of boto3-accepted values a boto3, aioboto3
  or aiodynamo user hands over (its wire form is identical to ours, which ``check_same_wire``
  asserts); ``pynamodb_model`` declares the equivalent PynamoDB model.
- ``UserV1`` / ``UserV2`` and ``upgrade``: the source, target and transform of the data copy
  scenarios.
- ``seed``: a fast way to fill a table (ready wire items, BatchWriteItem through the raw
  client, many requests in flight): seeding is set-up, never what is measured.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs

from dynamorm_async import Session, model, to_item
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION

__all__ = [
    "Record",
    "UserV1",
    "UserV2",
    "as_plain",
    "check_same_wire",
    "make_records",
    "make_users",
    "pynamodb_model",
    "seed",
    "upgrade",
    "upgrade_by_hand",
]

_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
_TAGS = ({"reader"}, {"reader", "writer"}, {"admin", "reader", "writer"})


@model(table="bench_records", hash_key="pk", range_key="sk")
@attrs.define
class Record:
    """A typical item of about 200 bytes."""

    pk: str
    sk: str
    email: str
    name: str
    age: int
    balance: Decimal
    active: bool
    tags: set[str]
    created: datetime
    visits: int
    bio: str


def make_records(n: int, pk: str = "bench", start: int = 0) -> list[Record]:
    """``n`` records under the hash key ``pk``, range keys ``00000000``, ``00000001``, ..."""
    return [
        Record(
            pk=pk,
            sk=f"{i:08d}",
            email=f"user{i}@example.com",
            name=f"Firstname{i % 997} Lastname{i}",
            age=18 + i % 70,
            balance=Decimal(i % 100_000) / 100,
            active=i % 3 != 0,
            tags=set(_TAGS[i % 3]),
            created=_START + timedelta(seconds=i, microseconds=i % 1000),
            visits=i,
            bio=f"Member {i}: likes tables, keys and consistent reads.",
        )
        for i in range(start, start + n)
    ]


def as_plain(record: Record) -> dict[str, Any]:
    """The record as a boto3 user holds it: str, int, Decimal, bool, set; the timestamp as
    the same ISO-8601 text ours stores."""
    return {
        "pk": record.pk,
        "sk": record.sk,
        "email": record.email,
        "name": record.name,
        "age": record.age,
        "balance": record.balance,
        "active": record.active,
        "tags": set(record.tags),
        "created": record.created.isoformat(timespec="microseconds"),
        "visits": record.visits,
        "bio": record.bio,
    }


def check_same_wire(records: list[Record]) -> None:
    """Assert that boto3's TypeSerializer makes the same wire items of ``as_plain`` as our
    converter makes of the records: every path stores the same bytes."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()

    def normal(item: dict[str, Any]) -> dict[str, Any]:
        return {
            k: {t: sorted(v) if t == "SS" else v for t, v in av.items()} for k, av in item.items()
        }

    for record in records:
        ours = normal(to_item(record))
        theirs = normal({k: serializer.serialize(v) for k, v in as_plain(record).items()})
        assert ours == theirs, (ours, theirs)


def pynamodb_model(table_name: str, endpoint: str, base: type | None = None) -> Any:
    """The PynamoDB model of ``Record``'s table, declared as PynamoDB's docs do. PynamoDB
    stores datetimes in its own format and numbers through float, so its items differ from
    the others in those two details only. ``base``: the ``Model`` class to derive from
    (pynamodb-async's ``pynamodb_async.models.Model`` takes the same attributes and Meta);
    PynamoDB's by default."""
    from pynamodb.attributes import (
        BooleanAttribute,
        NumberAttribute,
        UnicodeAttribute,
        UnicodeSetAttribute,
        UTCDateTimeAttribute,
    )
    from pynamodb.models import Model

    class PRecord(base or Model):  # type: ignore[misc,valid-type]
        class Meta:
            pass

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        email = UnicodeAttribute()
        name = UnicodeAttribute()
        age = NumberAttribute()
        balance = NumberAttribute()
        active = BooleanAttribute()
        tags = UnicodeSetAttribute()
        created = UTCDateTimeAttribute()
        visits = NumberAttribute()
        bio = UnicodeAttribute()

    PRecord.Meta.table_name = table_name  # type: ignore[attr-defined]
    PRecord.Meta.host = endpoint  # type: ignore[attr-defined]
    PRecord.Meta.region = REGION  # type: ignore[attr-defined]
    PRecord.Meta.aws_access_key_id = DUMMY_CREDENTIALS["aws_access_key_id"]  # type: ignore[attr-defined]
    PRecord.Meta.aws_secret_access_key = DUMMY_CREDENTIALS["aws_secret_access_key"]  # type: ignore[attr-defined]
    return PRecord


# -- the data copy's models ------------------------------------------------------------------

PLANS = ("free", "pro", "premium")


@model(table="users_v1", hash_key="user_id")
@attrs.define
class UserV1:
    """The source of the data copy: about 200 bytes per item."""

    user_id: str
    email: str
    full_name: str
    plan: str
    age: int
    country: str
    created: datetime
    bio: str


@model(table="users_v2", hash_key="user_id")
@attrs.define
class UserV2:
    """The target of the data copy."""

    user_id: str
    email_address: str  # renamed from email
    first_name: str  # full_name split in two
    last_name: str
    plan: str
    is_premium: bool  # derived from plan
    age: int
    country: str
    created: datetime
    bio: str


def upgrade(user: UserV1) -> UserV2:
    """The copy's transform, on models."""
    first, _, last = user.full_name.partition(" ")
    return UserV2(
        user_id=user.user_id,
        email_address=user.email,
        first_name=first,
        last_name=last,
        plan=user.plan,
        is_premium=user.plan == "premium",
        age=user.age,
        country=user.country,
        created=user.created,
        bio=user.bio,
    )


def upgrade_by_hand(item: dict[str, Any]) -> dict[str, Any]:
    """The same transform on wire dicts, as a user of the raw client writes it."""
    first, _, last = item["full_name"]["S"].partition(" ")
    plan = item["plan"]["S"]
    return {
        "user_id": item["user_id"],
        "email_address": item["email"],
        "first_name": {"S": first},
        "last_name": {"S": last},
        "plan": item["plan"],
        "is_premium": {"BOOL": plan == "premium"},
        "age": item["age"],
        "country": item["country"],
        "created": item["created"],
        "bio": item["bio"],
    }


def make_users(n: int, start: int = 0) -> list[UserV1]:
    """``n`` source users ``user-00000000``, ``user-00000001``, ..."""
    return [
        UserV1(
            user_id=f"user-{i:08d}",
            email=f"user{i}@example.com",
            full_name=f"Firstname{i % 997} Lastname{i}",
            plan=PLANS[i % 3],
            age=18 + i % 70,
            country=("US", "DE", "FR", "JP", "BR")[i % 5],
            created=_START + timedelta(seconds=i),
            bio=f"Member {i}: likes tables, keys and consistent reads; " + "x" * 10,
        )
        for i in range(start, start + n)
    ]


# -- seeding ---------------------------------------------------------------------------------


async def seed(
    db: Session,
    table: str,
    make: Any,
    n: int,
    *,
    chunk: int = 5_000,
    concurrency: int = 16,
) -> None:
    """Fill ``table`` with ``make(count, start)``'s objects, ``chunk`` at a time (so that
    memory stays small for big tables): converted once, then BatchWriteItem of 25 through
    the session's client, ``concurrency`` requests in flight, unprocessed items resent."""
    client = await db.client()
    semaphore = asyncio.Semaphore(concurrency)

    async def send(requests: list[dict[str, Any]]) -> None:
        async with semaphore:
            pending: dict[str, Any] = {table: requests}
            delay = 0.05
            while pending:
                response = await client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if pending:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)

    for start in range(0, n, chunk):
        items = [to_item(obj) for obj in make(min(chunk, n - start), start)]
        batches = [
            [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]
            for i in range(0, len(items), 25)
        ]
        await asyncio.gather(*(send(b) for b in batches))
