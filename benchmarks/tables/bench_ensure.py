"""ensure_all of 10 tables in one concurrent pass, against 10 sequential creates.

Runs against dynalite, whose tables stay CREATING for 500 ms like real DynamoDB tables do
(for seconds there): the waiting is what concurrency saves. Both on each of the session's
transports (lean and aiobotocore). It starts a dynalite of its own
(``--endpoint`` is accepted and ignored: DynamoDB Local makes tables ACTIVE at once, which
would leave nothing to measure). Prints the medians of several runs of each, side by side,
and the ratio.

    python benchmarks/tables/bench_ensure.py [--json PATH] [--quick]
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import time
from pathlib import Path
from uuid import uuid4

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from harness import TRANSPORTS, Result, emit, new_session, parse_args, ratio

from dynamorm_async import model
from dynamorm_async.testing import LocalDynamoDB

TABLES = 10


def models() -> list[type]:
    made = []
    for i in range(TABLES):
        cls = attrs.make_class(f"Table{i}", {"pk": attrs.field(type=str)})
        made.append(model(table=f"bench_{i}", hash_key="pk")(cls))
    return made


async def one_run(endpoint: str, concurrent: bool, transport: str) -> float:
    prefix = f"r{uuid4().hex[:8]}_"
    async with new_session(endpoint, prefix, transport=transport) as db:
        tables = models()
        await db.tables.exists(tables[0])  # opening the client is not what is measured
        started = time.perf_counter()
        if concurrent:
            await db.tables.ensure_all(*tables)
        else:
            for cls in tables:
                await db.tables.create(cls)
        took = time.perf_counter() - started
        await db.tables._delete_prefixed(prefix)
    return took


def bench(quick: bool) -> Result:
    runs = 2 if quick else 5
    if shutil.which("node") is None:
        return Result(
            scenario="tables",
            title="Tables: ensure_all of 10 tables against 10 sequential creates",
            columns=["path", "seconds", "vs ensure_all"],
            rows=[],
            notes="Skipped: dynalite needs Node.js (node) on PATH.",
        )
    sequential: dict[str, list[float]] = {t: [] for t in TRANSPORTS}
    concurrent: dict[str, list[float]] = {t: [] for t in TRANSPORTS}
    with LocalDynamoDB("dynalite") as server:
        for _ in range(runs):  # interleaved, as everywhere else
            for transport in TRANSPORTS:
                sequential[transport].append(
                    asyncio.run(one_run(server.endpoint, False, transport))
                )
                concurrent[transport].append(asyncio.run(one_run(server.endpoint, True, transport)))
    rows = []
    for transport in TRANSPORTS:
        seq = statistics.median(sequential[transport])
        con = statistics.median(concurrent[transport])
        rows += [
            [
                f"dynamorm_async ({transport}) tables.ensure_all (one concurrent pass)",
                con,
                ratio(1.0),
            ],
            [
                f"dynamorm_async ({transport}) tables.create, one after the other",
                seq,
                ratio(seq / con),
            ],
        ]
    return Result(
        scenario="tables",
        title=f"Tables: ensure_all of {TABLES} tables against {TABLES} sequential creates",
        columns=["path", "seconds", "vs ensure_all (same transport)"],
        rows=rows,
        notes=(
            f"Median of {runs} runs of each, interleaved, on dynalite (tables stay CREATING "
            "for 500 ms), on each transport. Both paths do CreateTable and poll DescribeTable "
            "until ACTIVE; ensure also checks the schema. The client is opened (by a "
            "DescribeTable) before the clock starts."
        ),
    )


def main() -> None:
    options = parse_args(__doc__)
    emit(bench(options.quick), options.json)


if __name__ == "__main__":
    main()
