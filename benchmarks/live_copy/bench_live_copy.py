"""What the safe write modes of ``db.tables.copy`` cost: the same items copied five ways.

Each mode copies the same ``N`` items (20,000; ``--quick`` 2,000) of a versioned model
with ``segments=8, concurrency=8``, from a freshly seeded table, into a fresh table, on each
of the session's transports (lean and aiobotocore):

1. **batch**: into another table, BatchWriteItem of 25, unchecked (the default);
2. **skip_existing**: into another table, ``skip_existing=True``: one conditional PutItem
   per item (``attribute_not_exists(key) OR version < :v``);
3. **in place, versioned**: ``copy(Account, transform=f)`` with no target: one PutItem per
   item conditioned on the version it was scanned with, the version bumped;
4. **in place, offline**: the same with ``offline=True``: BatchWriteItem again;
5. **in place, new sort key**: ``mark={"schema": 2}`` and a transform that changes the sort
   key: one TransactWriteItems per item (put the new item, delete the old one).

Best of 3 runs (1 with ``--quick``), the modes and transports interleaved, after a warm-up
copy by each (in which the requests are counted, through the session's ``on_request``).
Every run is checked afterwards: the table must hold exactly the items expected,
transformed, with the expected versions and keys.

    python benchmarks/live_copy/bench_live_copy.py [--endpoint URL] [--json PATH] [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from uuid import uuid4

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from dataset import PLANS, seed
from harness import TRANSPORTS, Goal, Result, emit, engine, new_session, parse_args, ratio

from dynamorm_async import MigrationReport, RequestEvent, Session, model

SEGMENTS = 8
CONCURRENCY = 8
OLD_SK, NEW_SK = "profile", "profile#v2"
MARK = {"schema": 2}
_START = datetime(2026, 1, 1, tzinfo=timezone.utc)


@model(table="live_accounts", hash_key="account_id", range_key="sk", version="version")
@attrs.define
class Account:
    """A versioned item of about 220 bytes on the wire."""

    account_id: str
    sk: str
    email: str
    full_name: str
    plan: str
    age: int
    country: str
    created: datetime
    bio: str
    version: int = 0


def make_accounts(n: int, start: int = 0) -> list[Account]:
    """``n`` accounts ``acct-00000000``, ... at version 1, their emails in mixed case."""
    return [
        Account(
            account_id=f"acct-{i:08d}",
            sk=OLD_SK,
            email=f"User{i}@Example.COM",
            full_name=f"Firstname{i % 997} Lastname{i}",
            plan=PLANS[i % 3],
            age=18 + i % 70,
            country=("US", "DE", "FR", "JP", "BR")[i % 5],
            created=_START + timedelta(seconds=i),
            bio=f"Member {i}: likes tables, keys and consistent reads; " + "x" * 10,
            version=1,
        )
        for i in range(start, start + n)
    ]


def normalise(account: Account) -> Account:
    """The transform of every mode but the last: lower-case the email."""
    return attrs.evolve(account, email=account.email.lower())


def rekey(account: Account) -> Account:
    """The same, and a new sort key: the item moves."""
    return attrs.evolve(account, sk=NEW_SK, email=account.email.lower())


# -- the modes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    """One way to copy: its label, the request it writes with, and the copy call."""

    name: str
    writes: str
    in_place: bool
    options: dict[str, Any] = field(default_factory=dict)
    transform: Callable[[Account], Account] = normalise
    transport: str = "lean"

    @property
    def moves(self) -> bool:
        return self.transform is rekey


BATCH = Mode("into another table (default)", "BatchWriteItem of 25, unchecked", False)
MODES = (
    BATCH,
    Mode(
        "into another table, skip_existing=True",
        "conditional PutItem per item",
        False,
        {"skip_existing": True},
    ),
    Mode("in place, versioned", "PutItem per item on the scanned version", True),
    Mode("in place, offline=True", "BatchWriteItem of 25, unchecked", True, {"offline": True}),
    Mode(
        'in place, mark={"schema": 2}, new sort key',
        "TransactWriteItems per item (put new, delete old)",
        True,
        {"mark": MARK},
        rekey,
    ),
)
# Every mode on each transport, interleaved mode by mode.
VARIANTS = tuple(
    dataclasses.replace(mode, name=f"{mode.name} ({transport})", transport=transport)
    for mode in MODES
    for transport in TRANSPORTS
)


def batch_of(mode: Mode) -> str:
    """The name of the batch copy on ``mode``'s transport: what ``mode`` is compared with."""
    return f"{BATCH.name} ({mode.transport})"


@dataclass
class Run:
    """One timed copy: wall and client CPU seconds, the engine's CPU seconds (None when its
    process cannot be found), the copy's report, and what the check after it found wrong."""

    wall: float
    cpu: float
    engine_cpu: float | None
    report: MigrationReport
    problems: list[str]


