"""Copies on live tables: no lost update while the application writes, capacity budgets,
checkpoints after every page, and re-keying in place that survives a kill."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_asyncio
from killing import kill_and_resume
from live_rekey_worker import MARK, Event, rekey

from dynamorm_async import (
    ConditionFailed,
    MigrationError,
    Provisioned,
    RequestEvent,
    Session,
    ValidationError,
    VersionConflict,
    model,
)
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, FaultProxy

HERE = Path(__file__).parent
ENGINE = os.environ.get("DYNAMORM_TEST_ENGINE", "dynamodb-local")


@model(table="accounts", hash_key="pk", range_key="sk", version="version")
@attrs.define
class Account:
    pk: str
    sk: str
    log: list[str] = attrs.Factory(list)  # what the application wrote: a token per write
    migrated: int = 0  # how many times the migration transformed it
    version: int = 0


@model(table="plain", hash_key="pk")
@attrs.define
class Plain:
    pk: str
    n: int = 0


@model(table="plain_v2", hash_key="pk")
@attrs.define
class PlainV2:
    pk: str
    n: int = 0
    copied: bool = True


@model(table="docs_v2", hash_key="pk", version="version")
@attrs.define
class DocV2:
    pk: str
    body: str
    version: int = 0


@model(table="docs", hash_key="pk", version="version")
@attrs.define
class Doc:
    pk: str
    body: str
    version: int = 0


def migrate(a: Account) -> Account:
    return attrs.evolve(a, migrated=a.migrated + 1)


def accounts(n: int) -> list[Account]:
    return [Account(f"p{i % 97}", f"s{i:05d}") for i in range(n)]


async def stored(db: Session, table: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every item of ``table`` (wire form) by key, read consistently with the raw client; a
    key met twice fails the test."""
    client = await db.client()
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = await client.scan(**kwargs)
        for item in page["Items"]:
            key = tuple(next(iter(item[n].values())) for n in ("pk", "sk") if n in item)
            assert key not in out, f"{key} met twice"
            out[key] = item
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def through(proxy: FaultProxy, prefix: str, **options: Any) -> Session:
    from botocore.config import Config

    return Session(
        region=REGION,
        endpoint_url=proxy.endpoint,
        table_prefix=prefix,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
        **DUMMY_CREDENTIALS,
        **options,
    )


@pytest_asyncio.fixture
async def proxy(dynamodb_endpoint: str) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(dynamodb_endpoint, seed=20261202) as running:
        yield running


# -- no lost update --------------------------------------------------------------------------


async def test_in_place_migration_keeps_every_write_the_application_makes_meanwhile(
    dynamodb_session: Session, proxy: FaultProxy
) -> None:
    """Application tasks keep writing random items of a 5,000-item versioned table (checked
    updates and read-modify-put, each retried on a version conflict as an application
    does) while an in-place auto_migrate runs with 8 segments through a proxy that also
    throttles some writes. Afterwards every acknowledged application write is in its item,
    every item was transformed exactly once, and every version grew."""
    db = dynamodb_session
    await db.tables.ensure(Account)
    seeded = accounts(5_000)
    await db.batch_write(put=seeded, concurrency=16)
    before = {(a.pk, a.sk): 1 for a in seeded}  # batch writes store version 1
    acknowledged: dict[tuple[str, str], list[str]] = {}
    done = asyncio.Event()
    rng = random.Random(15)

    async def application(worker: int) -> None:
        count = 0
        while not done.is_set():
            a = seeded[rng.randrange(len(seeded))]
            token = f"w{worker}-{count}"
            count += 1
            current = await db.get(Account, a.pk, a.sk, consistent=True)
            assert current is not None
            while True:
                try:
                    if count % 2:
                        await db.update(current, append={"log": [token]})
                    else:
                        current.log.append(token)
                        await db.put(current)
                    break
                except VersionConflict:
                    current = await db.get(Account, a.pk, a.sk, consistent=True)
                    assert current is not None
            acknowledged.setdefault((a.pk, a.sk), []).append(token)

    copier = through(proxy, db.table_prefix)
    proxy.fail("PutItem", times=None, probability=0.02)  # throttled now and then
    writers = [asyncio.ensure_future(application(w)) for w in range(6)]
    try:
        report = await copier.tables.auto_migrate(
            Account, transform=migrate, segments=8, page_size=100
        )
    finally:
        done.set()
        await asyncio.gather(*writers)
        await copier.close()
    assert report.complete and report.failed == 0
    assert report.conflicts > 0, "the application never met the copy: the test proves nothing"
    assert report.retried >= report.conflicts
    items = {
        k: db.converter.load_item(Account, v)
        for k, v in (await stored(db, db.table_name(Account))).items()
    }
    assert set(items) == set(before)
    lost = {
        k: sorted(set(tokens) - set(items[k].log))
        for k, tokens in acknowledged.items()
        if set(tokens) - set(items[k].log)
    }
    assert not lost, f"application writes lost: {list(lost.items())[:3]}"
    assert sum(map(len, acknowledged.values())) > 50
    twice = {k: a.migrated for k, a in items.items() if a.migrated != 1}
    assert not twice, f"not transformed exactly once: {list(twice.items())[:5]}"
    assert all(a.version > before[k] for k, a in items.items())


