"""Write path: BatchWriteItem of 10,000 items of about 200 bytes, client CPU per item.

Side by side in one run, the same items into the same table:

- ours, on each transport (lean and aiobotocore): ``db.batch_write(put=records)`` and
  ``db.batch_writer()`` (models in);
- raw aiobotocore: boto3's ``TypeSerializer`` on each item, ``batch_write_item`` with 25
  items per request, one request after the other, unprocessed items resent with backoff;
- aioboto3: the resource ``Table``'s ``batch_writer()``, ``put_item(Item=...)`` per item;
- PynamoDB in a thread: ``Model.batch_write()``, ``save(obj)`` per item, in
  ``asyncio.to_thread``;
- pynamodb-async: ``Model.batch_write()``, ``await batch.save(obj)`` per item;
- pydynox: ``BatchWriter(client, table)``, ``batch.put(dict)`` per item (its documented
  batch API takes dicts; its Rust core converts, sends and retries them);
- aiodynamodb, in a Python 3.12 process of its own (``peers.py``): ``db.batch_write`` of
  25 ``BatchPut(model)`` per request, unprocessed items sent again.

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
    TRANSPORTS,
    Goal,
    Result,
    emit,
    engine,
    new_session,
    ours_label,
    parse_args,
    profile_against,
    ratio,
    raw_client,
    run_interleaved,
)
from peers import (
    Worker,
    installed,
    missing_note,
    pydynox_model,
    pynamodb_record,
    remote_available,
)

PK = "write"
RAW, AIOBOTO3, PYNAMODB, PYNAMODB_ASYNC, PYDYNOX, AIODYNAMODB = (
    "raw aiobotocore + TypeSerializer, chunks of 25",
    "aioboto3 Table.batch_writer",
    "PynamoDB batch_write in a thread",
    "pynamodb-async batch_write",
    "pydynox BatchWriter (dicts; Rust threads included)",
    "aiodynamodb batch_write of 25 (own Python 3.12 process)",
)
# ours (aiobotocore): how many times fewer CPU us per item than aioboto3's batch_writer in
# benchmarks/RESULTS.md before the lean transport existed (batch_write, batch_writer).
BEFORE = (1.96, 2.25)


def _ours(transport: str) -> tuple[str, str]:
    return (
        ours_label(transport, "batch_write (models)"),
        ours_label(transport, "batch_writer (models)"),
    )


async def bench(endpoint: str, quick: bool) -> Result:
    import aioboto3
    from boto3.dynamodb.types import TypeSerializer

    n = 2_000 if quick else 10_000
    runs = 2 if quick else 5
    prefix = f"wr{uuid4().hex[:8]}_"
    setup = new_session(endpoint, prefix)
    name = setup.table_name(Record)
    records = make_records(n, PK)
    plains = [as_plain(r) for r in records]
    serializer = TypeSerializer()
    model = pynamodb_model(name, endpoint)
    pynamo_items = [pynamodb_record(model, r) for r in records]
    missing: list[str] = []
    variants: dict[str, Callable[[], Awaitable[int]]] = {}
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(setup.close)
        await setup.tables.create(Record)
        stack.push_async_callback(setup.tables._delete_prefixed, prefix)
        raw = await stack.enter_async_context(raw_client(endpoint))
        resource = await stack.enter_async_context(
            aioboto3.Session().resource(
                "dynamodb", region_name=REGION, endpoint_url=endpoint, **DUMMY_CREDENTIALS
            )
        )
        table = await resource.Table(name)

        for transport in TRANSPORTS:
            db = new_session(endpoint, prefix, transport=transport)
            stack.push_async_callback(db.close)

            async def ours(db: Any = db) -> int:
                return int(await db.batch_write(put=records))

            async def ours_writer(db: Any = db) -> int:
                async with db.batch_writer() as writer:
                    for record in records:
                        await writer.put(record)
                return n

            batch, writer = _ours(transport)
            variants[batch] = ours
            variants[writer] = ours_writer

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

        variants.update({RAW: raw_batches, AIOBOTO3: boto_writer, PYNAMODB: pynamo})

        if installed("pynamodb_async"):
            from pynamodb_async import connections
            from pynamodb_async.models import Model

            await stack.enter_async_context(connections())
            amodel = pynamodb_model(name, endpoint, base=Model)
            async_items = [pynamodb_record(amodel, r) for r in records]

            async def pynamo_async() -> int:
                async with amodel.batch_write() as batch:
                    for item in async_items:
                        await batch.save(item)
                return n

            variants[PYNAMODB_ASYNC] = pynamo_async
        else:
            missing.append("pynamodb-async")

        if installed("pydynox"):
            from pydynox import BatchWriter

            client = pydynox_model(name, endpoint).model_config.client

            async def pydynox_batch() -> int:
                async with BatchWriter(client, name) as batch:
                    for plain in plains:
                        batch.put(plain)
                return n

            variants[PYDYNOX] = pydynox_batch
        else:
            missing.append("pydynox")

        if remote_available():
            worker = await stack.enter_async_context(Worker(endpoint, name))
            await worker.load(records)
            variants[AIODYNAMODB] = worker.run("batch_write")
        else:
            missing.append("aiodynamodb")

        print(f"BatchWriteItem of {n:,} items:", file=sys.stderr)
        measured = await run_interleaved(variants, runs)
        base = measured[RAW].cpu_us_each
        lean = measured[_ours("lean")[0]].cpu_us_each
        rows: list[list[Any]] = [
            [
                path,
                s.cpu_us_each,
                s.per_second,
                ratio(s.cpu_us_each / base),
                ratio(s.cpu_us_each / lean),
            ]
            for path, s in measured.items()
        ]
        boto = measured[AIOBOTO3].cpu_us_each
        goals: list[Goal] = []
        fewer: dict[str, tuple[float, float]] = {}
        for transport in TRANSPORTS:
            batch, writer = _ours(transport)
            fewer[transport] = (
                boto / measured[batch].cpu_us_each,
                boto / measured[writer].cpu_us_each,
            )
        for transport in TRANSPORTS:
            batch, writer = _ours(transport)
            got = fewer[transport]
            kept = (
                f"; before the lean transport: {BEFORE[0]:.2f}x and {BEFORE[1]:.2f}x"
                if transport == "aiobotocore"
                else ""
            )
            goals.append(
                Goal(
                    f"ours ({transport}): at least 2x fewer client CPU microseconds per item "
                    "than aioboto3's batch_writer",
                    f"batch_write {got[0]:.2f}x fewer, batch_writer {got[1]:.2f}x fewer "
                    f"({measured[batch].cpu_us_each:.1f} and {measured[writer].cpu_us_each:.1f} "
                    f"against {boto:.1f} us{kept})",
                    all(f >= 2 for f in got),
                )
            )
        if PYDYNOX in measured:
            theirs = measured[PYDYNOX].cpu_us_each
            batch, writer = _ours("lean")
            mine = (measured[batch].cpu_us_each, measured[writer].cpu_us_each)
            goals.append(
                Goal(
                    "ours (lean): batch write client CPU per item <= pydynox's (whole process)",
                    f"batch_write {mine[0] / theirs:.2f}x, batch_writer {mine[1] / theirs:.2f}x "
                    f"({mine[0]:.1f} and {mine[1]:.1f} against {theirs:.1f} us)",
                    max(mine) <= theirs,
                )
            )
        profile = None
        if not all(g.met for g in goals):
            batch = _ours("lean")[0]
            profile = await profile_against(
                ("ours (lean)", variants[batch]),
                ("aioboto3", boto_writer),
                f"BatchWriteItem of {n:,} items",
            )
    return Result(
        scenario="write_path",
        title=f"Write path: BatchWriteItem of {n:,} items",
        columns=["path", "client CPU us/item", "items/s", "CPU vs raw", "CPU vs ours (lean)"],
        rows=rows,
        goals=goals,
        notes=(
            f"Median of {runs} runs after a warm-up run of each path, interleaved; every run "
            "writes the same keys again. Ours gets model objects and converts them; the raw "
            "client, aioboto3 and pydynox get ready dicts of plain values (building those "
            "from objects is not counted for them); PynamoDB, pynamodb-async and aiodynamodb "
            "get their model objects. Ours sends up to 4 requests at a time (its default), "
            "the others one at a time, as their APIs do. PynamoDB's datetime and number "
            "formats differ slightly from the others'. Client CPU is the CPU time (every "
            "thread) of the process that wrote, per item: pydynox's Rust threads count; "
            "aiodynamodb, which needs Python >= 3.12, writes from a process of its own and "
            "reports its own CPU."
            + (
                ""
                if all(g.met for g in goals)
                else " Where ours misses: the profile compares ours (lean) with aioboto3's "
                "batch_writer, package by package (pydynox's Rust core cannot be profiled "
                "from Python)."
            )
            + missing_note(missing)
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