@dataclass
class Outcome:
    """What a mode did over its runs; ``problem`` says what went wrong, if anything."""

    runs: list[Run] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)  # in the warm-up copy
    warmup_items: int = 0
    warmup_problems: list[str] = field(default_factory=list)  # what the check found wrong
    problem: str | None = None  # the copy raised: the mode is not run again


async def copy_once(db: Session, mode: Mode, source: str, target: str | None) -> MigrationReport:
    """The copy being measured."""
    kwargs: dict[str, Any] = dict(mode.options, source_table=source)
    if target is not None:
        kwargs["target_table"] = target
    return await db.tables.copy(
        Account,
        transform=mode.transform,
        segments=SEGMENTS,
        concurrency=CONCURRENCY,
        **kwargs,
    )


async def one_run(
    db: Session,
    copier: Session,
    mode: Mode,
    n: int,
    engine_cpu: Callable[[], float | None],
) -> Run:
    """Seed a fresh source table (and create a fresh target) through ``db``, copy through
    ``copier`` (a session on ``mode``'s transport), check, drop: only the copy is timed."""
    tag = uuid4().hex[:8]
    source = f"{db.table_prefix}src_{tag}"
    target = None if mode.in_place else f"{db.table_prefix}dst_{tag}"
    await db.tables.create(Account, table_name=source)
    if target is not None:
        await db.tables.create(Account, table_name=target)
    try:
        await seed(db, source, make_accounts, n)
        gc.collect()
        engine_before = engine_cpu()
        wall, cpu = time.perf_counter(), time.process_time()
        report = await copy_once(copier, mode, source, target)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        engine_after = engine_cpu()
        spent = None
        if engine_before is not None and engine_after is not None:
            spent = engine_after - engine_before
        problems = await check(db, mode, n, report, target or source)
        return Run(wall, cpu, spent, report, problems)
    finally:
        for table in (source, target):
            if table is not None:
                await db.tables.delete(Account, table_name=table)


async def check(db: Session, mode: Mode, n: int, report: MigrationReport, table: str) -> list[str]:
    """Read the whole table back: exactly ``n`` items, each transformed, at the version and
    key the mode should leave; the report complete, counting ``n`` items written and no
    failure. Returns what is wrong (nothing is worked around: it is reported)."""
    problems: list[str] = []
    if not report.complete or report.failed or report.written != n:
        problems.append(
            f"report: complete={report.complete}, stopped={report.stopped}, "
            f"written={report.written} of {n}, failed={report.failed}"
        )
    if report.conflicts or report.existing or report.retried:
        problems.append(
            f"report: conflicts={report.conflicts}, existing={report.existing}, "
            f"retried={report.retried} (nothing else writes the table: expected 0)"
        )
    version = "2" if mode.in_place else "1"
    sk = NEW_SK if mode.moves else OLD_SK
    seen: set[str] = set()
    bad: Counter[str] = Counter()
    client = await db.client()
    params: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = await client.scan(**params)
        for item in page["Items"]:
            seen.add(item["account_id"]["S"])
            if item["sk"]["S"] != sk:
                bad[f"sort key {item['sk']['S']!r}"] += 1
            if item["email"]["S"] != item["email"]["S"].lower():
                bad["email not lower-cased"] += 1
            if item.get("version") != {"N": version}:
                bad[f"version {item.get('version')} (expected {version})"] += 1
            if mode.moves and item.get("schema") != {"N": "2"}:
                bad["no mark"] += 1
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    expected = {f"acct-{i:08d}" for i in range(n)}
    if seen != expected:
        problems.append(
            f"table holds {len(seen)} distinct accounts: {len(expected - seen)} missing, "
            f"{len(seen - expected)} unexpected"
        )
    problems += [f"{count} items with {what}" for what, count in bad.items()]
    return problems


# -- the engine's CPU ------------------------------------------------------------------------


def engine_cpu_reader(endpoint: str) -> Callable[[], float | None]:
    """A function that returns the CPU seconds (user + system) DynamoDB Local has used so far:
    the engine is a child process of this one (standalone) or of run_all.py (our parent),
    found by its ``-port``. Returns None when it cannot be found or read."""
    port = str(urlparse(endpoint).port)
    parents = {str(os.getpid()), str(os.getppid())}
    pid: str | None = None
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:  # no /proc (not Linux): no engine CPU
        entries = []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = stat.rsplit(")", 1)[1].split()[1]
            if ppid not in parents:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        words = [a.decode(errors="replace") for a in argv]
        if any("DynamoDBLocal" in w for w in words) and port in words:
            pid = entry.name
            break
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float | None:
        if pid is None:
            return None
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime

    return read