async def test_an_unversioned_table_is_not_rewritten_in_place_unless_offline(
    dynamodb_session: Session,
) -> None:
    """An in-place rewrite of a model without a version could undo the application's
    writes: refused, naming the two ways out, before any request; a dry run is allowed;
    offline=True rewrites it with batch writes."""
    db = dynamodb_session
    await db.tables.ensure(Plain)
    await db.batch_write(put=[Plain(f"k{i}", i) for i in range(120)])
    with pytest.raises(ValidationError, match=r"version=\.\.\..*offline=True"):
        await db.tables.copy(Plain, transform=lambda p: attrs.evolve(p, n=p.n + 1))
    with pytest.raises(ValidationError, match="offline=True"):
        await db.tables.auto_migrate(Plain, transform=lambda p: p)
    dry = await db.tables.copy(Plain, transform=lambda p: p, dry_run=True)
    assert dry.written == 120
    report = await db.tables.copy(
        Plain, transform=lambda p: attrs.evolve(p, n=p.n + 1), offline=True, segments=3
    )
    assert report.written == 120 and report.conflicts == 0
    items = await stored(db, db.table_name(Plain))
    assert {k[0]: int(v["n"]["N"]) for k, v in items.items()} == {
        f"k{i}": i + 1 for i in range(120)
    }


async def test_an_item_that_keeps_changing_fails_after_max_attempts_and_the_rest_is_copied(
    dynamodb_session: Session,
) -> None:
    """When the application changes an item every time the copy reads it again, the copy
    gives up on it after max_attempts tries: with on_error="skip" it is a failure with its
    key, left as the application wrote it, and every other item is migrated."""
    db = dynamodb_session
    await db.tables.ensure(Account)
    await db.batch_write(put=accounts(50))
    hot = ("p3", "s00003")

    async def busy(a: Account) -> Account:
        if (a.pk, a.sk) == hot:  # the application writes it between each read and write
            await db.update(Account, *hot, append={"log": ["app"]})
        return migrate(a)

    report = await db.tables.copy(
        Account, transform=busy, on_error="skip", max_attempts=3, segments=2
    )
    assert report.failed == 1 and report.conflicts == 3 and report.written == 49
    failure = report.failures[0]
    assert failure.key == {"pk": {"S": "p3"}, "sk": {"S": "s00003"}}
    assert isinstance(failure.error, ConditionFailed) and "changed 3 times" in str(failure.error)
    items = {
        k: db.converter.load_item(Account, v)
        for k, v in (await stored(db, db.table_name(Account))).items()
    }
    assert items[hot].migrated == 0 and items[hot].log == ["app"] * 3
    assert all(a.migrated == 1 for k, a in items.items() if k != hot)


