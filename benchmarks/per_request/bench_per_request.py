"""Client CPU per request: GetItem, PutItem and UpdateItem, one item at a time.

Four ways to send the same requests for the same ~200-byte item, side by side in one run,
sequentially and with 16 requests in flight:

- ours: ``db.get`` / ``db.put`` / ``db.update`` (models in and out);
- raw aiobotocore: ``client.get_item`` / ``put_item`` / ``update_item`` with ready
  AttributeValue dicts, aiobotocore's default configuration;
- aioboto3: the resource ``Table``'s ``get_item`` / ``put_item`` / ``update_item`` with
  plain values;
- PynamoDB in a thread: ``Model.get`` / ``save`` / ``update`` through ``asyncio.to_thread``.

The figure is this process's CPU time (``time.process_time``, every thread) over N requests,
divided by N; DynamoDB Local runs in another process, so its CPU is not counted.

    python benchmarks/per_request/bench_per_request.py [--endpoint URL] [--json PATH] [--quick]
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
    Sample,
    compare_profiles,
    emit,
    engine,
    new_session,
    own_time_by_package,
    parse_args,
    profile_text,
    profiled,
    ratio,
    raw_client,
    run_interleaved,
)

from dynamorm_async import Session, to_item

OPERATIONS = ("get_item", "put_item", "update_item")
CONCURRENCY = 16
OURS, RAW, AIOBOTO3, PYNAMODB = (
    "dynamorm_async",
    "raw aiobotocore",
    "aioboto3 Table",
    "PynamoDB in a thread",
)
# update_item in every path: SET one number, the item must exist, return the new item
# (what ``db.update`` sends: ReturnValues ALL_NEW and attribute_exists on the hash key).
UPDATE_EXPRESSION = "SET #v = :v"
UPDATE_CONDITION = "attribute_exists(#pk)"
UPDATE_NAMES = {"#v": "visits", "#pk": "pk"}

Call = Callable[[int], Awaitable[Any]]


def _record(path: str) -> Record:
    """Each path works on an item of its own (PynamoDB stores datetimes differently)."""
    record = make_records(1, pk="per_request")[0]
    record.sk = path
    return record


async def _paths(
    db: Session, raw: Any, table: Any, table_name: str, endpoint: str
) -> dict[str, dict[str, Call]]:
    """For each path, its three calls; each takes a running number (the value set by the
    update)."""
    ours = _record(OURS)

    async def ours_get(n: int) -> Any:
        return await db.get(Record, ours.pk, ours.sk)

    async def ours_put(n: int) -> Any:
        await db.put(ours)

    async def ours_update(n: int) -> Any:
        return await db.update(Record, ours.pk, ours.sk, set={"visits": n})

    raw_item = to_item(_record(RAW))
    raw_key = {"pk": raw_item["pk"], "sk": raw_item["sk"]}

    async def raw_get(n: int) -> Any:
        return await raw.get_item(TableName=table_name, Key=raw_key)

    async def raw_put(n: int) -> Any:
        return await raw.put_item(TableName=table_name, Item=raw_item)

    async def raw_update(n: int) -> Any:
        return await raw.update_item(
            TableName=table_name,
            Key=raw_key,
            UpdateExpression=UPDATE_EXPRESSION,
            ConditionExpression=UPDATE_CONDITION,
            ExpressionAttributeNames=UPDATE_NAMES,
            ExpressionAttributeValues={":v": {"N": str(n)}},
            ReturnValues="ALL_NEW",
        )

    plain = as_plain(_record(AIOBOTO3))
    plain_key = {"pk": plain["pk"], "sk": plain["sk"]}

    async def boto_get(n: int) -> Any:
        return await table.get_item(Key=plain_key)

    async def boto_put(n: int) -> Any:
        return await table.put_item(Item=plain)

    async def boto_update(n: int) -> Any:
        return await table.update_item(
            Key=plain_key,
            UpdateExpression=UPDATE_EXPRESSION,
            ConditionExpression=UPDATE_CONDITION,
            ExpressionAttributeNames=UPDATE_NAMES,
            ExpressionAttributeValues={":v": n},
            ReturnValues="ALL_NEW",
        )

    model = pynamodb_model(table_name, endpoint)
    record = _record(PYNAMODB)
    item = model(
        record.pk,
        record.sk,
        email=record.email,
        name=record.name,
        age=record.age,
        balance=float(record.balance),
        active=record.active,
        tags=record.tags,
        created=record.created,
        visits=record.visits,
        bio=record.bio,
    )

    async def pynamo_get(n: int) -> Any:
        return await asyncio.to_thread(model.get, record.pk, record.sk)

    async def pynamo_put(n: int) -> Any:
        return await asyncio.to_thread(item.save)

    async def pynamo_update(n: int) -> Any:
        return await asyncio.to_thread(
            item.update, actions=[model.visits.set(n)], condition=model.pk.exists()
        )

    return {
        OURS: {"get_item": ours_get, "put_item": ours_put, "update_item": ours_update},
        RAW: {"get_item": raw_get, "put_item": raw_put, "update_item": raw_update},
        AIOBOTO3: {"get_item": boto_get, "put_item": boto_put, "update_item": boto_update},
        PYNAMODB: {"get_item": pynamo_get, "put_item": pynamo_put, "update_item": pynamo_update},
    }


def _runner(call: Call, requests: int, concurrency: int) -> Callable[[], Awaitable[int]]:
    """``requests`` calls, one after the other or from ``concurrency`` workers."""

    async def sequential() -> int:
        for n in range(requests):
            await call(n)
        return requests

    async def concurrent() -> int:
        per_worker = requests // concurrency

        async def worker(w: int) -> None:
            for n in range(per_worker):
                await call(w * per_worker + n)

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return per_worker * concurrency

    return sequential if concurrency == 1 else concurrent


async def bench(endpoint: str, quick: bool) -> Result:
    import aioboto3

    requests = {1: 30, CONCURRENCY: 96} if quick else {1: 400, CONCURRENCY: 800}
    runs = 2 if quick else 5
    prefix = f"pr{uuid4().hex[:8]}_"
    db = new_session(endpoint, prefix)
    table_name = db.table_name(Record)
    rows: list[list[Any]] = []
    goals: list[Goal] = []
    profile = ""
    reasons: list[str] = []
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
        table = await resource.Table(table_name)
        paths = await _paths(db, raw, table, table_name, endpoint)
        for path in paths.values():  # every path's item exists before any update
            await path["put_item"](0)

        for op in OPERATIONS:
            measured: dict[int, dict[str, Sample]] = {}
            for concurrency, n in requests.items():
                print(f"{op}, concurrency {concurrency}:", file=sys.stderr)
                measured[concurrency] = await run_interleaved(
                    {name: _runner(calls[op], n, concurrency) for name, calls in paths.items()},
                    runs,
                )
                base = measured[concurrency][RAW].cpu_us_each
                for name, s in measured[concurrency].items():
                    rows.append(
                        [
                            op,
                            "sequential" if concurrency == 1 else f"{concurrency} in flight",
                            name,
                            s.cpu_us_each,
                            s.per_second,
                            ratio(s.cpu_us_each / base),
                        ]
                    )
            ratios = {c: m[OURS].cpu_us_each / m[RAW].cpu_us_each for c, m in measured.items()}
            met = all(r <= 1.05 for r in ratios.values())
            goals.append(
                Goal(
                    f"{op}: client CPU per request <= 1.05x raw aiobotocore's",
                    f"{ratios[1]:.2f}x sequential, {ratios[CONCURRENCY]:.2f}x with "
                    f"{CONCURRENCY} in flight",
                    met,
                )
            )
            if not met:
                text, why = await _profile(op, paths, requests[1])
                profile += text + "\n\n"
                reasons.append(why)
    return Result(
        scenario="per_request",
        title="Client CPU per request: get_item, put_item, update_item",
        columns=["operation", "mode", "path", "client CPU us/request", "requests/s", "CPU vs raw"],
        rows=rows,
        goals=goals,
        notes=(
            f"Median of {runs} runs of {requests[1]} sequential requests and "
            f"{requests[CONCURRENCY]} requests from {CONCURRENCY} workers, after a warm-up "
            "run of each; the runs of the four paths are interleaved. Client CPU is this "
            "process's CPU time (every thread) per request; requests/s is wall time, with "
            "DynamoDB Local sharing the machine's cores, so it says more about the engine "
            "than the client. The raw client and aioboto3 use aiobotocore's default "
            "configuration (10 pooled connections), ours its own (64); PynamoDB runs in "
            "asyncio's default thread pool." + "".join(f" {why}" for why in reasons)
        ),
        profile=profile or None,
    )


async def _profile(op: str, paths: dict[str, dict[str, Call]], n: int) -> tuple[str, str]:
    """Ours against the raw client, ``n`` sequential requests of ``op`` each: the profile,
    and a sentence on what ours adds and saves per request."""
    ours = await profiled(_runner(paths[OURS][op], n, 1))
    raw = await profiled(_runner(paths[RAW][op], n, 1))
    mine, base = own_time_by_package(ours), own_time_by_package(raw)
    own = (mine.get("dynamorm_async", 0.0) + mine.get("dynamorm_async (generated code)", 0.0)) / n
    saved = (base.get("botocore", 0.0) - mine.get("botocore", 0.0)) / n
    why = (
        f"Why {op} misses: under the profiler, ours spends {own * 1e6:.0f} us per request in "
        "its own code (building and checking the request, converting the model and the "
        f"answer) and saves {saved * 1e6:.0f} us in botocore (no parameter validation, items "
        "passed through its serializer and parser as they are); signing, headers, the "
        "user-agent string and aiohttp cost both the same."
    )
    text = (
        f"{op}, {n} sequential requests, cProfile with a CPU-time clock.\n"
        + compare_profiles(("ours", ours), ("raw", raw))
        + "\n\nours, top entries by own time:\n"
        + profile_text(ours, 15)
    )
    return text, why


def main() -> None:
    options = parse_args(__doc__)
    with engine(options.endpoint) as endpoint:
        result = asyncio.run(bench(endpoint, options.quick))
    emit(result, options.json)


if __name__ == "__main__":
    main()
