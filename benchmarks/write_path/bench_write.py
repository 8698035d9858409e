"""Write path: BatchWriteItem of 10,000 items of about 200 bytes, client CPU per item.

Side by side in one run, the same items into the same table:

- ours: ``db.batch_write(put=records)`` and ``db.batch_writer()`` (models in);
- raw aiobotocore: boto3's ``TypeSerializer`` on each item, ``batch_write_item`` with 25
  items per request, one request after the other, unprocessed items resent with backoff;
- aioboto3: the resource ``Table``'s ``batch_writer()``, ``put_item(Item=...)`` per item;
- PynamoDB in a thread: ``Model.batch_write()``, ``save(obj)`` per item, in
  ``asyncio.to_thread``.

    python benchmarks/write_path/bench_write.py [--endpoint URL] [--json PATH] [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from dataset import Record, as_plain, make_records, pynamodb_model
from harness import (
    DUMMY_CREDENTIALS,
    REGION,
    Goal,
    Result,
    emit,
    engine,
    new_session,
    parse_args,
    profile_against,
    ratio,
    raw_client,
    run_interleaved,
)

PK = "write"
OURS, OURS_WRITER, RAW, AIOBOTO3, PYNAMODB = (
    "dynamorm_async batch_write (models)",
    "dynamorm_async batch_writer (models)",
    "raw aiobotocore + TypeSerializer, chunks of 25",
    "aioboto3 Table.batch_writer",
    "PynamoDB batch_write in a thread",
)


async def bench(endpoint: str, quick: bool) -> Result:
    import aioboto3
    from boto3.dynamodb.types import TypeSerializer

    n = 2_000 if quick else 10_000
    runs = 2 if quick else 5
    prefix = f"wr{uuid4().hex[:8]}_"
    db = new_session(endpoint, prefix)
    name = db.table_name(Record)
    records = make_records(n, PK)
    plains = [as_plain(r) for r in records]
    serializer = TypeSerializer()
    model = pynamodb_model(name, endpoint)
    pynamo_items = [
        model(
            r.pk,
            r.sk,
            email=r.email,
            name=r.name,
            age=r.age,
            balance=float(r.balance),
            active=r.active,
            tags=r.tags,
            created=r.created,
            visits=r.visits,
            bio=r.bio,
        )
        for r in records
    ]
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(db.close)
        await db.tables.create(Record)
        stack.push_async_callback(db.tables._delete_prefixed, prefix)
        raw = await stack.enter_async_context(raw_client(endpoint))
        resource = await stack.enter_async_context(
            aioboto3.Session().resource(
                "dynamodb", region_name=REGION, endpoint_url=endpoint, **DUMMY_CREDENTIALS
            )
        )
        table = await resource.Table(name)

        async def ours() -> int:
            return await db.batch_write(put=records)

        async def ours_writer() -> int:
            async with db.batch_writer() as writer:
                for record in records:
                    await writer.put(record)
            return n

        async def raw_batches() -> int:
            for start in range(0, n, 25):
                chunk = plains[start : start + 25]
                pending: dict[str, Any] = {
                    name: [
                        {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in p.items()}}}
                        for p in chunk
                    ]
                }
                delay = 0.05
                while pending:
                    response = await raw.batch_write_item(RequestItems=pending)
                    pending = response.get("UnprocessedItems") or {}
                    if pending:
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 1.0)
            return n

        async def boto_writer() -> int:
            async with table.batch_writer() as writer:
                for plain in plains:
                    await writer.put_item(Item=plain)
            return n

        def pynamo_sync() -> int:
            with model.batch_write() as batch:
                for item in pynamo_items:
                    batch.save(item)
            return n

        async def pynamo() -> int:
            return await asyncio.to_thread(pynamo_sync)

        variants: dict[str, Callable[[], Awaitable[int]]] = {
            OURS: ours,
            OURS_WRITER: ours_writer,
            RAW: raw_batches,
            AIOBOTO3: boto_writer,
            PYNAMODB: pynamo,
        }
        print(f"BatchWriteItem of {n:,} items:", file=sys.stderr)
        measured = await run_interleaved(variants, runs)
        base = measured[RAW].cpu_us_each
        rows: list[list[Any]] = [
            [path, s.cpu_us_each, s.per_second, ratio(s.cpu_us_each / base)]
            for path, s in measured.items()
        ]
        boto = measured[AIOBOTO3].cpu_us_each
        fewer = {path: boto / measured[path].cpu_us_each for path in (OURS, OURS_WRITER)}
        goal = Goal(
            "at least 2x fewer client CPU microseconds per item than aioboto3's batch_writer",
            f"batch_write {fewer[OURS]:.2f}x fewer, batch_writer {fewer[OURS_WRITER]:.2f}x "
            f"fewer ({measured[OURS].cpu_us_each:.1f} and "
            f"{measured[OURS_WRITER].cpu_us_each:.1f} against {boto:.1f} us)",
            all(f >= 2 for f in fewer.values()),
        )
        profile = None
        if not goal.met:
            profile = await profile_against(
                ("ours", ours), ("aioboto3", boto_writer), f"BatchWriteItem of {n:,} items"
            )
    return Result(
        scenario="write_path",
        title=f"Write path: BatchWriteItem of {n:,} items",
        columns=["path", "client CPU us/item", "items/s", "CPU vs raw"],
        rows=rows,
        goals=[goal],
        notes=(
            f"Median of {runs} runs after a warm-up run of each path, interleaved; every run "
            "writes the same keys again. Ours gets model objects and converts them; the raw "
            "client and aioboto3 get ready dicts of plain values (building those from objects "
            "is not counted for them); PynamoDB gets its model objects. Ours sends up to 4 "
            "requests at a time (its default), the others one at a time, as their APIs do. "
            "PynamoDB's datetime and number formats differ slightly from the others'."
            + (
                ""
                if goal.met
                else " Why ours misses: the profile compares ours with aioboto3's "
                "batch_writer, package by package."
            )
        ),
        profile=profile,
    )


def main() -> None:
    options = parse_args(__doc__)
    with engine(options.endpoint) as endpoint:
        result = asyncio.run(bench(endpoint, options.quick))
    emit(result, options.json)


if __name__ == "__main__":
    main()