async def test_skip_existing_never_overwrites_what_the_application_wrote_in_the_target(
    dynamodb_session: Session,
) -> None:
    """skip_existing=True into a table the application writes already (a dual-write
    window): an item the target holds is kept (unversioned), or overwritten only when it
    is an older version; the kept ones are counted in report.existing."""
    db = dynamodb_session
    for m in (Plain, PlainV2, Doc, DocV2):
        await db.tables.ensure(m)
    await db.batch_write(put=[Plain(f"k{i}", i) for i in range(100)])
    await db.batch_write(put=[PlainV2(f"k{i}", -1) for i in range(0, 100, 10)])
    report = await db.tables.copy(
        Plain, PlainV2, transform=lambda p: PlainV2(p.pk, p.n), skip_existing=True, segments=2
    )
    assert report.written == 90 and report.existing == 10
    target = await stored(db, db.table_name(PlainV2))
    assert {k[0]: int(v["n"]["N"]) for k, v in target.items()} == {
        f"k{i}": -1 if i % 10 == 0 else i for i in range(100)
    }

    # versioned: the source's items are at version 3; the target holds some at 2 and 5
    for d in [Doc(f"d{i}", "old") for i in range(30)]:
        for _ in range(3):
            await db.put(d)
    await db.put(DocV2("d1", "app", version=0))
    await db.put(DocV2("d1", "app", version=1))  # version 2: older than the source's 3
    newer = DocV2("d2", "app")
    for _ in range(5):
        await db.put(newer)  # version 5: newer
    report = await db.tables.copy(
        Doc, DocV2, transform=lambda d: DocV2(d.pk, d.body.upper(), d.version), skip_existing=True
    )
    assert report.written == 29 and report.existing == 1
    docs = {
        k[0]: (v["body"]["S"], int(v["version"]["N"]))
        for k, v in (await stored(db, db.table_name(DocV2))).items()
    }
    assert docs["d2"] == ("app", 5) and docs["d1"] == ("OLD", 3)
    assert all(docs[f"d{i}"] == ("OLD", 3) for i in range(30) if i != 2)


# -- re-keying in place ----------------------------------------------------------------------


async def test_re_keying_in_place_needs_a_mark_and_moves_every_item_once(
    dynamodb_session: Session,
) -> None:
    """A transform that changes keys in place is refused without mark=; with it, each
    item moves to its new key (one transaction: the new item written, the old deleted),
    the scan leaves the moved items alone when it meets them again, and a second run finds
    everything marked already. A move onto a key that holds another item fails, naming
    the key, with nothing written for it."""
    db = dynamodb_session
    await db.tables.ensure(Event)
    await db.batch_write(put=[Event(f"p{i % 7}", f"e{i}", i) for i in range(300)])
    with pytest.raises(MigrationError) as caught:
        await db.tables.copy(Event, transform=rekey)
    assert "needs mark=" in str(caught.value.__cause__)
    report = await db.tables.copy(Event, transform=rekey, mark=MARK, segments=3, page_size=40)
    assert report.complete and report.written == 300
    assert report.already == report.scanned - 300  # moved items met again by the scan
    assert_moved(await stored(db, db.table_name(Event)), range(300))
    again = await db.tables.copy(Event, transform=rekey, mark=MARK)
    assert again.written == 0 and again.already == 300

    await db.put(Event("q", "e1", 1))
    await db.put(Event("q", "x1", 1))  # both move to EVENT#000001
    report = await db.tables.copy(Event, transform=rekey, mark=MARK, on_error="skip")
    assert report.written == 1 and report.failed == 1
    error = report.failures[0].error
    assert isinstance(error, ConditionFailed) and "EVENT#000001" in str(error)
    q = {k: v for k, v in (await stored(db, db.table_name(Event))).items() if k[0] == "q"}
    assert len(q) == 2 and ("q", "EVENT#000001") in q


