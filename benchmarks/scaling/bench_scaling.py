"""Scaling of the data copy: 10k, 50k and 200k items at 4 segments, and 1, 4 and 16 segments
at 50k items, on each of the session's transports (lean and aiobotocore); wall time, client
CPU and the client's peak memory.

Three source tables (UserV1 items of about 200 bytes) are seeded once, by the fast path
(ready wire items, BatchWriteItem through the raw client, 16 requests in flight), and reused
by every run. Each copy (``db.tables.copy`` through the UserV2 transform, concurrency 8) runs
in a fresh process (``copy_once.py``), so that its peak resident memory is its own; the
configurations run interleaved and each figure is the median over the runs.

    python benchmarks/scaling/bench_scaling.py [--endpoint URL] [--json PATH] [--quick]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from dataset import UserV1, make_users, seed
from harness import TRANSPORTS, Goal, Result, emit, engine, median, new_session, parse_args

CHILD = Path(__file__).with_name("copy_once.py")
FIXED_SEGMENTS = 4
SEGMENT_COUNTS = (1, 4, 16)


@dataclass(frozen=True)
class Config:
    """One copy configuration: which table (how many items), how many segments, and the
    session's transport."""

    items: int
    segments: int
    transport: str = "lean"


def _copy(endpoint: str, table: str, config: Config) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            str(CHILD),
            "--endpoint",
            endpoint,
            "--source",
            table,
            "--segments",
            str(config.segments),
            "--expected",
            str(config.items),
            "--transport",
            config.transport,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"copy {config} failed:\n{done.stderr[-2000:]}")
    sample: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return sample


async def _seed(endpoint: str, prefix: str, sizes: tuple[int, ...]) -> dict[int, str]:
    async with new_session(endpoint, prefix) as db:
        tables = {n: f"{prefix}users_{n}" for n in sizes}
        for table in tables.values():
            await db.tables.create(UserV1, table_name=table)
        started = time.perf_counter()
        await asyncio.gather(*(seed(db, tables[n], make_users, n) for n in sizes))
        took = time.perf_counter() - started
        print(f"seeded {sum(sizes):,} items in {took:.1f} s", file=sys.stderr)
        return tables


async def _clean(endpoint: str, prefix: str) -> None:
    async with new_session(endpoint) as db:
        await db.tables._delete_prefixed(prefix)


def bench(endpoint: str, quick: bool) -> Result:
    sizes = (5_000, 10_000, 20_000) if quick else (10_000, 50_000, 200_000)
    runs = 1 if quick else 3
    middle = sizes[1]
    configs: list[Config] = []
    for transport in TRANSPORTS:
        configs += [Config(n, FIXED_SEGMENTS, transport) for n in sizes]
        configs += [Config(middle, s, transport) for s in SEGMENT_COUNTS if s != FIXED_SEGMENTS]
    prefix = f"sg{uuid4().hex[:8]}_"
    samples: dict[Config, list[dict[str, Any]]] = {c: [] for c in configs}
    try:
        tables = asyncio.run(_seed(endpoint, prefix, sizes))
        for transport in TRANSPORTS:  # warm-up, not counted
            _copy(endpoint, tables[sizes[0]], Config(sizes[0], FIXED_SEGMENTS, transport))
        for r in range(runs):
            for config in configs:
                sample = _copy(endpoint, tables[config.items], config)
                samples[config].append(sample)
                print(
                    f"  [{r + 1}/{runs}] {config.transport}, {config.items:,} items, "
                    f"{config.segments} segments: {sample['wall']:.1f} s, "
                    f"peak {sample['rss_peak']:.0f} MiB",
                    file=sys.stderr,
                )
    finally:
        asyncio.run(_clean(endpoint, prefix))

    stats = {
        c: {k: median([s[k] for s in got]) for k in ("wall", "cpu", "rss_before", "rss_peak")}
        for c, got in samples.items()
    }
    ordered = sorted(
        configs,
        key=lambda c: (
            TRANSPORTS.index(c.transport),
            c.segments != FIXED_SEGMENTS,
            c.items,
            c.segments,
        ),
    )
    rows: list[list[Any]] = [
        [
            f"dynamorm_async ({c.transport})",
            c.items,
            c.segments,
            stats[c]["wall"],
            stats[c]["cpu"],
            stats[c]["wall"] / c.items * 1e6,
            stats[c]["cpu"] / c.items * 1e6,
            c.items / stats[c]["wall"],
            stats[c]["rss_before"],
            stats[c]["rss_peak"],
        ]
        for c in ordered
    ]
    growth = sizes[2] / sizes[0]
    goals: list[Goal] = []
    for transport in TRANSPORTS:
        small = stats[Config(sizes[0], FIXED_SEGMENTS, transport)]
        large = stats[Config(sizes[2], FIXED_SEGMENTS, transport)]
        cpu_each = (large["cpu"] / sizes[2]) / (small["cpu"] / sizes[0])
        wall_each = (large["wall"] / sizes[2]) / (small["wall"] / sizes[0])
        memory = large["rss_peak"] / small["rss_peak"]
        goals += [
            Goal(
                f"{transport} transport, linear in items: client CPU and wall time per item at "
                f"{sizes[2]:,} items within 1.25x of those at {sizes[0]:,} ({growth:.0f}x the "
                "items)",
                f"CPU per item {cpu_each:.2f}x, wall per item {wall_each:.2f}x",
                cpu_each <= 1.25 and wall_each <= 1.25,
            ),
            Goal(
                f"{transport} transport, flat memory: the client's peak RSS during the copy at "
                f"{sizes[2]:,} items within 1.15x of that at {sizes[0]:,}",
                f"{memory:.2f}x ({large['rss_peak']:.0f} MiB against {small['rss_peak']:.0f} MiB)",
                memory <= 1.15,
            ),
        ]
    return Result(
        scenario="scaling",
        title="Scaling of the data copy",
        columns=[
            "path",
            "items",
            "segments",
            "seconds",
            "client CPU s",
            "wall us/item",
            "CPU us/item",
            "items/s",
            "RSS before MiB",
            "peak RSS during copy MiB",
        ],
        rows=rows,
        goals=goals,
        notes=(
            f"Median of {runs} runs per configuration, each copy in a fresh process, the "
            "configurations (both transports) interleaved, after a warm-up copy on each "
            "transport. The copy is "
            "db.tables.copy(UserV1, UserV2, transform=upgrade, concurrency=8) into a fresh "
            "target table (created before the clock starts, dropped after). 'RSS before' is "
            "the client process's resident memory just before the copy (interpreter, "
            "libraries, an open client); 'peak RSS during copy' its highest resident memory "
            "from then to the end of the copy (the kernel's high-water mark, reset just "
            "before the copy). DynamoDB Local holds every table in its own memory, in another "
            "process. On this 2-core machine the engine and the client share the CPUs, so "
            "more segments can only overlap waiting, not add throughput."
        ),
    )


def main() -> None:
    options = parse_args(__doc__)
    with engine(options.endpoint) as endpoint:
        result = bench(endpoint, options.quick)
    emit(result, options.json)


if __name__ == "__main__":
    main()