# -- the scenario ----------------------------------------------------------------------------


@dataclass
class Sizes:
    """How many items each run copies, how many the warm-up copies, how many runs."""

    items: int
    warmup: int
    runs: int


async def bench(endpoint: str, sizes: Sizes) -> Result:
    n = sizes.items
    prefix = f"lc{uuid4().hex[:8]}_"
    db = new_session(endpoint, prefix)  # set-up: tables, seeding, reading back
    engine_cpu = engine_cpu_reader(endpoint)
    outcomes = {mode.name: Outcome() for mode in VARIANTS}
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(db.close)
        stack.push_async_callback(db.tables._delete_prefixed, prefix)
        copiers = {t: new_session(endpoint, prefix, transport=t) for t in TRANSPORTS}
        for copier in copiers.values():
            stack.push_async_callback(copier.close)
        # Warm-up: each mode copies a small table once (connections, generated code), through
        # a session that counts its requests (on_request; the timed runs are not watched).
        for mode in VARIANTS:
            got = outcomes[mode.name]
            got.warmup_items = sizes.warmup
            counter = new_session(
                endpoint,
                prefix,
                transport=mode.transport,
                on_request=lambda e, c=got.requests: _count(c, e),
            )
            try:
                run = await one_run(db, counter, mode, sizes.warmup, engine_cpu)
                got.warmup_problems = run.problems
                if run.problems:
                    print(f"  warm-up {mode.name}: {'; '.join(run.problems)}", file=sys.stderr)
            except Exception as exc:
                got.problem = f"warm-up: {type(exc).__name__}: {exc}"
                print(f"  warm-up {mode.name}: {got.problem}", file=sys.stderr)
            finally:
                await counter.close()
        # The runs, interleaved (a, b, c, d, e, a, b, ...); a mode that failed once is not
        # run again: its failure is the result.
        for r in range(sizes.runs):
            for mode in VARIANTS:
                got = outcomes[mode.name]
                if got.problem is not None:
                    continue
                try:
                    run = await one_run(db, copiers[mode.transport], mode, n, engine_cpu)
                except Exception as exc:
                    got.problem = f"run {r + 1}: {type(exc).__name__}: {exc}"
                    print(f"  [{r + 1}/{sizes.runs}] {mode.name}: {got.problem}", file=sys.stderr)
                    continue
                got.runs.append(run)
                print(
                    f"  [{r + 1}/{sizes.runs}] {mode.name}: {run.wall:.2f} s, "
                    f"{n / run.wall:,.0f} items/s, {run.cpu / n * 1e6:.0f} us CPU/item"
                    + "".join(f"; WRONG: {p}" for p in run.problems),
                    file=sys.stderr,
                )
    return result(outcomes, sizes)


def _count(counts: Counter[str], event: RequestEvent) -> None:
    counts[event.operation] += 1


def _best(values: list[float]) -> float:
    return min(values)


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,} to {high:,}"


def result(outcomes: dict[str, Outcome], sizes: Sizes) -> Result:
    n = sizes.items
    rows: list[list[Any]] = []
    figures: dict[str, tuple[float, float]] = {}  # mode -> (items/s, CPU s per 1,000 items)
    cores: dict[str, tuple[float, float | None]] = {}  # mode -> (client, engine) cores busy
    problems: list[str] = []
    for mode in VARIANTS:
        base = outcomes[batch_of(mode)]
        base_rate = n / _best([r.wall for r in base.runs]) if base.runs else None
        base_cpu = _best([r.cpu for r in base.runs]) if base.runs else None
        got = outcomes[mode.name]
        per_1000 = {op: c * 1000 / got.warmup_items for op, c in got.requests.items()}
        writes = {op: c for op, c in per_1000.items() if op not in ("Scan", "DescribeTable")}
        requests = ", ".join(f"{c:,.0f} {op}" for op, c in sorted(writes.items())) or "-"
        wrong = [
            f"run {i + 1}: {'; '.join(r.problems)}" for i, r in enumerate(got.runs) if r.problems
        ]
        if got.warmup_problems:
            wrong.insert(0, f"warm-up: {'; '.join(got.warmup_problems)}")
        if got.problem is not None:
            wrong.append(got.problem)
        if wrong:
            problems.append(f"{mode.name}: " + " / ".join(wrong))
        if not got.runs:
            rows.append([mode.name, mode.writes, requests, 0, "-", "FAILED"] + ["-"] * 5)
            continue
        wall = _best([r.wall for r in got.runs])
        cpu = _best([r.cpu for r in got.runs])
        engines = [r.engine_cpu for r in got.runs if r.engine_cpu is not None]
        rate = n / wall
        figures[mode.name] = (rate, cpu / n * 1000)
        fast = min(got.runs, key=lambda r: r.wall)
        engine_share = None if fast.engine_cpu is None else fast.engine_cpu / fast.wall
        cores[mode.name] = (fast.cpu / fast.wall, engine_share)
        rows.append(
            [
                mode.name,
                mode.writes,
                requests,
                len(got.runs),
                _span([r.report.written for r in got.runs]),
                wall,
                rate,
                f"{cpu / n * 1000:.3f}",
                f"{_best(engines) / n * 1000:.3f}" if engines else "n/a",
                ratio(rate / base_rate) if base_rate else "-",
                ratio(cpu / base_cpu) if base_cpu else "-",
            ]
        )
    marked = [
        f"{name}: the scan met {_span([r.report.already for r in o.runs])} of the items it "
        "had just written (they carry the mark) and left them alone (report.already)"
        for name, o in outcomes.items()
        if o.runs and any(r.report.already for r in o.runs)
    ]
    goals = [
        Goal(
            "every mode leaves exactly the items expected and reports them (each run read "
            "back: count, keys, transform, version, mark; report.written = items)",
            "all modes correct" if not problems else "; ".join(problems),
            not problems,
        )
    ]
    return Result(
        scenario="live_copy",
        title=f"Live copy: what the safe write modes cost, {n:,} items",
        columns=[
            "mode",
            "writes",
            "write requests per 1,000 items",
            "runs",
            "report.written",
            "seconds",
            "items/s",
            "client CPU s per 1,000 items",
            "engine CPU s per 1,000 items",
            "speed vs batch copy (same transport)",
            "client CPU vs batch copy (same transport)",
        ],
        rows=rows,
        goals=goals,
        notes=_notes(sizes, figures, cores, marked),
    )


