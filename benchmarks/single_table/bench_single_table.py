"""Single-table design: one Query of a partition of 10,000 mixed items, each item out as its
own class, client CPU per item.

One shared table (``Table("app", hash_key="pk", range_key="sk")``) with three entities, and
one partition holding 1 ``User``, 2,000 ``Order`` and 7,999 ``Line`` items (10,000 in all;
``--quick``: 2,000). Side by side in one run, the same Query of that partition:

- ours, on each transport (lean and aiobotocore): ``db.query(app.collection(User, Order,
  Line), {"user_id": "u1"})``, each item as its entity's class (chosen by its ``_type``
  attribute);
- raw aiobotocore, paginated with ``ExclusiveStartKey``, each item decoded by boto3's
  ``TypeDeserializer`` into a dict and turned into the same attrs class by hand: the class
  picked by ``_type``, constructed with its fields, the datetime, int and Decimal fields
  parsed as the entity declares them;
- raw aiobotocore + ``TypeDeserializer`` only (dicts, no classes): the floor.

Then the last step of each alone ("decoding only"): the same wire items, already parsed by
botocore and in memory, turned into objects by ours (``from_item(app, item)``, the same
dispatch by type attribute), by the hand-written dispatch, and into dicts.

Every path's result is checked before anything is timed: the same items, of the same
classes, with the same values as those stored. Best of 5 runs (2 with ``--quick``), the
paths interleaved, after a warm-up run of each.

    python benchmarks/single_table/bench_single_table.py [--endpoint URL] [--json PATH] [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from dataset import seed
from harness import (
    TRANSPORTS,
    Goal,
    Result,
    Sample,
    emit,
    engine,
    measure,
    median,
    new_session,
    ours_label,
    parse_args,
    profile_against,
    ratio,
    raw_client,
)

from dynamorm_async import Key, Table, from_item, to_item
from dynamorm_async._wire.item_size import item_size

USER_ID = "u1"
_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
STATUSES = ("placed", "paid", "shipped", "delivered")

app = Table("app", hash_key="pk", range_key="sk")


@app.entity(key=Key("USER#{user_id}", "PROFILE"))
@attrs.define
class User:
    user_id: str
    email: str
    name: str


@app.entity(key=Key("USER#{user_id}", "ORDER#{placed_at}#{order_id}"))
@attrs.define
class Order:
    user_id: str
    order_id: str
    placed_at: datetime
    total: int
    status: str


@app.entity(key=Key("USER#{user_id}", "LINE#{order_id}#{line:04d}"))
@attrs.define
class Line:
    user_id: str
    order_id: str
    line: int
    sku: str
    qty: int
    price: Decimal


Item = User | Order | Line

# (No "|" in these: they are Markdown table cells.)
WHOLE, DECODE = "whole Query", "decoding only"
OURS, OURS_BOTOCORE = (
    f"{ours_label(t)}: db.query(app.collection(User, Order, Line), ...) (objects)"
    for t in TRANSPORTS
)
OURS_DECODE = "dynamorm_async: from_item(app, item) (objects)"
HAND = "raw aiobotocore + TypeDeserializer + hand-written dispatch by _type (objects)"
DICTS = "raw aiobotocore + TypeDeserializer (dicts: the floor)"


def make_items(n: int) -> list[Item]:
    """The partition of user ``u1``: the user, ``n // 5`` orders and the rest lines (about
    four per order), ``n`` items in all."""
    orders_n = n // 5
    lines_n = n - 1 - orders_n
    items: list[Item] = [User(USER_ID, "u1@example.com", "Firstname Lastname")]
    items += [
        Order(
            user_id=USER_ID,
            order_id=f"o{i:05d}",
            placed_at=_START + timedelta(minutes=i, microseconds=i % 1000),
            total=1_000 + i * 37 % 50_000,
            status=STATUSES[i % 4],
        )
        for i in range(orders_n)
    ]
    items += [
        Line(
            user_id=USER_ID,
            order_id=f"o{j % orders_n:05d}",
            line=j // orders_n + 1,
            sku=f"SKU-{j * 31 % 5_000:05d}",
            qty=1 + j % 5,
            price=Decimal(100 + j % 9_900) / 100,
        )
        for j in range(lines_n)
    ]
    return items


def sort_key(item: Item) -> str:
    """The item's sort key, as its entity's template makes it (to know the Query's order)."""
    if isinstance(item, User):
        return "PROFILE"
    if isinstance(item, Order):
        return f"ORDER#{item.placed_at.isoformat(timespec='microseconds')}#{item.order_id}"
    return f"LINE#{item.order_id}#{item.line:04d}"


# -- the hand-written path -------------------------------------------------------------------


def _user(d: dict[str, Any]) -> User:
    return User(user_id=d["user_id"], email=d["email"], name=d["name"])


def _order(d: dict[str, Any]) -> Order:
    return Order(
        user_id=d["user_id"],
        order_id=d["order_id"],
        placed_at=datetime.fromisoformat(d["placed_at"]),
        total=int(d["total"]),
        status=d["status"],
    )


def _line(d: dict[str, Any]) -> Line:
    return Line(
        user_id=d["user_id"],
        order_id=d["order_id"],
        line=int(d["line"]),
        sku=d["sku"],
        qty=int(d["qty"]),
        price=d["price"],  # TypeDeserializer gives numbers as Decimal already
    )


# What a user of the raw client writes: the class by the type attribute, then its fields.
BUILDERS: dict[str, Callable[[dict[str, Any]], Item]] = {
    "User": _user,
    "Order": _order,
    "Line": _line,
}


# -- the scenario ----------------------------------------------------------------------------


@dataclass
class Sizes:
    """How many items the partition holds and how many timed runs each path gets."""

    items: int
    runs: int


async def bench(endpoint: str, sizes: Sizes) -> Result:
    from boto3.dynamodb.types import TypeDeserializer

    n = sizes.items
    prefix = f"st{uuid4().hex[:8]}_"
    db = new_session(endpoint, prefix)  # set-up: creating, seeding and dropping the table
    name = db.table_name(app.model)
    deserialize = TypeDeserializer().deserialize
    stored = make_items(n)
    expected = sorted(stored, key=sort_key)  # the Query's order
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(db.close)
        await db.tables.ensure(app)
        stack.push_async_callback(db.tables._delete_prefixed, prefix)
        await seed(db, name, lambda count, start: stored[start : start + count], n)
        raw = await stack.enter_async_context(raw_client(endpoint))
        sessions = {t: new_session(endpoint, prefix, transport=t) for t in TRANSPORTS}
        for session in sessions.values():
            stack.push_async_callback(session.close)
        query = {
            "TableName": name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"USER#{USER_ID}"}},
        }

        async def raw_pages() -> AsyncIterator[list[dict[str, Any]]]:
            params = dict(query)
            while True:
                page = await raw.query(**params)
                yield page["Items"]
                if "LastEvaluatedKey" not in page:
                    return
                params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        def by_hand(items: list[dict[str, Any]], out: list[Any]) -> None:
            builders = BUILDERS
            for item in items:
                d = {k: deserialize(v) for k, v in item.items()}
                build = builders.get(d["_type"])
                if build is not None:
                    out.append(build(d))

        def as_dicts(items: list[dict[str, Any]], out: list[Any]) -> None:
            out += [{k: deserialize(v) for k, v in item.items()} for item in items]

        # (a), (b), (c): the whole Query, request to objects (or dicts).
        def collection_query(session: Any) -> Read:
            async def run() -> list[Any]:
                collection = app.collection(User, Order, Line)
                return [it async for it in session.query(collection, {"user_id": USER_ID})]

            return run

        ours = collection_query(sessions["lean"])

        async def hand() -> list[Any]:
            out: list[Any] = []
            async for items in raw_pages():
                by_hand(items, out)
            return out

        async def dicts() -> list[Any]:
            out: list[Any] = []
            async for items in raw_pages():
                as_dicts(items, out)
            return out

        # The same per-item work alone, on the wire items already in memory (as botocore
        # parsed them): ours through from_item(app, item), the dispatch by type attribute.
        wire: list[dict[str, Any]] = []
        pages = 0
        async for items in raw_pages():
            wire += items
            pages += 1

        async def ours_decode() -> list[Any]:
            return [from_item(app, item) for item in wire]

        async def hand_decode() -> list[Any]:
            out: list[Any] = []
            by_hand(wire, out)
            return out

        async def dicts_decode() -> list[Any]:
            out: list[Any] = []
            as_dicts(wire, out)
            return out

        stages: dict[str, dict[str, Read]] = {
            WHOLE: {
                OURS: ours,
                OURS_BOTOCORE: collection_query(sessions["aiobotocore"]),
                HAND: hand,
                DICTS: dicts,
            },
            DECODE: {OURS_DECODE: ours_decode, HAND: hand_decode, DICTS: dicts_decode},
        }
        # Check before timing: every path gives the items stored, in sort key order.
        problems: list[str] = []
        for stage, reads in stages.items():
            for path, read in reads.items():
                got = await read()
                want = expected if path != DICTS else [as_stored(it) for it in expected]
                problems += [f"{stage}, {path}: {p}" for p in differences(got, want)]
        for problem in problems:
            print(f"  WRONG: {problem}", file=sys.stderr)

        samples: dict[str, dict[str, list[Sample]]] = {}
        for stage, reads in stages.items():
            print(f"{stage}, {n:,} items:", file=sys.stderr)
            samples[stage] = await best_of(reads, sizes.runs)
        profile = await profile_against(
            ("ours (lean)", ours), ("hand-written", hand), f"Collection query of {n:,} items"
        )
    return result(samples, problems, stored, sizes, pages, profile)