def assert_moved(items: dict[tuple[Any, ...], dict[str, Any]], numbers: range) -> None:
    """Every event at its new key, marked, version bumped; no old key left, none twice."""
    want = {(f"p{n % 7}", f"EVENT#{n:06d}") for n in numbers}
    old = sorted(k for k in items if not str(k[1]).startswith("EVENT#"))
    assert not old, f"{len(old)} items left at their old keys, e.g. {old[:3]}"
    assert set(items) == want, (
        f"missing {sorted(want - set(items))[:3]}, unexpected {sorted(set(items) - want)[:3]}"
    )
    for (_, sk), item in items.items():
        assert item["schema"] == {"N": "2"} and int(item["n"]["N"]) == int(sk[6:])
        assert int(item["version"]["N"]) == 2


async def test_re_keying_in_place_killed_mid_copy_resumes_exact(
    dynamodb_session: Session, dynamodb_endpoint: str, tmp_path: Path
) -> None:
    """A process re-keying 1,500 events in place (300 on moto, whose transactions copy the
    whole table) is killed (SIGKILL) at a random moment, twice; a third run resumes from the
    checkpoint its predecessor saved after each page. Every event ends at its new key
    exactly once, none at an old key."""
    db = dynamodb_session
    n = 1_500 if ENGINE == "dynamodb-local" else 300
    await db.tables.ensure(Event)
    await db.batch_write(put=[Event(f"p{i % 7}", f"e{i}", i) for i in range(n)])
    seed, killed = await kill_and_resume(
        HERE / "live_rekey_worker.py", tmp_path / "rekey.json", dynamodb_endpoint, db.table_prefix
    )
    assert killed >= 1, f"seed {seed}: the copy ended before any kill"
    assert_moved(await stored(db, db.table_name(Event)), range(n))


# -- checkpoints -----------------------------------------------------------------------------


async def test_segments_ending_together_hand_on_checkpoint_the_end_once(
    dynamodb_session: Session,
) -> None:
    """Eight one-page segments end at about the same moment while a slow callback holds the
    others back: each of them finds nothing left, and the end (None) is still handed over
    once, as the last call."""
    db = dynamodb_session
    for m in (Plain, PlainV2):
        await db.tables.ensure(m)
    await db.batch_write(put=[Plain(f"e{i:03d}", i) for i in range(40)])
    seen: list[dict[str, Any] | None] = []

    async def slow(checkpoint: dict[str, Any] | None) -> None:
        await asyncio.sleep(0.05)
        seen.append(checkpoint)

    report = await db.tables.copy(
        Plain,
        PlainV2,
        transform=lambda p: PlainV2(p.pk, p.n),
        segments=8,
        page_size=100,
        on_checkpoint=slow,
    )
    assert report.complete and report.written == 40
    assert seen[-1] is None
    assert [c for c in seen if c is None] == [None], seen


async def test_on_checkpoint_follows_every_page_and_any_of_them_resumes_the_copy(
    dynamodb_session: Session,
) -> None:
    """on_checkpoint (sync or async) is called after each page's writes with the checkpoint
    of that moment, None at the end; a copy resumed from any one of them (here: the tenth)
    completes exactly. A callback that raises stops the copy with MigrationError."""
    db = dynamodb_session
    for m in (Plain, PlainV2):
        await db.tables.ensure(m)
    await db.batch_write(put=[Plain(f"k{i:04d}", i) for i in range(600)])
    seen: list[dict[str, Any] | None] = []

    async def keep(checkpoint: dict[str, Any] | None) -> None:
        await asyncio.sleep(0)
        seen.append(json.loads(json.dumps(checkpoint)))  # what a file would hold

    def to_v2(p: Plain) -> PlainV2:
        return PlainV2(p.pk, p.n)

    report = await db.tables.copy(
        Plain, PlainV2, transform=to_v2, segments=3, page_size=25, on_checkpoint=keep
    )
    assert report.complete and seen[-1] is None
    assert len(seen) >= 600 // 25  # a page at least each
    assert all(c is not None for c in seen[:-1])
    await db.tables.delete(PlainV2)
    await db.tables.ensure(PlainV2)
    calls = 0

    def sync_keep(checkpoint: dict[str, Any] | None) -> None:
        nonlocal calls
        calls += 1

    resumed = await db.tables.copy(
        Plain, PlainV2, transform=to_v2, resume=seen[9], on_checkpoint=sync_keep
    )
    assert resumed.complete and calls >= 1
    # what was written before checkpoint 10 is not written again: copy it in too
    first = await db.tables.copy(Plain, PlainV2, transform=to_v2, skip_existing=True)
    assert first.written + resumed.written == 600 and first.existing == resumed.written
    assert len(await stored(db, db.table_name(PlainV2))) == 600

    def broken(checkpoint: dict[str, Any] | None) -> None:
        raise OSError("disk full")

    with pytest.raises(MigrationError, match="disk full") as caught:
        await db.tables.copy(
            Plain, PlainV2, transform=to_v2, segments=1, page_size=50, on_checkpoint=broken
        )
    stopped = caught.value.report  # after the page read ahead is written too
    assert stopped.checkpoint is not None and 50 <= stopped.written <= 100


