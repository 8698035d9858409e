"""ensure_all of 10 tables in one concurrent pass, against 10 sequential creates.

Runs against dynalite, whose tables stay CREATING for 500 ms like real DynamoDB tables do
(for seconds there): the waiting is what concurrency saves. Prints the median of 5 runs of
each, side by side, and the ratio.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from uuid import uuid4

import attrs

from dynamorm_async import Session, model
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB

RUNS = 5
TABLES = 10


def models() -> list[type]:
    made = []
    for i in range(TABLES):
        cls = attrs.make_class(f"Table{i}", {"pk": attrs.field(type=str)})
        made.append(model(table=f"bench_{i}", hash_key="pk")(cls))
    return made


async def one_run(endpoint: str, concurrent: bool) -> float:
    db = Session(
        region=REGION,
        endpoint_url=endpoint,
        table_prefix=f"r{uuid4().hex[:8]}_",
        **DUMMY_CREDENTIALS,
    )
    async with db:
        await db.client()  # opening the client is not what is measured
        tables = models()
        started = time.perf_counter()
        if concurrent:
            await db.tables.ensure_all(*tables)
        else:
            for cls in tables:
                await db.tables.create(cls)
        took = time.perf_counter() - started
        await db.tables._delete_prefixed(db.table_prefix)
    return took


def main() -> None:
    engine = sys.argv[1] if len(sys.argv) > 1 else "dynalite"
    with LocalDynamoDB(engine) as server:
        sequential = [asyncio.run(one_run(server.endpoint, False)) for _ in range(RUNS)]
        concurrent = [asyncio.run(one_run(server.endpoint, True)) for _ in range(RUNS)]
    seq, con = statistics.median(sequential), statistics.median(concurrent)
    print(f"engine: {engine}, {TABLES} tables, median of {RUNS} runs")
    print("| path | seconds | vs ensure_all |")
    print("|---|---:|---:|")
    print(f"| tables.ensure_all (one concurrent pass) | {con:.2f} | 1.00x |")
    print(f"| tables.create, one after the other | {seq:.2f} | {seq / con:.2f}x |")


if __name__ == "__main__":
    main()