Read = Callable[[], Awaitable[list[Any]]]


async def best_of(reads: dict[str, Read], runs: int) -> dict[str, list[Sample]]:
    """A warm-up run of each path, then ``runs`` runs of each, interleaved (a, b, c, a, ...);
    every sample (wall and process CPU of the whole iteration)."""

    def counted(read: Read) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            return len(await read())

        return run

    timed = {path: counted(read) for path, read in reads.items()}
    for run in timed.values():
        await run()
    samples: dict[str, list[Sample]] = {path: [] for path in reads}
    for r in range(runs):
        for path, run in timed.items():
            sample = await measure(run)
            samples[path].append(sample)
            print(
                f"  [{r + 1}/{runs}] {path}: {sample.wall:.3f} s, "
                f"{sample.cpu_us_each:.2f} us CPU/item",
                file=sys.stderr,
            )
    return samples


def as_stored(item: Item) -> dict[str, Any]:
    """``item`` as TypeDeserializer gives it back: its fields, the keys and the type, the
    datetime as its stored text (numbers compare equal as Decimal)."""
    d = {
        **attrs.asdict(item),
        "_type": type(item).__name__,
        "pk": f"USER#{USER_ID}",
        "sk": sort_key(item),
    }
    if "placed_at" in d:
        d["placed_at"] = d["placed_at"].isoformat(timespec="microseconds")
    return d


