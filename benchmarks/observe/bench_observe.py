"""What watching costs: client CPU per GetItem and PutItem, one at a time, for a session that
nobody watches, one with a request callback, and one traced with OpenTelemetry (the SDK with
a span processor that keeps nothing), on each transport (lean and aiobotocore), against raw
aiobotocore on the same requests.

    python benchmarks/observe/bench_observe.py [--endpoint URL] [--json PATH] [--quick]

Needs the ``dev`` extra (opentelemetry-sdk). The unwatched session must cost what it cost
before watching existed: its requests are byte for byte the same (tests/test_observe.py),
and its path adds one attribute test per request.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from dataset import Record, make_records
from harness import (
    TRANSPORTS,
    Goal,
    Result,
    emit,
    engine,
    new_session,
    parse_args,
    ratio,
    raw_client,
    run_interleaved,
)

from dynamorm_async import RequestEvent, Session, to_item

PLAIN, CALLBACK, TRACED, RAW = (
    "unwatched session",
    "session with on_request",
    "session traced (OpenTelemetry)",
    "raw aiobotocore",
)


def _label(kind: str, transport: str) -> str:
    return f"{kind} ({transport})"


def _traced_session(endpoint: str, prefix: str, transport: str) -> Session:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from dynamorm_async.telemetry import instrument

    provider = TracerProvider()
    provider.add_span_processor(SpanProcessor())  # spans are made and ended, then dropped
    db = new_session(endpoint, prefix, transport=transport)
    instrument(db, tracer_provider=provider)
    return db


async def bench(endpoint: str, quick: bool) -> Result:
    requests, runs = (100, 3) if quick else (400, 5)
    prefix = f"bench_{uuid4().hex[:6]}_"
    events: list[RequestEvent] = []
    sessions: dict[str, Session] = {}
    for transport in TRANSPORTS:
        sessions[_label(PLAIN, transport)] = new_session(endpoint, prefix, transport=transport)
        sessions[_label(CALLBACK, transport)] = new_session(
            endpoint,
            prefix,
            transport=transport,
            on_request=lambda e: events.clear() if len(events) > 1000 else events.append(e),
        )
        sessions[_label(TRACED, transport)] = _traced_session(endpoint, prefix, transport)
    first = new_session(endpoint, prefix)
    await first.tables.create(Record)
    table = first.table_name(Record)
    record = make_records(1)[0]
    await first.put(record)
    item = to_item(record)
    key = {k: item[k] for k in ("pk", "sk")}
    rows: list[list[Any]] = []
    goals: list[Goal] = []
    async with raw_client(endpoint) as raw:

        def runner(call: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[int]]:
            async def run() -> int:
                for _ in range(requests):
                    await call()
                return requests

            return run

        for op in ("get", "put"):
            variants: dict[str, Callable[[], Awaitable[int]]] = {}
            for name, db in sessions.items():
                call = (
                    (lambda db=db: db.get(Record, record.pk, record.sk))
                    if op == "get"
                    else (lambda db=db: db.put(record))
                )
                variants[name] = runner(call)
            variants[RAW] = runner(
                (lambda: raw.get_item(TableName=table, Key=key))
                if op == "get"
                else (lambda: raw.put_item(TableName=table, Item=item))
            )
            samples = await run_interleaved(variants, runs)
            for name, sample in samples.items():
                transport = next((t for t in TRANSPORTS if name.endswith(f"({t})")), None)
                base = samples[_label(PLAIN, transport or "lean")].cpu_us_each
                rows.append(
                    [op, name, f"{sample.cpu_us_each:.0f}", ratio(sample.cpu_us_each / base)]
                )
            for transport in TRANSPORTS:
                base = samples[_label(PLAIN, transport)].cpu_us_each
                cost = samples[_label(CALLBACK, transport)].cpu_us_each / base - 1
                goals.append(
                    Goal(
                        f"{op}, {transport} transport: a request callback costs at most 10% "
                        "more client CPU",
                        f"{cost:+.1%}",
                        cost <= 0.10,
                    )
                )
    await first.tables.delete(Record)
    await first.close()
    for db in sessions.values():
        await db.close()
    return Result(
        "observe",
        "What watching costs (client CPU per request, sequential)",
        ["operation", "path", "us CPU each", "vs unwatched (same transport)"],
        rows,
        goals,
        notes=(
            "Watching asks DynamoDB for the consumed capacity (a larger answer to parse), "
            "records each HTTP attempt (on the aiobotocore transport through botocore's "
            "response-received event) and builds one RequestEvent per request; tracing adds "
            "a span per request. "
            "Each watched session is compared with the unwatched session of its own "
            "transport; raw aiobotocore with the lean one's."
        ),
    )


def main() -> None:
    options = parse_args(__doc__)
    with engine(options.endpoint) as endpoint:
        emit(asyncio.run(bench(endpoint, options.quick)), options.json)


if __name__ == "__main__":
    main()
