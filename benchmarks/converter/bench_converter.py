"""Converter benchmark: dump and load 10,000 typical items, side by side in one run.

Compared: dynamorm_async's ``to_item``/``from_item`` against boto3's TypeSerializer /
TypeDeserializer (the serializer alone, fed a ready dict: the strictest comparison) and
against PynamoDB's attribute serialisation when it is installed. Each figure is the median of
several interleaved runs, in microseconds per item, timed two ways: with Python's cyclic
garbage collector on, as in an application (each sample the mean of a few batches in a row, so
that every path pays for the full collections its own objects cause), and with it paused,
which leaves each library's own work. Prints a Markdown table and the goals; ``--json PATH``
also writes them, with the collector's share of each batch, for the benchmark runner;
``--profile`` prints that share too; ``--quick`` is a fast check (one run instead of three).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs

from dynamorm_async import GlobalIndex, from_item, model, to_item

N = 10_000
RUNS = 3
# With the collector on, one sample is the mean of this many batches of one path in a row,
# from a freshly collected heap: the path pays for the full collections its own objects cause
# (several per block here), and for none that another path's objects cause.
BLOCK = 10
PAUSED = 3  # batches per run with the collector paused, each a sample
TITLE = "Converter: dump and load 10,000 typical items"


@attrs.define
class Address:
    street: str
    city: str
    country: str


@model(
    table="users",
    hash_key="user_id",
    indexes=[GlobalIndex("by_email", hash_key="email")],
)
@attrs.define
class User:
    """A typical item: strings, numbers, a flag, a set, a timestamp, a nested map, a list."""

    user_id: str
    email: str
    name: str
    age: int
    balance: Decimal
    active: bool
    roles: set[str]
    created: datetime
    address: Address
    scores: list[int]
    nickname: str | None = None
    visits: int = 0


def make_users(n: int) -> list[User]:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return [
        User(
            user_id=f"user-{i:08d}",
            email=f"user{i}@example.com",
            name=f"User Number {i}",
            age=20 + i % 60,
            balance=Decimal(i) / 100,
            active=i % 3 != 0,
            roles={"reader", "writer"} if i % 2 else {"reader"},
            created=start + timedelta(seconds=i, microseconds=i),
            address=Address(f"{i} Main Street", "Springfield", "US"),
            scores=[i % 7, i % 11, i % 13],
            nickname=None if i % 4 else f"nick{i}",
            visits=i,
        )
        for i in range(n)
    ]


def as_plain(user: User) -> dict[str, Any]:
    """What a boto3 user hands to TypeSerializer: a dict of boto3-accepted values."""
    plain = {
        "user_id": user.user_id,
        "email": user.email,
        "name": user.name,
        "age": user.age,
        "balance": user.balance,
        "active": user.active,
        "roles": user.roles,
        "created": user.created.isoformat(),
        "address": {
            "street": user.address.street,
            "city": user.address.city,
            "country": user.address.country,
        },
        "scores": user.scores,
        "visits": user.visits,
    }
    if user.nickname is not None:
        plain["nickname"] = user.nickname
    return plain


class Collections:
    """What the cyclic garbage collector did during a batch: seconds spent in collections of
    the young generations, and the number and seconds of full collections."""

    def __init__(self) -> None:
        self.young = self.full = 0.0
        self.full_count = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        spent = time.perf_counter() - self._started
        if info["generation"] == 2:
            self.full += spent
            self.full_count += 1
        else:
            self.young += spent


@attrs.define
class Path:
    """One row: a library's dump and load of the whole batch, and their timings."""

    name: str
    dump: Callable[[], object]
    load: Callable[[], object]
    times: dict[str, list[float]] = attrs.Factory(dict)
    collections: dict[str, list[Collections]] = attrs.Factory(dict)

    def median_us(self, what: str, n: int) -> float:
        return statistics.median(self.times[what]) / n * 1e6