def differences(got: list[Any], want: list[Any]) -> list[str]:
    """How ``got`` differs from ``want``: the count of each class (or of each ``_type`` for
    dicts), and the items that differ, position by position."""

    def kind(it: Any) -> str:
        return str(it.get("_type")) if isinstance(it, dict) else type(it).__name__

    problems: list[str] = []
    have, need = Counter(map(kind, got)), Counter(map(kind, want))
    if have != need:
        problems.append(f"{dict(have)} items, expected {dict(need)}")
    wrong = sum(a != b for a, b in zip(got, want, strict=False))
    if wrong:
        problems.append(f"{wrong} of {len(want):,} items differ from those stored")
    return problems


def result(
    samples: dict[str, dict[str, list[Sample]]],
    problems: list[str],
    stored: list[Item],
    sizes: Sizes,
    pages: int,
    profile: str,
) -> Result:
    n = sizes.items
    kinds = Counter(type(it).__name__ for it in stored)
    by_kind: dict[str, list[int]] = {}
    for it in stored:
        by_kind.setdefault(type(it).__name__, []).append(item_size(to_item(it)))
    size_text = ", ".join(f"{kind} {sum(got) / len(got):.0f}" for kind, got in by_kind.items())
    total = sum(sum(got) for got in by_kind.values())
    rows: list[list[Any]] = []
    best: dict[str, dict[str, float]] = {}
    for stage, got in samples.items():
        cpu = {p: min(s.cpu for s in runs) / n * 1e6 for p, runs in got.items()}
        best[stage] = cpu
        ours = cpu[next(iter(got))]
        for path, runs in got.items():
            counts = sorted({s.count for s in runs})
            rows.append(
                [
                    stage,
                    path,
                    ", ".join(f"{c:,}" for c in counts),
                    cpu[path],
                    median([s.cpu for s in runs]) / n * 1e6,
                    ratio(cpu[path] / ours),
                    n / min(s.wall for s in runs),
                ]
            )
    goals = [
        Goal(
            "every path returns the items stored (checked before timing: the same number of "
            "each class, the same values, in sort key order)",
            "all paths equal" if not problems else "; ".join(problems),
            not problems,
        )
    ]
    whole, decode = best[WHOLE], best[DECODE]
    spread = max(max(s.cpu for s in samples[WHOLE][p]) / n * 1e6 - whole[p] for p in (HAND, DICTS))
    notes = (
        f"One partition of {n:,} items: {kinds['User']:,} User, {kinds['Order']:,} Order, "
        f"{kinds['Line']:,} Line (bytes per item as DynamoDB counts them, on average: "
        f"{size_text}; keys and the _type attribute included; {total:,} bytes in all), read "
        f"by one Query (no Limit: {pages} page{'s' if pages != 1 else ''} of at most "
        "DynamoDB's 1 MB) in sort key order: Lines, then Orders, then the User. "
        f"Best of {sizes.runs} runs per path (the lowest CPU and the lowest wall time, each "
        "on its own; the median CPU is given too), the paths of each part interleaved, "
        "after a checked run and a warm-up run of each. Client CPU is this process's "
        "time.process_time() over the whole iteration divided by the items; items/s is wall "
        "time, with DynamoDB Local on the same 2 cores. 'whole Query' is the request, the "
        "HTTP exchange, parsing the response and turning every item into an object (or a "
        "dict); 'decoding only' is the last step alone, on the wire items botocore parsed, "
        "already in memory (ours through from_item(app, item), the same dispatch by type "
        "attribute as the collection query's). "
        f"The whole Query costs ours {whole[OURS]:.2f} us of client CPU per item on the lean "
        f"transport, {whole[OURS_BOTOCORE]:.2f} us on aiobotocore's, the raw "
        f"client with a hand-written dispatch {whole[HAND]:.2f} us "
        f"({whole[HAND] / whole[OURS]:.2f}x ours) and the raw client's dicts alone "
        f"{whole[DICTS]:.2f} us ({whole[DICTS] / whole[OURS]:.2f}x). Decoding alone: ours "
        f"{decode[OURS_DECODE]:.2f} us, by hand {decode[HAND]:.2f} us, dicts "
        f"{decode[DICTS]:.2f} us: building the objects by hand adds "
        f"{decode[HAND] - decode[DICTS]:.2f} us per item to TypeDeserializer's dicts; in "
        f"the whole Query the two raw paths are {whole[HAND] - whole[DICTS]:.2f} us apart, "
        f"while the slowest run of either is up to {spread:.2f} us above its best. The rest "
        f"of the raw client's CPU per item, {whole[DICTS] - decode[DICTS]:.2f} us, is the "
        "request and botocore's parsing of the response, where ours spends about "
        f"{whole[OURS] - decode[OURS_DECODE]:.2f} us on its own request and parsing (lean "
        "transport). 'CPU vs ours' compares with ours on the lean transport."
    )
    return Result(
        scenario="single_table",
        title=f"Single-table design: a collection query of {n:,} mixed items",
        columns=[
            "measured",
            "path",
            "items",
            "client CPU us/item (best)",
            "client CPU us/item (median)",
            "CPU vs ours",
            "items/s (best)",
        ],
        rows=rows,
        goals=goals,
        notes=notes,
        profile=profile,
    )


def main() -> None:
    options = parse_args(__doc__)
    sizes = Sizes(2_000, 2) if options.quick else Sizes(10_000, 5)
    with engine(options.endpoint) as endpoint:
        result_ = asyncio.run(bench(endpoint, sizes))
    emit(result_, options.json)


if __name__ == "__main__":
    main()
