"""Data copy: 50,000 items UserV1 -> UserV2 through a transform, three ways side by side.

Compared in one run, each into a fresh target table, from the same seeded source table:

1. ``db.tables.copy(UserV1, UserV2, transform=upgrade, segments=16, concurrency=8)``
   (and ``segments=4``): parallel scan, models in and out, batch writes;
2. a naive loop: one sequential Scan (raw aiobotocore client, 1 MB pages) and one PutItem
   per item, awaited one after the other, the same transform done by hand on the dicts;
3. the Go DynamORM seed's method: one sequential Scan of pages of 25 items (``Limit=25``)
   and one BatchWriteItem per page (UnprocessedItems retried), transform by hand.

The naive loop does ~1.3 ms per PutItem on DynamoDB Local, so it copies a subset
(``NAIVE_ITEMS``) once; every ratio is taken per item. The other paths are the median of
``RUNS`` runs. Prints the machine and a Markdown table.

    python benchmarks/copy/bench_copy.py [dynamodb-local|moto|dynalite]
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from typing import Any
from uuid import uuid4

import attrs

from dynamorm_async import Session, model
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB

N = 50_000
NAIVE_ITEMS = 10_000
RUNS = 3
PLANS = ("free", "pro", "premium")


@model(table="users_v1", hash_key="user_id")
@attrs.define
class UserV1:
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


def make_users(n: int) -> list[UserV1]:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return [
        UserV1(
            user_id=f"user-{i:08d}",
            email=f"user{i}@example.com",
            full_name=f"Firstname{i % 997} Lastname{i}",
            plan=PLANS[i % 3],
            age=18 + i % 70,
            country=("US", "DE", "FR", "JP", "BR")[i % 5],
            created=start + timedelta(seconds=i),
            bio=f"Member {i}: likes tables, keys and consistent reads; " + "x" * 10,
        )
        for i in range(n)
    ]


# -- the three copies; each returns how many items it wrote -------------------------------


async def copy_ours(db: Session, target: str, segments: int) -> int:
    report = await db.tables.copy(
        UserV1,
        UserV2,
        transform=upgrade,
        segments=segments,
        concurrency=8,
        target_table=target,
    )
    assert report.complete, report
    return report.written


async def copy_naive(db: Session, target: str, limit: int) -> int:
    client = await db.client()
    source = db.table_name(UserV1)
    params: dict[str, Any] = {"TableName": source}
    written = 0
    while written < limit:
        page = await client.scan(**params)
        for item in page["Items"]:
            await client.put_item(TableName=target, Item=upgrade_by_hand(item))
            written += 1
            if written == limit:
                return written
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return written


async def copy_batched(db: Session, target: str) -> int:
    client = await db.client()
    source = db.table_name(UserV1)
    params: dict[str, Any] = {"TableName": source, "Limit": 25}
    written = 0
    while True:
        page = await client.scan(**params)
        if page["Items"]:
            requests = {
                target: [{"PutRequest": {"Item": upgrade_by_hand(it)}} for it in page["Items"]]
            }
            delay = 0.05
            while requests:
                response = await client.batch_write_item(RequestItems=requests)
                requests = response.get("UnprocessedItems") or {}
                if requests:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
            written += len(page["Items"])
        if "LastEvaluatedKey" not in page:
            return written
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# -- measuring -----------------------------------------------------------------------------


@attrs.define
class Sample:
    seconds: float
    cpu: float
    items: int


async def measure(db: Session, run: Callable[[str], Awaitable[int]], expected: int) -> Sample:
    """One copy into a fresh target table; the table is made before and dropped after the
    clock."""
    target = f"{db.table_prefix}target_{uuid4().hex[:8]}"
    await db.tables.create(UserV2, table_name=target)
    wall, cpu = time.perf_counter(), time.process_time()
    items = await run(target)
    sample = Sample(time.perf_counter() - wall, time.process_time() - cpu, items)
    count = await _count(db, target)
    assert items == expected == count, (items, expected, count)
    await db.tables.delete(UserV2, table_name=target)
    return sample


async def _count(db: Session, table: str) -> int:
    client = await db.client()
    params: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
    total = 0
    while True:
        page = await client.scan(**params)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def median_sample(samples: list[Sample]) -> Sample:
    """Median seconds and median CPU (each on its own) of runs of the same size."""
    return Sample(
        statistics.median(s.seconds for s in samples),
        statistics.median(s.cpu for s in samples),
        samples[0].items,
    )


async def bench(endpoint: str) -> list[tuple[str, Sample, int]]:
    db = Session(
        region=REGION,
        endpoint_url=endpoint,
        table_prefix=f"b{uuid4().hex[:8]}_",
        **DUMMY_CREDENTIALS,
    )
    rows: list[tuple[str, Sample, int]] = []
    async with db:
        await db.client()  # opening the client is not what is measured
        await db.tables.create(UserV1)
        seeded = time.perf_counter()
        await db.batch_write(put=make_users(N), concurrency=8)
        print(f"seeded {N:,} items in {time.perf_counter() - seeded:.1f} s", file=sys.stderr)
        item = (await (await db.client()).scan(TableName=db.table_name(UserV1), Limit=1))["Items"][
            0
        ]
        print(f"item size: {_size(item)} bytes (V1 wire form)", file=sys.stderr)

        paths: list[tuple[str, Callable[[str], Awaitable[int]], int, int]] = [
            (
                "tables.copy, segments=16, concurrency=8",
                lambda t: copy_ours(db, t, 16),
                N,
                RUNS,
            ),
            (
                "tables.copy, segments=4, concurrency=8",
                lambda t: copy_ours(db, t, 4),
                N,
                RUNS,
            ),
            (
                "sequential Scan Limit=25 + BatchWriteItem per page (Go seed)",
                lambda t: copy_batched(db, t),
                N,
                RUNS,
            ),
            (
                f"naive: sequential Scan + one PutItem per item ({NAIVE_ITEMS:,} items)",
                lambda t: copy_naive(db, t, NAIVE_ITEMS),
                NAIVE_ITEMS,
                1,
            ),
        ]
        # Interleave the runs (ours, batch, ours, batch, ...) so that a slow moment of the
        # shared machine or of the engine's JVM does not fall on one path only.
        samples: dict[str, list[Sample]] = {name: [] for name, *_ in paths}
        for r in range(RUNS):
            for name, run, expected, runs in paths:
                if r < runs:
                    s = await measure(db, run, expected)
                    samples[name].append(s)
                    print(f"  {name}: {s.seconds:.2f} s", file=sys.stderr)
        for name, _, _, runs in paths:
            rows.append((name, median_sample(samples[name]), runs))
        await db.tables._delete_prefixed(db.table_prefix)
    return rows


def _size(item: dict[str, Any]) -> int:
    from dynamorm_async._item_size import item_size

    return item_size(item)


def main() -> None:
    engine = sys.argv[1] if len(sys.argv) > 1 else "dynamodb-local"
    started = time.perf_counter()
    with LocalDynamoDB(engine) as server:
        rows = asyncio.run(bench(server.endpoint))
    total = time.perf_counter() - started

    ours = rows[0][1]
    ours_per_item = ours.seconds / ours.items
    print(
        f"Copy UserV1 -> UserV2, {N:,} items, engine {engine}; {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, aiobotocore {version('aiobotocore')}, "
        f"botocore {version('botocore')}\n"
    )
    print(
        "| path | runs | items | seconds | items/s | client CPU us/item | time per item vs ours |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, s, runs in rows:
        per_item = s.seconds / s.items
        print(
            f"| {name} | {runs} | {s.items:,} | {s.seconds:.2f} | {s.items / s.seconds:,.0f} | "
            f"{s.cpu / s.items * 1e6:.0f} | {per_item / ours_per_item:.2f}x |"
        )
    batched = rows[2][1].seconds / rows[2][1].items
    naive = rows[3][1].seconds / rows[3][1].items
    print(
        f"\nGoal: ours >= 10x the naive loop and >= 3x the sequential batch copy, per item. "
        f"Measured: {naive / ours_per_item:.2f}x and {batched / ours_per_item:.2f}x."
    )
    print(f"Whole script: {total:.0f} s (engine start, seeding, every run).")


if __name__ == "__main__":
    main()