def timed(fn: Callable[[], object], collector: bool) -> tuple[float, Collections]:
    """Seconds for one batch, and the collector's share. The results are freed after the
    clock stops: freeing them is not converting, and would cost every library the same."""
    collections = Collections()
    gc.callbacks.append(collections)
    if not collector:
        gc.disable()
    try:
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
        gc.callbacks.remove(collections)
    del result
    return elapsed, collections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    # One run, but of the same batches: smaller ones keep too few objects for the collector
    # to make its full collections, and would say little about the full run.
    parser.add_argument("--quick", action="store_true", help="one run instead of three")
    parser.add_argument(
        "--profile", action="store_true", help="also print the garbage collector's share"
    )
    args = parser.parse_args()
    n, runs = N, (1 if args.quick else RUNS)

    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    users = make_users(n)
    items = [to_item(u) for u in users]
    assert [from_item(User, it) for it in items] == users
    serializer, deserializer = TypeSerializer(), TypeDeserializer()
    plains = [as_plain(u) for u in users]
    boto_items = [{k: serializer.serialize(v) for k, v in p.items()} for p in plains]

    paths = [
        Path(
            "dynamorm_async to_item / from_item",
            lambda: [to_item(u) for u in users],
            lambda: [from_item(User, it) for it in items],
        ),
        Path(
            "boto3 TypeSerializer / TypeDeserializer (ready dicts)",
            lambda: [{k: serializer.serialize(v) for k, v in p.items()} for p in plains],
            lambda: [{k: deserializer.deserialize(v) for k, v in it.items()} for it in boto_items],
        ),
        Path(
            "boto3, from and to the attrs object",
            lambda: [{k: serializer.serialize(v) for k, v in as_plain(u).items()} for u in users],
            lambda: [_boto_load(deserializer, it) for it in boto_items],
        ),
    ]
    pynamo = _pynamodb_path(users)
    if pynamo is not None:
        paths.append(pynamo)

    # Interleaved, and in an order that rotates from run to run, so that a slow moment of a
    # shared machine does not land on one path only.
    for run in range(runs):
        turn = run % len(paths)
        for path in paths[turn:] + paths[:turn]:
            for what in ("dump", "load"):
                fn = path.dump if what == "dump" else path.load
                gc.collect()
                block = [timed(fn, collector=True) for _ in range(BLOCK)]
                path.times.setdefault(what, []).append(sum(t for t, _ in block) / BLOCK)
                path.collections.setdefault(what, []).extend(c for _, c in block)
                paused = [timed(fn, collector=False)[0] for _ in range(PAUSED)]
                path.times.setdefault(what + " paused", []).extend(paused)

    report = _report(paths, n, runs)
    print(_markdown(report))
    if args.profile:
        print("\n" + report["profile"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
            out.write("\n")


def _report(paths: list[Path], n: int, runs: int) -> dict[str, Any]:
    columns = ["path", "collector", "dump us/item", "load us/item", "dump vs ours", "load vs ours"]
    rows: list[list[Any]] = []
    for suffix, label in (("", "on"), (" paused", "paused")):
        ours_dump = paths[0].median_us("dump" + suffix, n)
        ours_load = paths[0].median_us("load" + suffix, n)
        for path in paths:
            dump, load = path.median_us("dump" + suffix, n), path.median_us("load" + suffix, n)
            rows.append(
                [
                    path.name,
                    label,
                    round(dump, 2),
                    round(load, 2),
                    f"{dump / ours_dump:.2f}x",
                    f"{load / ours_load:.2f}x",
                ]
            )

    def ratio(index: int, what: str, suffix: str = "") -> float | None:
        if index >= len(paths):
            return None
        return paths[index].median_us(what + suffix, n) / paths[0].median_us(what + suffix, n)

    goals = []
    for goal, measured, target in (
        ("dump >= 3x boto3 TypeSerializer", ratio(1, "dump"), 3.0),
        ("load >= 2.5x boto3 TypeDeserializer", ratio(1, "load"), 2.5),
        ("dump >= 5x PynamoDB Model.serialize", ratio(3, "dump"), 5.0),
        ("load >= 5x PynamoDB Model.deserialize", ratio(3, "load"), 5.0),
    ):
        goals.append(
            {
                "goal": goal,
                "measured": "PynamoDB not installed" if measured is None else f"{measured:.2f}x",
                "met": measured is not None and measured >= target,
            }
        )
    paused = ", ".join(
        f"{what} {r:.1f}x {against}"
        for what, index, against in (
            ("dump", 1, "boto3"),
            ("load", 1, "boto3"),
            ("dump", 3, "PynamoDB"),
            ("load", 3, "PynamoDB"),
        )
        if (r := ratio(index, what, " paused")) is not None
    )
    notes = (
        f"{n:,} items, {runs} run{'s' if runs > 1 else ''} interleaved across the libraries "
        f"(with the collector on, each run the mean of {BLOCK} batches in a row), Python "
        f"{sys.version.split()[0]}; "
        "goals are judged with the garbage collector on, whose full collections charge each "
        "library for the containers its results hold (7 per dumped item, whatever the library) "
        f"and dominate the figures. With the collector paused (each library's own work): "
        f"{paused}."
    )
    return {
        "scenario": "converter",
        "title": TITLE,
        "columns": columns,
        "rows": rows,
        "goals": goals,
        "notes": notes,
        "profile": _profile(paths, n),
    }


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"{report['title']}\n", "| " + " | ".join(report["columns"]) + " |"]
    lines.append("|---|---|" + "---:|" * (len(report["columns"]) - 2))
    for row in report["rows"]:
        cells = (f"{cell:.2f}" if isinstance(cell, float) else str(cell) for cell in row)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for goal in report["goals"]:
        lines.append(
            f"- {goal['goal']}: {goal['measured']} ({'met' if goal['met'] else 'not met'})"
        )
    lines.append("")
    lines.append(report["notes"])
    return "\n".join(lines)


def _profile(paths: list[Path], n: int) -> str:
    """Where the time goes with the collector on: the batch, the collector's share of it
    (means over every batch timed with the collector on), and the batch with it paused."""
    lines = [
        "| path | batch us/item | young collections us/item | full collections per batch "
        "| full collections us/item | paused us/item |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for path in paths:
        for what in ("dump", "load"):
            seen = path.collections[what]
            young = statistics.mean(c.young for c in seen) / n * 1e6
            count = statistics.mean(c.full_count for c in seen)
            full = statistics.mean(c.full for c in seen) / n * 1e6
            lines.append(
                f"| {path.name}: {what} | {path.median_us(what, n):.2f} | {young:.2f} "
                f"| {count:.1f} | {full:.2f} | {path.median_us(what + ' paused', n):.2f} |"
            )
    return "\n".join(lines)


def _boto_load(deserializer: Any, item: dict[str, Any]) -> User:
    plain = {k: deserializer.deserialize(v) for k, v in item.items()}
    return User(
        user_id=plain["user_id"],
        email=plain["email"],
        name=plain["name"],
        age=int(plain["age"]),
        balance=plain["balance"],
        active=plain["active"],
        roles=plain["roles"],
        created=datetime.fromisoformat(plain["created"]),
        address=Address(**plain["address"]),
        scores=[int(s) for s in plain["scores"]],
        nickname=plain.get("nickname"),
        visits=int(plain["visits"]),
    )


def _pynamodb_path(users: list[User]) -> Path | None:
    try:
        from pynamodb.attributes import (
            BooleanAttribute,
            ListAttribute,
            MapAttribute,
            NumberAttribute,
            UnicodeAttribute,
            UnicodeSetAttribute,
            UTCDateTimeAttribute,
        )
        from pynamodb.models import Model
    except ImportError:
        return None

    class PAddress(MapAttribute[str, Any]):
        street = UnicodeAttribute()
        city = UnicodeAttribute()
        country = UnicodeAttribute()

    class PUser(Model):
        class Meta:
            table_name = "users"
            region = "us-east-1"

        user_id = UnicodeAttribute(hash_key=True)
        email = UnicodeAttribute()
        name = UnicodeAttribute()
        age = NumberAttribute()
        balance = NumberAttribute()
        active = BooleanAttribute()
        roles = UnicodeSetAttribute()
        created = UTCDateTimeAttribute()
        address = PAddress()
        scores = ListAttribute(of=NumberAttribute)
        nickname = UnicodeAttribute(null=True)
        visits = NumberAttribute()

    models = [
        PUser(
            u.user_id,
            email=u.email,
            name=u.name,
            age=u.age,
            balance=float(u.balance),
            active=u.active,
            roles=u.roles,
            created=u.created,
            address=PAddress(
                street=u.address.street, city=u.address.city, country=u.address.country
            ),
            scores=u.scores,
            nickname=u.nickname,
            visits=u.visits,
        )
        for u in users
    ]
    dumped = [m.serialize() for m in models]

    def load_all() -> list[Any]:
        loaded = []
        for d in dumped:
            m = PUser()
            m.deserialize(d)
            loaded.append(m)
        return loaded

    return Path(
        "PynamoDB Model.serialize / deserialize",
        lambda: [m.serialize() for m in models],
        load_all,
    )


if __name__ == "__main__":
    main()