# -- capacity budgets ------------------------------------------------------------------------


def windows(
    events: list[tuple[float, float]], start: float, end: float, width: float = 5.0
) -> list[float]:
    """Units per second over each ``width``-second window from ``start`` to ``end``, in
    half-second steps."""
    out = []
    t = start
    while t + width <= end:
        out.append(sum(u for at, u in events if t <= at < t + width) / width)
        t += 0.5
    return out


@pytest.mark.skipif(
    ENGINE != "dynamodb-local",
    reason="a 100-second measurement: DynamoDB Local reports the capacity it is measured by",
)
async def test_a_copy_with_max_write_units_stays_within_ten_percent_of_it(
    dynamodb_session: Session, dynamodb_endpoint: str
) -> None:
    """A copy of 20,000 items with max_write_units=200: the write units DynamoDB reports
    per second, over every 5-second window after the first, stay within 10% of 200; the
    report carries the units consumed."""
    db = dynamodb_session
    for m in (Plain, PlainV2):
        await db.tables.ensure(m)
    await db.batch_write(put=[Plain(f"k{i:05d}", i) for i in range(20_000)], concurrency=16)
    events: list[tuple[float, float]] = []

    def record(event: RequestEvent) -> None:
        if event.operation == "BatchWriteItem":
            events.append((time.monotonic(), event.write_units))

    copier = Session(
        region=REGION,
        endpoint_url=dynamodb_endpoint,
        table_prefix=db.table_prefix,
        on_request=record,
        **DUMMY_CREDENTIALS,
    )
    try:
        started = time.monotonic()
        report = await copier.tables.copy(
            Plain, PlainV2, transform=lambda p: PlainV2(p.pk, p.n), segments=8, max_write_units=200
        )
        ended = time.monotonic()
    finally:
        await copier.close()
    assert report.complete and report.written == 20_000
    assert report.write_units == pytest.approx(20_000)
    rates = windows(events, started + 5, ended)
    assert len(rates) > 100
    off = [round(r) for r in rates if not 180 <= r <= 220]
    assert not off, f"windows off the budget: {off[:10]} (of {len(rates)})"