def _notes(
    sizes: Sizes,
    figures: dict[str, tuple[float, float]],
    cores: dict[str, tuple[float, float | None]],
    marked: list[str],
) -> str:
    n = sizes.items
    text = (
        f"{n:,} items of about 220 bytes (a versioned model with a hash and a sort key), "
        f"segments={SEGMENTS}, concurrency={CONCURRENCY}; every run copies a freshly seeded "
        "table (seeding and table creation are not timed) and is read back afterwards. "
        f"Best of {sizes.runs} run(s) per mode (the lowest wall and the lowest CPU, each on "
        "its own), the modes interleaved, after a warm-up copy of "
        f"{sizes.warmup:,} items by each, in which the write requests were counted. Client "
        "CPU is this process's time.process_time() over the copy; engine CPU is DynamoDB "
        "Local's (user + system, from /proc) over the same copy. items/s count the items "
        "found in the table afterwards, not report.written. The engine shares the 2 cores "
        "with the client, so items/s say what one machine does, not what DynamoDB does."
    )
    parts = []
    for mode in VARIANTS:
        batch = figures.get(batch_of(mode))
        if batch is not None and mode.name in figures and mode.name != batch_of(mode):
            rate, cpu = figures[mode.name]
            parts.append(
                f"{mode.name}: {rate / batch[0]:.0%} of the batch copy's speed, "
                f"{cpu / batch[1]:.1f}x its client CPU per item"
            )
    if parts:
        text += (
            " What the safety costs here (against the batch copy on the same transport): "
            + "; ".join(parts)
            + "."
        )
        text += (
            " On AWS the cost is mostly request count: BatchWriteItem is billed per item like "
            "PutItem, so the conditional modes cost the same write units (1 per item up to "
            "1 KB) but send 25x the write requests (round trips, client CPU, connections); "
            "the transaction of a put and a delete costs 2 units per item written, 4 per "
            "item moved, 4x the batch copy's."
        )
    if cores:
        busy = [
            f"{name}: client {client:.2f}" + ("" if engine is None else f", engine {engine:.2f}")
            for name, (client, engine) in cores.items()
        ]
        text += (
            " Cores busy in the fastest run of each mode (CPU seconds over wall seconds; the "
            "client runs on one event-loop thread, so about 1.00 is all it can use): "
            + "; ".join(busy)
            + ". A mode whose client is near 1.00 is bound by the client's cost per request "
            "(building, signing and parsing each request: see per_request), not by the "
            "engine; a mode whose client is well below it spends the rest of the time waiting "
            "for the engine."
        )
    if marked:
        text += " " + "; ".join(marked) + "."
    return text


def main() -> None:
    options = parse_args(__doc__)
    sizes = Sizes(2_000, 2_000, 1) if options.quick else Sizes(20_000, 2_000, 3)
    with engine(options.endpoint) as endpoint:
        result = asyncio.run(bench(endpoint, sizes))
    emit(result, options.json)


if __name__ == "__main__":
    main()
