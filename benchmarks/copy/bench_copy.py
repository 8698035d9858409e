"""Data copy: 50,000 items UserV1 -> UserV2 through a transform, three ways side by side.

Compared in one run, each into a fresh target table, from the same seeded source table:

1. ``db.tables.copy(UserV1, UserV2, transform=upgrade, segments=16, concurrency=8)`` on
   each transport (lean and aiobotocore), and ``segments=4`` (lean): parallel scan, models
   in and out, batch writes;
2. a naive loop: one sequential Scan (plain aiobotocore client, 1 MB pages) and one PutItem
   per item, awaited one after the other, the same transform done by hand on the dicts;
3. the Go DynamORM seed's method: one sequential Scan of pages of 25 items (``Limit=25``)
   and one BatchWriteItem per page (UnprocessedItems retried), transform by hand.

The naive loop does one request per item, so it copies a subset (``naive`` items) once;
every ratio is taken per item. The other paths are the median of several runs.

    python benchmarks/copy/bench_copy.py [--endpoint URL] [--json PATH] [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from dataset import UserV1, UserV2, make_users, seed, upgrade, upgrade_by_hand
from harness import (
    TRANSPORTS,
    Goal,
    Result,
    Sample,
    emit,
    engine,
    new_session,
    ours_label,
    own_time_by_package,
    parse_args,
    profile_text,
    profiled,
    ratio,
)

from dynamorm_async import Session

OURS, OURS_BOTOCORE = (
    f"{ours_label(t)} tables.copy, segments=16, concurrency=8" for t in TRANSPORTS
)
OURS_4 = f"{ours_label('lean')} tables.copy, segments=4, concurrency=8"
BATCHED = "sequential Scan Limit=25 + BatchWriteItem per page (Go seed)"
NAIVE = "naive: sequential Scan + one PutItem per item"
WARMUP_ITEMS = 500
# ours (aiobotocore) against the batch copy in benchmarks/RESULTS.md before the lean
# transport existed (time per item): the figure it must keep (5% allowed for noise).
BEFORE = 2.24

# A copy: (session, source table, target table) -> items written.
Copy = Callable[[Session, str, str], Awaitable[int]]


@dataclass
class Sizes:
    """How much to copy, and how often."""

    items: int
    naive_items: int
    runs: int


async def copy_ours(db: Session, source: str, target: str, segments: int) -> int:
    report = await db.tables.copy(
        UserV1,
        UserV2,
        transform=upgrade,
        segments=segments,
        concurrency=8,
        source_table=source,
        target_table=target,
    )
    assert report.complete, report
    return report.written


async def copy_naive(client: Any, source: str, target: str, limit: int) -> int:
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


async def copy_batched(client: Any, source: str, target: str) -> int:
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


async def measure(db: Session, copy: Copy, source: str, expected: int) -> Sample:
    """One copy into a fresh target table; the table is made before the clock starts, and
    counted (every item must be there) and dropped after it stops."""
    target = f"{db.table_prefix}target_{uuid4().hex[:8]}"
    await db.tables.create(UserV2, table_name=target)
    wall, cpu = time.perf_counter(), time.process_time()
    items = await copy(db, source, target)
    sample = Sample(time.perf_counter() - wall, time.process_time() - cpu, items)
    count = await count_items(db, target)
    assert items == expected == count, (items, expected, count)
    await db.tables.delete(UserV2, table_name=target)
    return sample


async def count_items(db: Session, table: str) -> int:
    """A COUNT scan of ``table``."""
    client = await db.client()
    params: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
    total = 0
    while True:
        page = await client.scan(**params)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


async def bench(endpoint: str, sizes: Sizes) -> Result:
    n, naive_n = sizes.items, sizes.naive_items
    prefix = f"cp{uuid4().hex[:8]}_"
    db = new_session(endpoint, prefix)  # set-up: tables, seeding, counting
    samples: dict[str, list[Sample]] = {}
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(db.close)
        copiers = {t: new_session(endpoint, prefix, transport=t) for t in TRANSPORTS}
        for copier in copiers.values():
            stack.push_async_callback(copier.close)
        lean, botocore = copiers["lean"], copiers["aiobotocore"]
        # The baselines are what a program without this library runs: a plain aiobotocore
        # client with its default configuration (botocore's parser, parameter validation).
        from aiobotocore.session import AioSession

        from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION

        plain = await stack.enter_async_context(
            AioSession().create_client(
                "dynamodb", endpoint_url=endpoint, region_name=REGION, **DUMMY_CREDENTIALS
            )
        )
        paths: dict[str, tuple[Copy, int]] = {
            OURS: (lambda d, s, t: copy_ours(lean, s, t, 16), sizes.runs),
            OURS_BOTOCORE: (lambda d, s, t: copy_ours(botocore, s, t, 16), sizes.runs),
            OURS_4: (lambda d, s, t: copy_ours(lean, s, t, 4), sizes.runs),
            BATCHED: (lambda d, s, t: copy_batched(plain, s, t), sizes.runs),
            NAIVE: (lambda d, s, t: copy_naive(plain, s, t, naive_n), 1),
        }
        samples.update({name: [] for name in paths})
        stack.push_async_callback(db.tables._delete_prefixed, prefix)
        source, warm = db.table_name(UserV1), f"{prefix}warmup"
        await db.tables.create(UserV1)
        await db.tables.create(UserV1, table_name=warm)
        started = time.perf_counter()
        await seed(db, source, make_users, n)
        await seed(db, warm, make_users, WARMUP_ITEMS)
        print(f"seeded {n:,} items in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        # Warm-up: every path copies a small table once (connections, generated code).
        for name, (copy, _) in paths.items():
            expected = min(naive_n, WARMUP_ITEMS) if name == NAIVE else WARMUP_ITEMS
            await measure(db, copy, warm, expected)
        # Interleave the runs (ours, ours-4, batch, naive, then ours, ours-4, batch, ...) so
        # that a slow moment of the shared machine or of the engine's JVM does not fall on
        # one path only.
        for r in range(sizes.runs):
            for name, (copy, runs) in paths.items():
                if r < runs:
                    s = await measure(db, copy, source, naive_n if name == NAIVE else n)
                    samples[name].append(s)
                    print(f"  [{r + 1}/{runs}] {name}: {s.wall:.2f} s", file=sys.stderr)

        medians = {
            name: Sample(
                statistics.median(s.wall for s in got),
                statistics.median(s.cpu for s in got),
                got[0].count,
            )
            for name, got in samples.items()
        }
        per_item = {name: s.wall / s.count for name, s in medians.items()}
        vs_naive = per_item[NAIVE] / per_item[OURS]
        vs_batched = per_item[BATCHED] / per_item[OURS]
        kept = per_item[BATCHED] / per_item[OURS_BOTOCORE]
        goals = [
            Goal(
                "ours (lean) >= 10x faster per item than the naive loop",
                f"{vs_naive:.2f}x",
                vs_naive >= 10,
            ),
            Goal(
                "ours (lean) >= 3x faster per item than the sequential batch copy",
                f"{vs_batched:.2f}x",
                vs_batched >= 3,
            ),
            Goal(
                "ours (aiobotocore) keeps today's figure: faster per item than the sequential "
                f"batch copy by at least 95% of the {BEFORE:.2f}x before the lean transport",
                f"{kept:.2f}x (naive loop: {per_item[NAIVE] / per_item[OURS_BOTOCORE]:.2f}x)",
                kept >= BEFORE * 0.95,
            ),
        ]
        profile, why = None, ""
        if not all(g.met for g in goals):
            profile = await _profile(lean, source)
        if not goals[1].met:
            ours_cpu = medians[OURS].cpu / n
            batch = medians[BATCHED]
            bound = (batch.wall / batch.count) / ours_cpu
            why = (
                " Why ours (lean) misses 3x the batch copy: the copy is bound by the client's "
                f"CPU. Ours needs {ours_cpu * 1e6:.0f} us of client CPU per item, the sequential "
                f"batch copy {batch.cpu_us_each:.0f} us (the same BatchWriteItems, on wire dicts "
                "with no models) and waits for the engine the rest of its "
                f"{batch.wall / batch.count * 1e6:.0f} us per item. With the engine on the "
                "same 2 cores, a parallel copy can at best hide all of that waiting: even "
                f"with no waiting at all ours would be {bound:.1f}x the batch copy here. "
                "Reaching 3x needs less client CPU per item (the profile shows where it "
                "goes), or the tens of milliseconds per request of real DynamoDB, which "
                "the sequential copy waits out and the parallel one overlaps."
            )

    rows = [
        [
            name,
            len(samples[name]),
            s.count,
            s.wall,
            s.per_second,
            s.cpu_us_each,
            ratio(per_item[name] / per_item[OURS]),
        ]
        for name, s in medians.items()
    ]
    return Result(
        scenario="copy",
        title=f"Data copy: {n:,} items UserV1 -> UserV2",
        columns=[
            "path",
            "runs",
            "items",
            "seconds",
            "items/s",
            "client CPU us/item",
            "time per item vs ours",
        ],
        rows=rows,
        goals=goals,
        notes=(
            f"Ours (on each transport) and the batch copy: median of {sizes.runs} runs of "
            f"{n:,} items; the naive "
            f"loop (one request per item, nothing amortised, so linear in the items) copies "
            f"{naive_n:,} items once and is compared per item. Runs are interleaved after a "
            f"warm-up copy of {WARMUP_ITEMS} items by each path. The two baselines use "
            "a plain aiobotocore client (default configuration), as a program without this "
            "library would; every path writes the same items; the target table is "
            "created before and counted after the clock. The hand-written paths work on "
            "wire dicts; ours loads each item into a UserV1, builds a UserV2 and dumps it, "
            "checking keys and sizes. Client CPU is this process's CPU time per item; "
            "DynamoDB Local (a JVM) shares the same cores. 'time per item vs ours' compares "
            "with ours on the lean transport." + why
        ),
        profile=profile,
    )


async def _profile(db: Session, source: str) -> str:
    """cProfile (CPU clock) of ours copying for about 5 seconds (the copy's deadline stops
    it; what it wrote by then is enough to see where the time goes)."""
    target = f"{db.table_prefix}profile"
    await db.tables.create(UserV2, table_name=target)

    async def run() -> None:
        await db.tables.copy(
            UserV1,
            UserV2,
            transform=upgrade,
            segments=16,
            concurrency=8,
            source_table=source,
            target_table=target,
            deadline=time.monotonic() + 5,
        )

    profile = await profiled(run)
    by_package = own_time_by_package(profile)
    total = sum(by_package.values())
    shares = sorted(by_package.items(), key=lambda kv: -kv[1])[:12]
    lines = [
        f"{OURS}, about 5 s of copying, cProfile with a CPU-time clock.",
        "own time by package:",
    ]
    lines += [f"  {name[:44]:<44} {seconds / total:6.1%}" for name, seconds in shares]
    lines += ["", "top entries by own time:", profile_text(profile, 25)]
    return "\n".join(lines)


def main() -> None:
    options = parse_args(__doc__)
    sizes = Sizes(3_000, 300, 2) if options.quick else Sizes(50_000, 10_000, 3)
    with engine(options.endpoint) as endpoint:
        result = asyncio.run(bench(endpoint, sizes))
    emit(result, options.json)


if __name__ == "__main__":
    main()