async def test_a_throttling_burst_slows_a_budgeted_copy_and_it_still_ends_exact(
    dynamodb_session: Session, proxy: FaultProxy
) -> None:
    """A copy paced at 600 write units a second meets a burst of throttled batch writes
    (injected by the proxy once 1,000 items are written): it slows down, below 75% of its
    budget over the next two seconds, then goes on, and the target is exact."""
    db = dynamodb_session
    for m in (Plain, PlainV2):
        await db.tables.ensure(m)
    await db.batch_write(put=[Plain(f"k{i:05d}", i) for i in range(4_000)], concurrency=16)
    events: list[tuple[float, float]] = []
    burst: list[float] = []
    throttled = 0

    def record(event: RequestEvent) -> None:
        nonlocal throttled
        if event.operation == "BatchWriteItem":
            events.append((time.monotonic(), event.write_units))
            throttled += event.retries.count("throttle") + (event.error is not None)

    def injected(progress: Any) -> None:
        if not burst and progress.written >= 1_000:
            burst.append(time.monotonic())
            proxy.fail("BatchWriteItem", times=12)

    copier = through(proxy, db.table_prefix, on_request=record)
    try:
        report = await copier.tables.copy(
            Plain,
            PlainV2,
            transform=lambda p: PlainV2(p.pk, p.n),
            segments=4,
            max_write_units=600,
            on_progress=injected,
        )
    finally:
        await copier.close()
    assert report.complete and report.written == 4_000
    assert burst and throttled == 12
    after = sum(units for at, units in events if burst[0] + 0.5 <= at < burst[0] + 2.5)
    assert after / 2.0 < 0.75 * 600, f"{after / 2.0} units/s right after the burst"
    target = await stored(db, db.table_name(PlainV2))
    assert {k[0]: int(v["n"]["N"]) for k, v in target.items()} == {
        f"k{i:05d}": i for i in range(4_000)
    }


async def test_capacity_is_a_share_of_the_tables_provisioned_throughput(
    dynamodb_session: Session,
) -> None:
    """capacity=0.5 into a table provisioned with 100 write units paces the copy at 50
    write units a second; between two on-demand tables without a maximum it is refused,
    naming the options to use instead."""
    db = dynamodb_session
    await db.tables.ensure(Plain)
    await db.tables.ensure(PlainV2)
    await db.batch_write(put=[Plain(f"k{i:03d}", i) for i in range(150)])
    with pytest.raises(ValidationError, match="max_read_units=/max_write_units="):
        await db.tables.copy(Plain, PlainV2, transform=lambda p: PlainV2(p.pk, p.n), capacity=0.5)
    await db.tables.delete(PlainV2)
    await db.tables.create(PlainV2, billing=Provisioned(100, 100))
    events: list[tuple[float, float]] = []
    db._observers.add_callback(
        lambda e: (
            e.operation == "BatchWriteItem" and events.append((time.monotonic(), e.write_units))
        )
    )
    report = await db.tables.copy(
        Plain, PlainV2, transform=lambda p: PlainV2(p.pk, p.n), capacity=0.5, segments=2
    )
    assert report.written == 150 and len(events) >= 6
    # The first batch goes at once; the rest is paced, each after the one before it.
    rate = sum(u for _, u in events[1:]) / (events[-1][0] - events[0][0])
    assert rate < 50 * 1.15, f"{rate:.0f} units/s at a budget of 50"


