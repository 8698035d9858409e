"""Read path: Query and Scan of 10,000 items of about 200 bytes, client CPU per item.

Side by side in one run, over the same table and the same items:

- ours, on each transport (lean and aiobotocore): ``db.query(Record, pk)`` and
  ``db.scan(Record)`` (models out), and a parallel ``db.scan(Record, segments=4)`` (lean);
- raw aiobotocore with its paginator, each item turned into a dict by boto3's
  ``TypeDeserializer`` (dicts out);
- aiodynamo: ``client.query(table, HashKey(...))`` and ``client.scan(table)`` (dicts out);
- aioboto3: the resource ``Table``'s ``query`` / ``scan``, following ``LastEvaluatedKey``
  (dicts out);
- pydynox: ``Model.query(partition_key=...)`` / ``Model.scan()`` (models out; its Rust core
  sends the requests and decodes the items, on threads of its own);
- pynamodb-async: ``Model.query(pk)`` / ``Model.scan()`` (models out), on a table of the
  same items in PynamoDB's own formats (it cannot read our timestamps);
- aiodynamodb, in a Python 3.12 process of its own (``peers.py``): ``db.query(Model,
  key_condition_expression=Key("pk").eq(...))`` / ``db.scan(Model)`` (Pydantic models out).

    python benchmarks/read_path/bench_read.py [--endpoint URL] [--json PATH] [--quick]
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

from dataset import Record, make_records, pynamodb_model, seed
from harness import (
    DUMMY_CREDENTIALS,
    REGION,
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
    profile_against,
    profiled,
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

PK = "read"
LEAN, BOTOCORE = (ours_label(t, "(models)") for t in TRANSPORTS)
LEAN_4 = ours_label("lean", "segments=4 (models)")
RAW, AIODYNAMO, AIOBOTO3, PYDYNOX, PYNAMODB_ASYNC, AIODYNAMODB = (
    "raw aiobotocore + TypeDeserializer (dicts)",
    "aiodynamo (dicts)",
    "aioboto3 Table (dicts)",
    "pydynox (models; Rust threads included)",
    "pynamodb-async (models)",
    "aiodynamodb (models; own Python 3.12 process)",
)
OURS = (LEAN, LEAN_4, BOTOCORE)
# ours (aiobotocore) against raw aiobotocore + TypeDeserializer in benchmarks/RESULTS.md
# before the lean transport existed: the figures it must keep (5% allowed for noise).
BEFORE = {"Query": 0.331, "Scan": 0.335}

Run = Callable[[], Awaitable[int]]


async def bench(endpoint: str, quick: bool) -> Result:
    import aioboto3
    from aiodynamo.client import Client
    from aiodynamo.credentials import Key, StaticCredentials
    from aiodynamo.expressions import HashKey
    from aiodynamo.http.aiohttp import AIOHTTP
    from aiohttp import ClientSession
    from boto3.dynamodb.conditions import Key as BotoKey
    from boto3.dynamodb.types import TypeDeserializer
    from yarl import URL

    n = 2_000 if quick else 10_000
    runs = 2 if quick else 5
    prefix = f"rd{uuid4().hex[:8]}_"
    setup = new_session(endpoint, prefix)
    name = setup.table_name(Record)
    deserializer = TypeDeserializer()
    missing: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(setup.close)
        await setup.tables.create(Record)
        stack.push_async_callback(setup.tables._delete_prefixed, prefix)
        await seed(setup, name, lambda count, start: make_records(count, PK, start), n)
        sessions = {t: new_session(endpoint, prefix, transport=t) for t in TRANSPORTS}
        for db in sessions.values():
            stack.push_async_callback(db.close)

        raw = await stack.enter_async_context(raw_client(endpoint))
        resource = await stack.enter_async_context(
            aioboto3.Session().resource(
                "dynamodb", region_name=REGION, endpoint_url=endpoint, **DUMMY_CREDENTIALS
            )
        )
        table = await resource.Table(name)
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

        def ours_query(db: Any) -> Run:
            async def run() -> int:
                return len([r async for r in db.query(Record, PK)])

            return run

        def ours_scan(db: Any, segments: int = 1) -> Run:
            async def run() -> int:
                return len([r async for r in db.scan(Record, segments=segments)])

            return run

        async def raw_read(operation: str, **params: Any) -> int:
            items = []
            async for page in raw.get_paginator(operation).paginate(TableName=name, **params):
                items += [
                    {k: deserializer.deserialize(v) for k, v in item.items()}
                    for item in page["Items"]
                ]
            return len(items)

        async def raw_query() -> int:
            return await raw_read(
                "query",
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": PK}},
            )

        async def dynamo_query() -> int:
            return len([it async for it in dynamo.query(name, HashKey("pk", PK))])

        async def dynamo_scan() -> int:
            return len([it async for it in dynamo.scan(name)])

        async def boto_read(method: Callable[..., Awaitable[Any]], **params: Any) -> int:
            items: list[dict[str, Any]] = []
            while True:
                page = await method(**params)
                items += page["Items"]
                if "LastEvaluatedKey" not in page:
                    return len(items)
                params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        async def boto_query() -> int:
            return await boto_read(table.query, KeyConditionExpression=BotoKey("pk").eq(PK))

        async def boto_scan() -> int:
            return await boto_read(table.scan)

        variants: dict[str, dict[str, Run]] = {
            "Query": {
                LEAN: ours_query(sessions["lean"]),
                BOTOCORE: ours_query(sessions["aiobotocore"]),
                RAW: raw_query,
                AIODYNAMO: dynamo_query,
                AIOBOTO3: boto_query,
            },
            "Scan": {
                LEAN: ours_scan(sessions["lean"]),
                LEAN_4: ours_scan(sessions["lean"], 4),
                BOTOCORE: ours_scan(sessions["aiobotocore"]),
                RAW: lambda: raw_read("scan"),
                AIODYNAMO: dynamo_scan,
                AIOBOTO3: boto_scan,
            },
        }

        if installed("pydynox"):
            model = pydynox_model(name, endpoint)

            async def pydynox_query() -> int:
                return len([r async for r in model.query(partition_key=PK)])

            async def pydynox_scan() -> int:
                return len([r async for r in model.scan()])

            variants["Query"][PYDYNOX] = pydynox_query
            variants["Scan"][PYDYNOX] = pydynox_scan
        else:
            missing.append("pydynox")

        if installed("pynamodb_async"):
            from pynamodb_async import connections
            from pynamodb_async.models import Model

            await stack.enter_async_context(connections())
            # PynamoDB writes and reads its own timestamp format: a table of the same items
            # written by it (set-up, not timed).
            pynamo_name = f"{prefix}pynamodb"
            await setup.tables.create(Record, table_name=pynamo_name)
            pmodel = pynamodb_model(pynamo_name, endpoint, base=Model)
            async with pmodel.batch_write() as batch:
                for record in make_records(n, PK):
                    await batch.save(pynamodb_record(pmodel, record))

            async def pynamo_query() -> int:
                return len([r async for r in pmodel.query(PK)])

            async def pynamo_scan() -> int:
                return len([r async for r in pmodel.scan()])

            variants["Query"][PYNAMODB_ASYNC] = pynamo_query
            variants["Scan"][PYNAMODB_ASYNC] = pynamo_scan
        else:
            missing.append("pynamodb-async")

        if remote_available():
            worker = await stack.enter_async_context(Worker(endpoint, name))
            variants["Query"][AIODYNAMODB] = worker.run("query", pk=PK)
            variants["Scan"][AIODYNAMODB] = worker.run("scan")
        else:
            missing.append("aiodynamodb")

        rows: list[list[Any]] = []
        results: dict[str, dict[str, Sample]] = {}
        for operation, runs_of in variants.items():
            print(f"{operation} of {n:,} items:", file=sys.stderr)
            measured = await run_interleaved(runs_of, runs)
            results[operation] = measured
            base, lean = measured[RAW].cpu_us_each, measured[LEAN].cpu_us_each
            for path, s in measured.items():
                assert s.count == n, (operation, path, s.count)
                rows.append(
                    [
                        operation,
                        path,
                        s.cpu_us_each,
                        s.per_second,
                        ratio(s.cpu_us_each / base),
                        ratio(s.cpu_us_each / lean),
                    ]
                )
        # How far ahead ours (lean) is of each peer: the peer's CPU per item over ours.
        ahead = {
            op: {p: s.cpu_us_each / m[LEAN].cpu_us_each for p, s in m.items() if p not in OURS}
            for op, m in results.items()
        }
        closest = {op: min(a, key=lambda p: a[p]) for op, a in ahead.items()}
        to_raw = {op: m[LEAN].cpu_us_each / m[RAW].cpu_us_each for op, m in results.items()}
        kept = {op: m[BOTOCORE].cpu_us_each / m[RAW].cpu_us_each for op, m in results.items()}
        goals = [
            Goal(
                "ours (lean) stays >= 2x ahead of every peer: every other path's client CPU "
                "per item >= 2x ours",
                "; ".join(
                    f"{op}: the closest is {closest[op]} at {ahead[op][closest[op]]:.2f}x"
                    for op in results
                ),
                all(a[closest[op]] >= 2 for op, a in ahead.items()),
            ),
            Goal(
                "ours (lean): client CPU per item <= 1/3 of raw aiobotocore + "
                "TypeDeserializer's (<= 0.33x)",
                _against(results, LEAN, RAW, to_raw),
                all(r <= 1 / 3 for r in to_raw.values()),
            ),
            Goal(
                "ours (aiobotocore) keeps today's figures: its CPU per item against raw "
                "aiobotocore + TypeDeserializer's at most 5% above the ratio before the lean "
                f"transport (Query {BEFORE['Query']:.3f}x, Scan {BEFORE['Scan']:.3f}x)",
                _against(results, BOTOCORE, RAW, kept),
                all(kept[op] <= BEFORE[op] * 1.05 for op in kept),
            ),
        ]
        why, profile = "", None
        if not all(g.met for g in goals):
            lean_query = variants["Query"][LEAN]
            ours_profile = await profiled(lean_query)
            why = _why(results, goals, ours_profile, closest, ahead)
            profile = await profile_against(
                ("ours (lean)", lean_query), ("raw", raw_query), f"Query of {n:,} items"
            )
            if not goals[2].met:
                profile += "\n\n" + await profile_against(
                    ("ours (aiobotocore)", variants["Query"][BOTOCORE]),
                    ("raw", raw_query),
                    f"Query of {n:,} items",
                )
    return Result(
        scenario="read_path",
        title=f"Read path: Query and Scan of {n:,} items",
        columns=[
            "operation",
            "path",
            "client CPU us/item",
            "items/s",
            "CPU vs raw",
            "CPU vs ours (lean)",
        ],
        rows=rows,
        goals=goals,
        notes=(
            f"Median of {runs} runs after a warm-up run of each path, interleaved. All items "
            f"(about 200 bytes each) share one hash key, so the Query and the Scan return the "
            "same items, in pages of DynamoDB's 1 MB. Client CPU is the CPU time per item of "
            "the process that read them (every thread: pydynox's Rust threads count; "
            "aiodynamodb, which needs Python >= 3.12, reads in a process of its own and "
            "reports its own CPU): the request, the HTTP exchange, parsing the response and "
            "turning each item into a model (ours, pydynox, pynamodb-async, aiodynamodb) or "
            "a dict of Python values (the others); items/s is wall time, with DynamoDB "
            "Local on the same cores. pynamodb-async reads a second table holding the same "
            "items written by PynamoDB itself (its timestamp format differs from ours)."
            + why
            + missing_note(missing)
        ),
        profile=profile or None,
    )


def _against(
    results: dict[str, dict[str, Sample]], path: str, peer: str, ratios: dict[str, float]
) -> str:
    """``Query 14.2 against 14.1 us (1.007x), Scan ...``: three decimals, since a goal near
    a bound must not look met or missed by rounding."""
    return ", ".join(
        f"{op} {m[path].cpu_us_each:.2f} against {m[peer].cpu_us_each:.2f} us ({ratios[op]:.3f}x)"
        for op, m in results.items()
    )


def _why(
    results: dict[str, dict[str, Sample]],
    goals: list[Goal],
    profile: Any,
    closest: dict[str, str],
    ahead: dict[str, dict[str, float]],
) -> str:
    """Why ours (lean) misses, in the measured figures and the shares of its profile."""
    shares = own_time_by_package(profile)
    total = sum(shares.values()) or 1.0
    model = sum(
        shares.get(k, 0.0)
        for k in ("dynamorm_async (generated code)", "attrs (generated code)", "fromisoformat")
    )
    why = ""
    if not goals[0].met:
        parts = []
        for op, m in results.items():
            peer = closest[op]
            parts.append(
                f"in the {op}, {peer} needs {m[peer].cpu_us_each:.2f} us per item, ours (lean) "
                f"{m[LEAN].cpu_us_each:.2f} us ({ahead[op][peer]:.2f}x; 2x needs at most "
                f"{m[peer].cpu_us_each / 2:.2f} us)"
            )
        why += " Why ours (lean) is not 2x ahead of every peer: " + "; ".join(parts) + "."
    if not goals[0].met or not goals[1].met:
        why += (
            f" Under the profiler, ours (lean) spends {shares.get('json', 0.0) / total:.0%} of "
            f"its CPU in json.loads, {model / total:.0%} building the models and "
            f"{shares.get('dynamorm_async', 0.0) / total:.0%} in the session's own code; the "
            "rest is the requests."
        )
    return why


def main() -> None:
    options = parse_args(__doc__)
    with engine(options.endpoint) as endpoint:
        result = asyncio.run(bench(endpoint, options.quick))
    emit(result, options.json)


if __name__ == "__main__":
    main()
