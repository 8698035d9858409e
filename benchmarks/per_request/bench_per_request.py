"""Client CPU per request: GetItem, PutItem and UpdateItem, one item at a time.

The same requests for the same ~200-byte item, side by side in one run, sequentially and
with 16 requests in flight:

- ours, on each transport (lean and aiobotocore): ``db.get`` / ``db.put`` / ``db.update``
  (models in and out);
- raw aiobotocore: ``client.get_item`` / ``put_item`` / ``update_item`` with ready
  AttributeValue dicts, aiobotocore's default configuration;
- aioboto3: the resource ``Table``'s ``get_item`` / ``put_item`` / ``update_item`` with
  plain values;
- aiodynamo: ``client.get_item`` / ``put_item`` / ``update_item`` with plain values;
- PynamoDB in a thread: ``Model.get`` / ``save`` / ``update`` through ``asyncio.to_thread``;
- pynamodb-async: the same model API, awaited;
- pydynox: ``Model.get`` / ``save`` / ``update(atomic=[...])`` (its Rust core does the HTTP
  and signing on threads of its own);
- aiodynamodb (in a Python 3.12 process of its own, see ``peers.py``): ``db.get`` /
  ``db.put`` / ``db.update``.

The figure is the CPU time (``time.process_time``, every thread) of the process that sent
N requests, divided by N; DynamoDB Local runs in another process, so its CPU is not counted.

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
    TRANSPORTS,
    Goal,
    Result,
    Sample,
    compare_profiles,
    emit,
    engine,
    new_session,
    ours_label,
    own_time_by_package,
    parse_args,
    profile_text,
    profiled,
    ratio,
    raw_client,
    run_interleaved,
)
from peers import (
    PYDYNOX,
    PYNAMODB_ASYNC,
    Worker,
    installed,
    missing_note,
    pydynox_model,
    pydynox_record,
    pynamodb_record,
    remote_available,
)

from dynamorm_async import Session, to_item

OPERATIONS = ("get_item", "put_item", "update_item")
CONCURRENCY = 16
LEAN, BOTOCORE = (ours_label(t) for t in TRANSPORTS)
RAW, AIOBOTO3, AIODYNAMO, PYNAMODB, PYNAMODB_ASYNC_PATH, PYDYNOX_PATH, AIODYNAMODB_PATH = (
    "raw aiobotocore",
    "aioboto3 Table",
    "aiodynamo",
    "PynamoDB in a thread",
    "pynamodb-async",
    "pydynox (Rust threads included)",
    "aiodynamodb (own Python 3.12 process)",
)
# ours (aiobotocore) against raw aiobotocore in benchmarks/RESULTS.md before the lean
# transport existed (sequential, 16 in flight): the figures it must keep.
BEFORE = {"get_item": (1.01, 0.92), "put_item": (1.00, 0.95), "update_item": (1.02, 0.96)}
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


def _ours(db: Session, label: str) -> dict[str, Call]:
    """Our three calls on session ``db``."""
    ours = _record(label)

    async def ours_get(n: int) -> Any:
        return await db.get(Record, ours.pk, ours.sk)

    async def ours_put(n: int) -> Any:
        await db.put(ours)

    async def ours_update(n: int) -> Any:
        return await db.update(Record, ours.pk, ours.sk, set={"visits": n})

    return {"get_item": ours_get, "put_item": ours_put, "update_item": ours_update}


async def _paths(
    sessions: dict[str, Session],
    raw: Any,
    table: Any,
    dynamo: Any,
    table_name: str,
    endpoint: str,
) -> dict[str, dict[str, Call]]:
    """For each path in this process, its three calls; each takes a running number (the
    value set by the update)."""
    from aiodynamo.expressions import F
    from aiodynamo.models import ReturnValues

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

    dyn = as_plain(_record(AIODYNAMO))
    dyn_key = {"pk": dyn["pk"], "sk": dyn["sk"]}

    async def dynamo_get(n: int) -> Any:
        return await dynamo.get_item(table_name, dyn_key)

    async def dynamo_put(n: int) -> Any:
        return await dynamo.put_item(table_name, dyn)

    async def dynamo_update(n: int) -> Any:
        return await dynamo.update_item(
            table_name,
            dyn_key,
            F("visits").set(n),
            condition=F("pk").exists(),
            return_values=ReturnValues.all_new,
        )

    model = pynamodb_model(table_name, endpoint)
    record = _record(PYNAMODB)
    item = pynamodb_record(model, record)

    async def pynamo_get(n: int) -> Any:
        return await asyncio.to_thread(model.get, record.pk, record.sk)

    async def pynamo_put(n: int) -> Any:
        return await asyncio.to_thread(item.save)

    async def pynamo_update(n: int) -> Any:
        return await asyncio.to_thread(
            item.update, actions=[model.visits.set(n)], condition=model.pk.exists()
        )

    paths = {label: _ours(db, label) for label, db in sessions.items()}
    paths.update(
        {
            RAW: {"get_item": raw_get, "put_item": raw_put, "update_item": raw_update},
            AIOBOTO3: {"get_item": boto_get, "put_item": boto_put, "update_item": boto_update},
            AIODYNAMO: {
                "get_item": dynamo_get,
                "put_item": dynamo_put,
                "update_item": dynamo_update,
            },
            PYNAMODB: {
                "get_item": pynamo_get,
                "put_item": pynamo_put,
                "update_item": pynamo_update,
            },
        }
    )
    if installed("pynamodb_async"):
        paths[PYNAMODB_ASYNC_PATH] = _pynamodb_async(table_name, endpoint)
    if installed("pydynox"):
        paths[PYDYNOX_PATH] = _pydynox(table_name, endpoint)
    return paths


def _pynamodb_async(table_name: str, endpoint: str) -> dict[str, Call]:
    """pynamodb-async: PynamoDB's model API, awaited (its README's usage)."""
    from pynamodb_async.models import Model

    model = pynamodb_model(table_name, endpoint, base=Model)
    record = _record(PYNAMODB_ASYNC_PATH)
    item = pynamodb_record(model, record)

    async def get(n: int) -> Any:
        return await model.get(record.pk, record.sk)

    async def put(n: int) -> Any:
        return await item.save()

    async def update(n: int) -> Any:
        return await item.update(actions=[model.visits.set(n)], condition=model.pk.exists())

    return {"get_item": get, "put_item": put, "update_item": update}


def _pydynox(table_name: str, endpoint: str) -> dict[str, Call]:
    """pydynox: ``Model.get`` / ``save()`` / ``update(atomic=[...], condition=...)`` (its
    README's usage). Its update asks for no item back (the model API has no ReturnValues),
    where every other path asks for the new item and parses it."""
    model = pydynox_model(table_name, endpoint)
    record = _record(PYDYNOX_PATH)
    item = pydynox_record(model, record)

    async def get(n: int) -> Any:
        return await model.get(pk=record.pk, sk=record.sk)

    async def put(n: int) -> Any:
        await item.save()

    async def update(n: int) -> Any:
        await item.update(atomic=[model.visits.set(n)], condition=model.pk.exists())

    return {"get_item": get, "put_item": put, "update_item": update}


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
    from aiodynamo.client import Client
    from aiodynamo.credentials import Key, StaticCredentials
    from aiodynamo.http.aiohttp import AIOHTTP
    from aiohttp import ClientSession
    from yarl import URL

    requests = {1: 30, CONCURRENCY: 96} if quick else {1: 400, CONCURRENCY: 800}
    runs = 2 if quick else 5
    prefix = f"pr{uuid4().hex[:8]}_"
    setup = new_session(endpoint, prefix)
    table_name = setup.table_name(Record)
    rows: list[list[Any]] = []
    goals: list[Goal] = []
    profile = ""
    reasons: list[str] = []
    missing = [
        p for p, m in ((PYNAMODB_ASYNC, "pynamodb_async"), (PYDYNOX, "pydynox")) if not installed(m)
    ]
    measured: dict[str, dict[int, dict[str, Sample]]] = {}
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(setup.close)
        await setup.tables.create(Record)
        stack.push_async_callback(setup.tables._delete_prefixed, prefix)
        sessions = {ours_label(t): new_session(endpoint, prefix, transport=t) for t in TRANSPORTS}
        for db in sessions.values():
            stack.push_async_callback(db.close)
        raw = await stack.enter_async_context(raw_client(endpoint))
        resource = await stack.enter_async_context(
            aioboto3.Session().resource(
                "dynamodb", region_name=REGION, endpoint_url=endpoint, **DUMMY_CREDENTIALS
            )
        )
        table = await resource.Table(table_name)
        http = await stack.enter_async_context(ClientSession())
        dynamo = Client(
            AIOHTTP(http),
            StaticCredentials(
                Key(
                    DUMMY_CREDENTIALS["aws_access_key_id"],
                    DUMMY_CREDENTIALS["aws_secret_access_key"],
                )
            ),
            REGION,
            endpoint=URL(endpoint),
        )
        paths = await _paths(sessions, raw, table, dynamo, table_name, endpoint)
        if PYNAMODB_ASYNC_PATH in paths:
            from pynamodb_async import connections

            await stack.enter_async_context(connections())
        worker: Worker | None = None
        if remote_available():
            worker = await stack.enter_async_context(Worker(endpoint, table_name))
            await worker.load([_record(AIODYNAMODB_PATH)])
        else:
            missing.append("aiodynamodb")
        for path in paths.values():  # every path's item exists before any update
            await path["put_item"](0)
        if worker is not None:
            await worker.run("put_item", requests=1, concurrency=1)()

        for op in OPERATIONS:
            measured[op] = {}
            for concurrency, n in requests.items():
                print(f"{op}, concurrency {concurrency}:", file=sys.stderr)
                variants = {
                    name: _runner(calls[op], n, concurrency) for name, calls in paths.items()
                }
                if worker is not None:
                    variants[AIODYNAMODB_PATH] = worker.run(op, requests=n, concurrency=concurrency)
                got = await run_interleaved(variants, runs)
                measured[op][concurrency] = got
                base, lean = got[RAW].cpu_us_each, got[LEAN].cpu_us_each
                for name, sample in got.items():
                    rows.append(
                        [
                            op,
                            "sequential" if concurrency == 1 else f"{concurrency} in flight",
                            name,
                            sample.cpu_us_each,
                            sample.per_second,
                            ratio(sample.cpu_us_each / base),
                            ratio(sample.cpu_us_each / lean),
                        ]
                    )
            ratios = {
                c: m[BOTOCORE].cpu_us_each / m[RAW].cpu_us_each for c, m in measured[op].items()
            }
            met = all(r <= 1.05 for r in ratios.values())
            before = BEFORE[op]
            goals.append(
                Goal(
                    f"{op}: ours (aiobotocore) client CPU per request <= 1.05x raw aiobotocore's "
                    "(today's figures kept)",
                    f"{ratios[1]:.2f}x sequential, {ratios[CONCURRENCY]:.2f}x with "
                    f"{CONCURRENCY} in flight (before the lean transport: {before[0]:.2f}x and "
                    f"{before[1]:.2f}x)",
                    met,
                )
            )
            if not met:
                text, why = await _profile(op, paths, requests[1])
                profile += text + "\n\n"
                reasons.append(why)
        for peer in (PYDYNOX_PATH, AIODYNAMO):
            goal, text = _lean_against(measured, peer, paths, requests[1])
            if goal is not None:
                goals.append(goal)
                if not goal.met and text:
                    profile += await text() + "\n\n"
    return Result(
        scenario="per_request",
        title="Client CPU per request: get_item, put_item, update_item",
        columns=[
            "operation",
            "mode",
            "path",
            "client CPU us/request",
            "requests/s",
            "CPU vs raw",
            "CPU vs ours (lean)",
        ],
        rows=rows,
        goals=goals,
        notes=(
            f"Median of {runs} runs of {requests[1]} sequential requests and "
            f"{requests[CONCURRENCY]} requests from {CONCURRENCY} workers, after a warm-up "
            "run of each; the runs of all paths are interleaved. Client CPU is the CPU time "
            "(every thread) per request of the process that sent them: this one for all but "
            "aiodynamodb, which needs Python >= 3.12 and runs in a process of its own "
            "(its own CPU, measured there); pydynox's HTTP, signing and retries run on its "
            "Rust runtime's threads, which time.process_time() counts. requests/s is wall "
            "time, with DynamoDB Local sharing the machine's cores, so it says more about "
            "the engine than the client. The raw client, aioboto3, pynamodb-async and "
            "aiodynamodb use aiobotocore's default configuration (10 pooled connections), "
            "ours its own (64); PynamoDB runs in asyncio's default thread pool. pydynox's "
            "Model.update asks for no item back, where every other path's update returns "
            "the new item (ReturnValues ALL_NEW) and parses it."
            + "".join(f" {why}" for why in reasons)
            + missing_note(missing)
        ),
        profile=profile or None,
    )


def _lean_against(
    measured: dict[str, dict[int, dict[str, Sample]]],
    peer: str,
    paths: dict[str, dict[str, Call]],
    n: int,
) -> tuple[Goal | None, Callable[[], Awaitable[str]] | None]:
    """The goal "ours (lean) <= ``peer``" over every operation and mode, and (when it is
    missed) a profile of ours (lean) for the operation where the gap is largest."""
    if not all(peer in by_mode for m in measured.values() for by_mode in m.values()):
        return None, None
    parts, worst, worst_op = [], 0.0, OPERATIONS[0]
    for op, by_mode in measured.items():
        got = {c: m[LEAN].cpu_us_each / m[peer].cpu_us_each for c, m in by_mode.items()}
        parts.append(
            f"{op} {got[1]:.2f}x sequential, {got[CONCURRENCY]:.2f}x {CONCURRENCY} in flight"
        )
        if max(got.values()) > worst:
            worst, worst_op = max(got.values()), op
    short = "pydynox" if peer == PYDYNOX_PATH else peer
    name = "pydynox's whole-process CPU" if peer == PYDYNOX_PATH else f"{peer}'s"
    goal = Goal(
        f"ours (lean) client CPU per request <= {name}, every operation",
        "; ".join(parts),
        worst <= 1.0,
    )

    async def text() -> str:
        mine = await profiled(_runner(paths[LEAN][worst_op], n, 1))
        return (
            f"ours (lean), {worst_op}, {n} sequential requests, cProfile with a CPU-time clock "
            f"(the largest gap to {short}: {worst:.2f}x; {short}'s own work is not profiled "
            "here).\n" + profile_text(mine, 20)
        )

    return goal, text


async def _profile(op: str, paths: dict[str, dict[str, Call]], n: int) -> tuple[str, str]:
    """Ours (aiobotocore) against the raw client, ``n`` sequential requests of ``op`` each:
    the profile, and a sentence on what ours adds and saves per request."""
    ours = await profiled(_runner(paths[BOTOCORE][op], n, 1))
    raw = await profiled(_runner(paths[RAW][op], n, 1))
    mine, base = own_time_by_package(ours), own_time_by_package(raw)
    own = (mine.get("dynamorm_async", 0.0) + mine.get("dynamorm_async (generated code)", 0.0)) / n
    saved = (base.get("botocore", 0.0) - mine.get("botocore", 0.0)) / n
    why = (
        f"Why {op} misses: under the profiler, ours (aiobotocore) spends {own * 1e6:.0f} us "
        "per request in its own code (building and checking the request, converting the "
        f"model and the answer) and saves {saved * 1e6:.0f} us in botocore (no parameter "
        "validation, items passed through its serializer and parser as they are); "
        "signing, headers, the user-agent string and aiohttp cost both the same."
    )
    text = (
        f"{op}, {n} sequential requests, cProfile with a CPU-time clock.\n"
        + compare_profiles(("ours (aiobotocore)", ours), ("raw", raw))
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