async def test_a_session_budget_paces_batch_writes_and_scans(
    dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """Session(max_write_units=100, max_read_units=4) paces batch_write and scans on each
    table, measured by the capacity DynamoDB reports (asked for on every request)."""
    db = dynamodb_session
    await db.tables.ensure(Plain)
    events: list[tuple[float, RequestEvent]] = []
    paced = Session(
        region=REGION,
        endpoint_url=dynamodb_endpoint,
        table_prefix=db.table_prefix,
        max_write_units=100,
        max_read_units=4,
        on_request=lambda e: events.append((time.monotonic(), e)),
        **DUMMY_CREDENTIALS,
    )
    try:
        await paced.batch_write(put=[Plain(f"k{i:03d}", i) for i in range(300)])
        found = [p async for p in paced.scan(Plain, page_size=10)]
    finally:
        await paced.close()
    assert len(found) == 300
    for operation, limit in (("BatchWriteItem", 100), ("Scan", 4)):
        seen = [(at, e) for at, e in events if e.operation == operation]
        assert len(seen) >= 6 and all(e.capacity for _, e in seen)
        units = sum(e.write_units + e.read_units for _, e in seen[1:])
        rate = units / (seen[-1][0] - seen[0][0])
        assert rate < limit * 1.15, f"{operation}: {rate:.1f} units/s at a budget of {limit}"


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_write_units": 0}, "max_write_units takes units per second above 0"),
        ({"max_read_units": float("nan")}, "max_read_units takes units per second"),
        ({"max_write_units": True}, "max_write_units takes units per second"),
        ({"capacity": 0}, "capacity takes the share"),
        ({"capacity": 1.5}, "capacity takes the share"),
        ({"capacity": "half"}, "capacity takes the share"),
        ({"mark": {}}, "mark takes a dict"),
        ({"mark": {"pk": 2}}, "'pk' is a key attribute"),
        ({"mark": {"schema": 2.5}}, "must be a non-empty str or an int"),
        ({"mark": {"schema": True}}, "must be a non-empty str or an int"),
        ({"mark": {"": 1}}, "non-empty str"),
        ({"offline": True}, "offline=True is for an in-place rewrite"),
        ({"offline": "yes"}, "offline takes True or False"),
        ({"on_checkpoint": "file.json"}, "on_checkpoint takes a callable"),
    ],
)
async def test_bad_live_copy_options_are_refused_before_anything_is_written(
    dynamodb_session: Session, options: dict[str, Any], message: str
) -> None:
    db = dynamodb_session
    for m in (Plain, PlainV2):
        await db.tables.ensure(m)
    await db.put(Plain("k", 1))
    with pytest.raises(ValidationError, match=message):
        await db.tables.copy(Plain, PlainV2, transform=lambda p: PlainV2(p.pk, p.n), **options)
    assert await stored(db, db.table_name(PlainV2)) == {}


async def test_skip_existing_in_place_and_session_budgets_of_zero_are_refused(
    dynamodb_session: Session,
) -> None:
    db = dynamodb_session
    with pytest.raises(ValidationError, match="skip_existing=True is for a copy into another"):
        await db.tables.copy(Account, transform=migrate, skip_existing=True)
    with pytest.raises(ValidationError, match="max_write_units takes units per second above 0"):
        Session(max_write_units=-5)
    with pytest.raises(ValidationError, match="max_read_units"):
        Session(max_read_units=float("inf"))


async def test_a_budgeted_copy_reports_the_units_it_consumed_with_nobody_watching(
    dynamodb_session: Session,
) -> None:
    """A budget asks for the consumed capacity from the start of the copy, so its report
    carries read and write units even without a callback, a tracer or
    consumed_capacity=True."""
    db = dynamodb_session
    for m in (Plain, PlainV2):
        await db.tables.ensure(m)
    await db.batch_write(put=[Plain(f"k{i:03d}", i) for i in range(200)])
    report = await db.tables.copy(
        Plain, PlainV2, transform=lambda p: PlainV2(p.pk, p.n), max_write_units=5_000
    )
    assert report.written == 200
    assert report.write_units is not None and report.write_units > 0
    assert report.read_units is not None and report.read_units > 0


async def test_a_copy_under_a_session_budget_paces_its_conditional_writes_too(
    dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """A session with max_write_units=100 and a copy without a budget of its own: the
    copy's conditional PutItems (an in-place rewrite of a versioned model) are paced by the
    session's buckets like its scans and batch writes."""
    db = dynamodb_session
    await db.tables.ensure(Account)
    await db.batch_write(put=accounts(200))
    events: list[tuple[float, float]] = []
    paced = Session(
        region=REGION,
        endpoint_url=dynamodb_endpoint,
        table_prefix=db.table_prefix,
        max_write_units=100,
        on_request=lambda e: (
            e.operation == "PutItem" and events.append((time.monotonic(), e.write_units))
        ),
        **DUMMY_CREDENTIALS,
    )
    try:
        report = await paced.tables.copy(Account, transform=migrate, segments=2)
    finally:
        await paced.close()
    assert report.written == 200 and len(events) == 200
    rate = sum(u for _, u in events[1:]) / (events[-1][0] - events[0][0])
    assert rate < 100 * 1.15, f"{rate:.0f} write units/s at a session budget of 100"
