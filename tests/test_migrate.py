"""Data migrations against real engines: ``db.tables.copy`` and ``db.tables.auto_migrate``.

Every copy is checked exactly: the target table is read back and compared, item by item, with
the transform applied to what the source holds. Faults (partial batches, throttles, 500s,
dropped connections) come from a ``FaultProxy`` in front of the engine; stops come from a
real cancellation or deadline; shards run in real OS processes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_asyncio

from dynamorm_async import (
    BatchIncomplete,
    GlobalIndex,
    LocalIndex,
    MigrationError,
    MigrationReport,
    Progress,
    Provisioned,
    RequestFailed,
    SchemaMismatch,
    Session,
    ValidationError,
    field,
    model,
)
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, FaultProxy

# -- models and transforms -------------------------------------------------------------------


@model(
    table="users_v1",
    hash_key="org",
    range_key="user_id",
)
@attrs.define
class UserV1:
    org: str
    user_id: str
    first: str
    last: str
    age: int
    email: str
    legacy: str | None = None
    bio: str = ""


@model(table="users_v2", hash_key="org", range_key="user_id")
@attrs.define
class UserV2:
    org: str
    user_id: str
    full_name: str
    age: int
    adult: bool
    email: str = field(default="", stored_as="mail")
    bio: str = ""


def upgrade(u: UserV1) -> UserV2:
    """V1 -> V2: first/last become full_name, adult is derived, legacy is dropped and email
    is stored under another name."""
    return UserV2(
        org=u.org,
        user_id=u.user_id,
        full_name=f"{u.first} {u.last}",
        age=u.age,
        adult=u.age >= 18,
        email=u.email,
        bio=u.bio,
    )


def upgrade_raw(item: dict[str, Any]) -> dict[str, Any]:
    """``upgrade`` on raw attribute dicts."""
    out = {k: v for k, v in item.items() if k not in ("first", "last", "legacy", "email")}
    out["full_name"] = {"S": f"{item['first']['S']} {item['last']['S']}"}
    out["adult"] = {"BOOL": int(item["age"]["N"]) >= 18}
    out["mail"] = item["email"]
    return out


def users(n: int, *, bio: str = "") -> list[UserV1]:
    """``n`` distinct V1 users over 37 orgs; every third has a legacy field."""
    return [
        UserV1(
            org=f"o{i % 37}",
            user_id=f"u{i:06d}",
            first=f"F{i}",
            last=f"L{i % 101}",
            age=i % 90,
            email=f"u{i}@example.com",
            legacy="old" if i % 3 == 0 else None,
            bio=bio,
        )
        for i in range(n)
    ]


# -- helpers ---------------------------------------------------------------------------------

Key = tuple[str, str]


def key_of(item: dict[str, Any]) -> Key:
    return (item["org"]["S"], item["user_id"]["S"])


async def stored(db: Session, table: str) -> dict[Key, dict[str, Any]]:
    """Every item of ``table`` (wire form) by key: a consistent scan with the raw client."""
    client = await db.client()
    out: dict[Key, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = await client.scan(**kwargs)
        for item in page["Items"]:
            assert key_of(item) not in out
            out[key_of(item)] = item
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def expected(db: Session, source: Iterable[UserV1], transform: Callable[[Any], Any]) -> dict:
    """What the target must hold: ``transform`` of every source user, in wire form."""
    out: dict[Key, dict[str, Any]] = {}
    for u in source:
        result = transform(u)
        for v2 in [] if result is None else result if isinstance(result, list) else [result]:
            item = db.converter.dump_item(v2)
            out[key_of(item)] = item
    return out


def assert_exact(got: dict[Key, Any], want: dict[Key, Any]) -> None:
    """``got == want``, reported as missing / unexpected / different keys (not a huge diff)."""
    missing = sorted(want.keys() - got.keys())
    extra = sorted(got.keys() - want.keys())
    differ = sorted(k for k in want.keys() & got.keys() if got[k] != want[k])
    assert not (missing or extra or differ), (
        f"{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected (e.g. "
        f"{extra[:3]}), {len(differ)} different (e.g. "
        f"{[(got[k], want[k]) for k in differ[:2]]})"
    )


async def seed(db: Session, n: int, **options: Any) -> list[UserV1]:
    """Create both users tables and store ``n`` V1 users."""
    await db.tables.ensure(UserV1)
    await db.tables.ensure(UserV2)
    source = users(n, **options)
    assert await db.batch_write(put=source, concurrency=16) == n
    return source


def v2_table(db: Session, suffix: str = "") -> str:
    return db.table_name(UserV2) + suffix


@pytest_asyncio.fixture
async def proxy(dynamodb_endpoint: str) -> AsyncIterator[FaultProxy]:
    """A fault proxy in front of the engine (seeded, so a run's faults are repeatable)."""
    async with FaultProxy(dynamodb_endpoint, seed=20260417) as running:
        yield running


@pytest_asyncio.fixture
async def faulty(dynamodb_session: Session, proxy: FaultProxy) -> AsyncIterator[Session]:
    """A session on the test's tables through ``proxy``; botocore makes 3 attempts per
    request, so injected batch faults reach the copy's own retries."""
    from botocore.config import Config

    session = Session(
        region=REGION,
        endpoint_url=proxy.endpoint,
        table_prefix=dynamodb_session.table_prefix,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
        **DUMMY_CREDENTIALS,
    )
    try:
        yield session
    finally:
        await session.close()


# -- exact copies ----------------------------------------------------------------------------


async def test_twenty_thousand_users_copied_exactly_with_1_4_and_16_segments(
    dynamodb_session: Session, dynamodb_engine: str
) -> None:
    """20,000 V1 users copied into three V2 tables (1, 4 and 16 segments) through a transform
    that renames, derives and drops fields: each target equals transform(source) item by
    item, the reports count every item, and verify=True finds the counts matching. (On moto,
    which takes two minutes for this, 2,000 users.)"""
    db = dynamodb_session
    n = 2_000 if dynamodb_engine == "moto" else 20_000
    source = await seed(db, n)
    want = expected(db, source, upgrade)
    for segments in (1, 4, 16):
        target = v2_table(db, f"_s{segments}")
        await db.tables.ensure(UserV2, table_name=target)
        report = await db.tables.copy(
            UserV1, UserV2, transform=upgrade, segments=segments, target_table=target, verify=True
        )
        assert report.complete and report.stopped is None and report.checkpoint is None
        assert report.scanned == report.written == n
        assert report.skipped == report.failed == 0 and report.failures == ()
        assert [s.segment for s in report.segments] == list(range(segments))
        assert all(s.done for s in report.segments)
        assert sum(s.written for s in report.segments) == n
        assert report.verification is not None and report.verification.matches
        assert report.verification.source_items == report.verification.target_items == n
        assert_exact(await stored(db, target), want)


async def test_copy_through_thirty_percent_faults_is_exact_and_counts_retries(
    dynamodb_session: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """With about 30% of BatchWriteItem requests faulted (partial batches, throttles, 500s,
    dropped connections) and some scans throttled or failing, the copy is still exact and
    reports its retries."""
    db = dynamodb_session
    source = await seed(db, 3_000)
    proxy.split_batch_writes(0.5, probability=0.1)
    proxy.fail("BatchWriteItem", times=None, probability=0.1)  # throughput exceeded
    proxy.fail(
        "BatchWriteItem", code="InternalServerError", status=500, times=None, probability=0.08
    )
    proxy.drop("BatchWriteItem", times=None, probability=0.05)
    proxy.fail("Scan", times=None, probability=0.03)
    proxy.fail("Scan", code="InternalServerError", status=500, times=None, probability=0.02)
    report = await faulty.tables.copy(
        UserV1, UserV2, transform=upgrade, segments=8, page_size=250, concurrency=8
    )
    assert report.complete and report.written == report.scanned == 3_000
    assert report.retried > 0
    assert proxy.count("BatchWriteItem") > 120
    proxy.clear()
    assert_exact(await stored(db, v2_table(db)), expected(db, source, upgrade))


# -- stopping and resuming -------------------------------------------------------------------


async def test_a_cancelled_copy_returns_a_checkpoint_that_resumes_it_exactly(
    dynamodb_session: Session,
) -> None:
    """Cancelled at random moments, the copy task returns (not raises) a report with
    stopped="cancelled" and a JSON checkpoint; resuming from each checkpoint, cancelled again,
    until the copy completes, leaves the target exactly transform(source)."""
    db = dynamodb_session
    source = await seed(db, 4_000)
    rng = random.Random(7)
    resume: dict[str, Any] | None = None
    stops = written = 0
    for attempt in range(100):
        task = asyncio.ensure_future(
            db.tables.copy(
                UserV1, UserV2, transform=upgrade, segments=8, page_size=50, resume=resume
            )
        )
        # Later runs get longer, so that a slow engine (moto) also gets to the end.
        await asyncio.sleep(rng.uniform(0.05, 0.25) * (1 + attempt / 4))
        task.cancel()
        report = await task
        assert not task.cancelled()
        written += report.written
        # Every write the report counts has landed, and none that it does not count: the
        # writes in flight finished before the copy returned, and no page is written twice.
        assert len(await stored(db, v2_table(db))) == written
        if report.checkpoint is None:
            assert report.stopped in (None, "cancelled")
            break
        assert report.stopped == "cancelled"
        stops += 1
        resume = json.loads(json.dumps(report.checkpoint))
        assert resume == report.checkpoint
    else:
        pytest.fail("the copy never completed")
    assert stops >= 1
    assert written == 4_000
    assert_exact(await stored(db, v2_table(db)), expected(db, source, upgrade))


async def test_a_copy_cancelled_before_its_first_page_returns_its_starting_checkpoint(
    dynamodb_session: Session,
) -> None:
    """Cancelled while it still looks the tables up, the copy returns a report with
    stopped="cancelled", nothing read, and a checkpoint where it was asked to start (every
    segment from the beginning, or the resume checkpoint given); the task is not cancelled."""
    db = dynamodb_session
    await seed(db, 100)
    partial = {"v": 1, "source": db.table_name(UserV1), "total_segments": 4}
    partial["segments"] = {"1": None, "3": None}
    for resume, segments in [(None, {"0": None, "1": None, "2": None}), (partial, None)]:
        task = asyncio.ensure_future(
            db.tables.copy(UserV1, UserV2, transform=upgrade, segments=3, resume=resume)
        )
        await asyncio.sleep(0)
        task.cancel()
        report = await task
        assert not task.cancelled()
        assert report.stopped == "cancelled" and report.scanned == report.written == 0
        assert report.checkpoint is not None
        assert report.checkpoint["segments"] == (segments or partial["segments"])
    assert await stored(db, v2_table(db)) == {}


async def test_a_copy_past_its_deadline_resumes_from_its_checkpoint_exactly(
    dynamodb_session: Session,
) -> None:
    """With a deadline a fraction of a second away, the copy stops with stopped="deadline"
    and a checkpoint; resumed with short deadlines again and again, it completes exactly, and
    each run goes on where the last one stopped (no page is read twice)."""
    db = dynamodb_session
    source = await seed(db, 4_000)
    resume: dict[str, Any] | None = None
    runs: list[MigrationReport] = []
    while True:
        report = await db.tables.copy(
            UserV1,
            UserV2,
            transform=upgrade,
            segments=4,
            page_size=100,
            resume=resume,
            deadline=time.monotonic() + 0.1,
        )
        runs.append(report)
        if report.checkpoint is None:
            break
        assert report.stopped == "deadline"
        resume = json.loads(json.dumps(report.checkpoint))
        assert len(runs) < 200
    assert len(runs) >= 2
    assert sum(r.scanned for r in runs) == sum(r.written for r in runs) == 4_000
    assert_exact(await stored(db, v2_table(db)), expected(db, source, upgrade))


async def test_a_deadline_already_past_reads_nothing(dynamodb_session: Session) -> None:
    """A deadline in the past: nothing is read or written, and the checkpoint starts every
    segment at its beginning."""
    db = dynamodb_session
    await seed(db, 50)
    report = await db.tables.copy(
        UserV1, UserV2, transform=upgrade, segments=3, deadline=time.monotonic() - 1
    )
    assert report.stopped == "deadline" and report.scanned == report.written == 0
    assert report.checkpoint is not None
    assert report.checkpoint["segments"] == {"0": None, "1": None, "2": None}
    assert await stored(db, v2_table(db)) == {}


_WORKER = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from test_migrate import UserV1, UserV2, upgrade
from dynamorm_async import Session

endpoint, prefix, me = sys.argv[2], sys.argv[3], int(sys.argv[4])

async def main():
    async with Session(region="us-east-1", endpoint_url=endpoint, table_prefix=prefix,
                       aws_access_key_id="testing", aws_secret_access_key="testing") as db:
        report = await db.tables.copy(UserV1, UserV2, transform=upgrade,
                                      segments=range(4 * me, 4 * me + 4), total_segments=16)
    print(json.dumps({"written": report.written, "checkpoint": report.checkpoint,
                      "segments": [s.segment for s in report.segments if s.done]}))

asyncio.run(main())
"""


async def test_four_processes_each_copy_a_quarter_of_sixteen_segments(
    dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """Four OS processes copy segments 0-3, 4-7, 8-11 and 12-15 of a 16-way split at the
    same time: each finishes its own segments, and the union is exactly transform(source)."""
    db = dynamodb_session
    source = await seed(db, 6_000)
    here = str(Path(__file__).parent)
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _WORKER,
            here,
            dynamodb_endpoint,
            db.table_prefix,
            str(i),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONWARNINGS": "error"},
        )
        for i in range(4)
    ]
    try:
        outputs = await asyncio.wait_for(
            asyncio.gather(*(w.communicate() for w in workers)), timeout=180
        )
    finally:
        for w in workers:
            if w.returncode is None:
                w.kill()
                await w.wait()
    written = 0
    for i, (worker, (out, err)) in enumerate(zip(workers, outputs, strict=True)):
        assert worker.returncode == 0, err.decode()
        result = json.loads(out)
        assert result["checkpoint"] is None
        assert result["segments"] == list(range(4 * i, 4 * i + 4))
        written += result["written"]
    assert written == 6_000
    assert_exact(await stored(db, v2_table(db)), expected(db, source, upgrade))


# -- auto_migrate with a backup --------------------------------------------------------------


@model(
    table="members",
    hash_key="org",
    range_key="user_id",
    indexes=[
        GlobalIndex("by_email", hash_key="email", range_key="age", projection=["note"]),
        LocalIndex("by_age", range_key="age", projection="KEYS_ONLY"),
    ],
)
@attrs.define
class Member:
    org: str
    user_id: str
    email: str
    age: int
    note: str = ""


@model(table="members_v2", hash_key="org", range_key="user_id")
@attrs.define
class MemberV2:
    org: str
    user_id: str
    email: str
    age: int
    note: str = ""
    tagged: bool = True


def tag(m: Member) -> MemberV2:
    return MemberV2(m.org, m.user_id, m.email, m.age, m.note)


def members(n: int, start: int = 0) -> list[Member]:
    return [Member(f"o{i % 5}", f"m{i:05d}", f"m{i}@x", i % 70, f"n{i}") for i in range(start, n)]


async def table_names(db: Session) -> set[str]:
    client = await db.client()
    names = (await client.list_tables(Limit=100))["TableNames"]
    return {n for n in names if n.startswith(db.table_prefix)}


def shape(desc: Any) -> tuple[Any, ...]:
    """What a backup must share with its source: keys, indexes and billing."""
    return (
        desc.key_schema,
        desc.billing_mode,
        desc.provisioned,
        sorted(
            (i.name, i.key_schema, i.projection_type, sorted(i.non_key_attributes), i.provisioned)
            for i in desc.global_indexes
        ),
        sorted(
            (i.name, i.key_schema, i.projection_type, sorted(i.non_key_attributes))
            for i in desc.local_indexes
        ),
    )


async def test_auto_migrate_backs_up_into_a_table_shaped_like_the_live_source(
    dynamodb_session: Session,
) -> None:
    """The backup table is created with the source's live key schema, indexes and provisioned
    billing (as DescribeTable reports them) and holds every source item as stored; the
    target holds transform(source); the report carries the backup's report."""
    db = dynamodb_session
    await db.tables.create(Member, billing=Provisioned(read=7, write=3))
    source = members(300)
    await db.batch_write(put=source)
    backup = db.table_prefix + "members_backup"
    report = await db.tables.auto_migrate(
        Member, target=MemberV2, transform=tag, backup_table=backup, segments=4
    )
    assert report.complete and report.written == 300
    assert report.backup is not None and report.backup.complete
    assert report.backup.written == 300 and report.backup.target == backup
    source_desc = await db.tables.describe(Member)
    backup_desc = await db.tables._describe_table(backup)
    assert backup_desc is not None and backup_desc.usable
    assert shape(backup_desc) == shape(source_desc)
    assert backup_desc.provisioned == Provisioned(read=7, write=3)
    assert {i.name for i in backup_desc.global_indexes} == {"by_email"}
    assert await stored(db, backup) == await stored(db, db.table_name(Member))
    assert_exact(await stored(db, db.table_name(MemberV2)), expected(db, source, tag))


async def test_a_non_empty_backup_table_is_refused_unless_overwrite_backup(
    dynamodb_session: Session,
) -> None:
    """A second auto_migrate into the same, now non-empty, backup table raises
    ValidationError and changes nothing (backup and target keep their items, although the
    source gained one); one into a table with another key schema is refused too;
    overwrite_backup=True writes the backup over it. No table is ever deleted."""
    db = dynamodb_session
    await db.tables.create(Member)
    await db.batch_write(put=members(100))
    backup = db.table_prefix + "members_backup"
    await db.tables.auto_migrate(Member, target=MemberV2, transform=tag, backup_table=backup)
    tables = await table_names(db)
    backup_before = await stored(db, backup)
    target_before = await stored(db, db.table_name(MemberV2))
    assert len(backup_before) == len(target_before) == 100
    await db.put(Member("o9", "late", "late@x", 40))
    with pytest.raises(ValidationError, match="overwrite_backup"):
        await db.tables.auto_migrate(Member, target=MemberV2, transform=tag, backup_table=backup)
    assert await stored(db, backup) == backup_before
    assert await stored(db, db.table_name(MemberV2)) == target_before

    client = await db.client()
    others = {db.table_prefix + "backup_n": "N", db.table_prefix + "backup_hash_only": None}
    for other, org_type in others.items():  # org a number; no range key
        schema = [{"AttributeName": "org", "KeyType": "HASH"}]
        attributes = [{"AttributeName": "org", "AttributeType": org_type or "S"}]
        if org_type is not None:
            schema.append({"AttributeName": "user_id", "KeyType": "RANGE"})
            attributes.append({"AttributeName": "user_id", "AttributeType": "S"})
        await client.create_table(
            TableName=other,
            KeySchema=schema,
            AttributeDefinitions=attributes,
            BillingMode="PAY_PER_REQUEST",
        )
        with pytest.raises(ValidationError, match="key schema"):
            await db.tables.auto_migrate(
                Member, target=MemberV2, transform=tag, backup_table=other, overwrite_backup=True
            )
        assert await stored(db, db.table_name(MemberV2)) == target_before

    report = await db.tables.auto_migrate(
        Member, target=MemberV2, transform=tag, backup_table=backup, overwrite_backup=True
    )
    assert report.backup is not None and report.backup.written == 101
    assert await stored(db, backup) == await stored(db, db.table_name(Member))
    assert len(await stored(db, db.table_name(MemberV2))) == 101
    assert await table_names(db) == tables | set(others)


async def test_auto_migrate_into_an_existing_empty_backup_and_without_a_target(
    dynamodb_session: Session,
) -> None:
    """An existing, empty backup table of the right keys is used as it is; auto_migrate with
    no target and no transform only ensures the table and copies nothing; with a transform
    and no target it rewrites the table in place, after the backup."""
    db = dynamodb_session
    empty = await db.tables.auto_migrate(Member)
    assert empty.written == 0 and empty.complete and empty.backup is None
    assert await db.tables.exists(Member)
    await db.batch_write(put=members(40))
    backup = db.table_prefix + "members_bak"
    await db.tables.create(Member, table_name=backup)
    report = await db.tables.auto_migrate(
        Member,
        transform=lambda m: attrs.evolve(m, note=m.note.upper()),
        backup_table=backup,
        offline=True,  # Member has no version: nothing else writes the table meanwhile
    )
    assert report.backup is not None and report.backup.written == 40 and report.written == 40
    assert {k: v["note"]["S"] for k, v in (await stored(db, backup)).items()} == {
        (m.org, m.user_id): m.note for m in members(40)
    }
    assert {k: v["note"]["S"] for k, v in (await stored(db, db.table_name(Member))).items()} == {
        (m.org, m.user_id): m.note.upper() for m in members(40)
    }


async def test_auto_migrate_dry_run_creates_and_writes_nothing(
    dynamodb_session: Session,
) -> None:
    """auto_migrate(dry_run=True) with a backup table creates no table and writes no item:
    the backup and the target report what they would write. Tables that exist are checked
    as a real run would, and a missing source is an empty report, not a new table."""
    db = dynamodb_session
    report = await db.tables.auto_migrate(Member, target=MemberV2, transform=tag, dry_run=True)
    assert report.dry_run and report.scanned == report.written == 0
    assert await table_names(db) == set()
    await db.tables.create(Member)
    await db.batch_write(put=members(60))
    backup = db.table_prefix + "members_backup"
    report = await db.tables.auto_migrate(
        Member, target=MemberV2, transform=tag, backup_table=backup, dry_run=True
    )
    assert report.dry_run and report.written == 60
    assert report.backup is not None and report.backup.dry_run and report.backup.written == 60
    assert await table_names(db) == {db.table_name(Member)}
    in_place = await db.tables.auto_migrate(Member, transform=lambda m: m, dry_run=True)
    assert in_place.dry_run and in_place.written == 60
    # an existing target that does not fit its model is refused, as a real run would
    client = await db.client()
    await client.create_table(
        TableName=db.table_name(MemberV2),
        KeySchema=[{"AttributeName": "org", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "org", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(SchemaMismatch, match="members_v2"):
        await db.tables.auto_migrate(Member, target=MemberV2, transform=tag, dry_run=True)
    assert await stored(db, db.table_name(MemberV2)) == {}


# -- transforms and their errors -------------------------------------------------------------


async def test_a_failing_transform_raises_migration_error_after_the_writes_in_flight(
    dynamodb_session: Session,
) -> None:
    """on_error="raise": MigrationError carries the report, the failing item's key and the
    transform's exception as __cause__; the writes in flight are finished when it is raised
    (the target holds exactly report.written items, and no more later), the failing item is
    not written, and resuming from report.checkpoint with a fixed transform is exact."""
    db = dynamodb_session
    source = await seed(db, 3_000)

    def failing(u: UserV1) -> UserV2:
        if u.user_id == "u001777":
            raise KeyError("boom")
        return upgrade(u)

    with pytest.raises(MigrationError) as caught:
        await db.tables.copy(
            UserV1, UserV2, transform=failing, segments=4, page_size=100, concurrency=2
        )
    error = caught.value
    assert isinstance(error.__cause__, KeyError)
    assert error.key == {
        "org": {"S": f"o{1777 % 37}"},
        "user_id": {"S": "u001777"},
    }
    report = error.report
    assert isinstance(report, MigrationReport)
    assert report.stopped == "error" and report.checkpoint is not None
    assert 0 < report.written < 3_000
    now = await stored(db, v2_table(db))
    assert len(now) == report.written
    assert (f"o{1777 % 37}", "u001777") not in now
    await asyncio.sleep(0.3)
    assert len(await stored(db, v2_table(db))) == report.written
    resume = json.loads(json.dumps(report.checkpoint))
    again = await db.tables.copy(UserV1, UserV2, transform=upgrade, resume=resume)
    assert again.complete and again.written + report.written >= 3_000
    assert_exact(await stored(db, v2_table(db)), expected(db, source, upgrade))


async def test_on_error_skip_records_each_failure_and_copies_the_rest(
    dynamodb_session: Session,
) -> None:
    """on_error="skip": the three failing items are recorded (key and exception), counted
    as failed, and everything else is copied; the copy completes."""
    db = dynamodb_session
    source = await seed(db, 1_000)
    bad = {"u000010", "u000500", "u000999"}

    def failing(u: UserV1) -> UserV2:
        if u.user_id in bad:
            raise ValueError(u.user_id)
        return upgrade(u)

    report = await db.tables.copy(UserV1, UserV2, transform=failing, on_error="skip", segments=4)
    assert report.complete and report.failed == 3 and report.written == 997
    assert {f.key["user_id"]["S"] for f in report.failures} == bad
    assert all(isinstance(f.error, ValueError) for f in report.failures)
    assert {f.key["user_id"]["S"]: f.error.args[0] for f in report.failures} == {b: b for b in bad}
    assert_exact(
        await stored(db, v2_table(db)),
        expected(db, [u for u in source if u.user_id not in bad], upgrade),
    )


async def test_a_refused_write_stops_the_copy_with_a_checkpoint_that_resumes_it(
    dynamodb_session: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """A BatchWriteItem refused for good (AccessDeniedException, once): on_error="raise"
    stops with MigrationError (cause BatchIncomplete, with the refusal chained), a key of the
    unwritten items and a checkpoint; resuming from it is exact."""
    db = dynamodb_session
    source = await seed(db, 1_000)
    proxy.fail("BatchWriteItem", code="AccessDeniedException", times=1)
    with pytest.raises(MigrationError) as caught:
        await faulty.tables.copy(
            UserV1, UserV2, transform=upgrade, segments=2, page_size=100, concurrency=1
        )
    error = caught.value
    assert isinstance(error.__cause__, BatchIncomplete)
    assert isinstance(error.__cause__.__cause__, RequestFailed)
    assert error.__cause__.__cause__.code == "AccessDeniedException"
    assert error.report.stopped == "error" and error.report.checkpoint is not None
    assert error.key is not None and key_of(error.key) not in await stored(db, v2_table(db))
    resume = json.loads(json.dumps(error.report.checkpoint))
    report = await faulty.tables.copy(UserV1, UserV2, transform=upgrade, resume=resume)
    assert report.complete
    assert_exact(await stored(db, v2_table(db)), expected(db, source, upgrade))


async def test_with_on_error_skip_a_refused_write_is_recorded_and_the_copy_goes_on(
    dynamodb_session: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """With on_error="skip", the 25 items of a BatchWriteItem refused for good are recorded
    as failures (their keys are exactly the ones missing from the target) and everything else
    is copied."""
    db = dynamodb_session
    source = await seed(db, 1_000)
    proxy.fail("BatchWriteItem", code="AccessDeniedException", times=1)
    report = await faulty.tables.copy(
        UserV1, UserV2, transform=upgrade, segments=2, concurrency=1, on_error="skip"
    )
    assert report.complete and report.failed == 25 and report.written == 975
    assert all(isinstance(f.error, BatchIncomplete) for f in report.failures)
    got = await stored(db, v2_table(db))
    want = expected(db, source, upgrade)
    missing = {key_of(f.key) for f in report.failures}
    assert missing == want.keys() - got.keys()
    assert_exact(got, {k: v for k, v in want.items() if k not in missing})


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda u: attrs.evolve(upgrade(u), user_id=""), id="empty-range-key"),
        pytest.param(lambda u: attrs.evolve(upgrade(u), org=None), id="none-hash-key"),
        pytest.param(lambda u: {"org": u.org, "user_id": u.user_id}, id="dict-not-model"),
    ],
)
async def test_a_transform_output_without_its_key_fails_before_it_is_written(
    dynamodb_session: Session, broken: Callable[[UserV1], Any]
) -> None:
    """A model transform returning an item with an empty or None key, or not a target model,
    raises MigrationError whose cause is a ValidationError: no item is written."""
    db = dynamodb_session
    await seed(db, 200)
    with pytest.raises(MigrationError) as caught:
        await db.tables.copy(UserV1, UserV2, transform=broken, segments=2)
    assert isinstance(caught.value.__cause__, ValidationError)
    assert caught.value.report.written == 0
    assert await stored(db, v2_table(db)) == {}


async def test_a_raw_transform_output_without_its_key_fails_before_it_is_written(
    dynamodb_session: Session,
) -> None:
    """A raw transform returning an item without its range key (for one source item), or
    with an empty key, or not a dict: a ValidationError naming the key, and that item is not
    written."""
    db = dynamodb_session
    await seed(db, 200)
    source_table, target_table = db.table_name(UserV1), v2_table(db)

    def drop_key(item: dict[str, Any]) -> dict[str, Any]:
        out = upgrade_raw(item)
        if item["user_id"]["S"] == "u000042":
            del out["user_id"]
        return out

    with pytest.raises(MigrationError, match="user_id") as caught:
        await db.tables.copy(source_table, target_table, transform=drop_key, raw=True, segments=1)
    assert isinstance(caught.value.__cause__, ValidationError)
    assert "'user_id'" in str(caught.value.__cause__)
    assert caught.value.key == {"org": {"S": f"o{42 % 37}"}, "user_id": {"S": "u000042"}}
    assert caught.value.report.written == 0  # one page: the whole page is not written
    assert await stored(db, target_table) == {}

    for bad in ({"user_id": {"S": ""}}, "not a dict", [1]):

        def broken(item: dict[str, Any], bad: Any = bad) -> Any:
            if isinstance(bad, dict):
                return {**upgrade_raw(item), **bad}
            return bad

        with pytest.raises(MigrationError) as caught:
            await db.tables.copy(source_table, target_table, transform=broken, raw=True)
        assert isinstance(caught.value.__cause__, ValidationError)
        assert caught.value.report.written == 0


async def test_dry_run_writes_nothing_and_reports_what_it_would(dynamodb_session: Session) -> None:
    """dry_run reads and transforms every item, writes nothing, and reports the writes it
    would have made (items the transform drops are counted as skipped)."""
    db = dynamodb_session
    await seed(db, 600)

    def some(u: UserV1) -> UserV2 | None:
        return None if int(u.user_id[1:]) % 4 == 0 else upgrade(u)

    report = await db.tables.copy(
        UserV1, UserV2, transform=some, dry_run=True, segments=3, verify=True
    )
    assert report.dry_run and report.complete
    assert report.scanned == 600 and report.skipped == 150 and report.written == 450
    assert report.verification is None
    assert await stored(db, v2_table(db)) == {}


async def test_in_place_rewrite_keeps_keys_and_refuses_key_changes(
    dynamodb_session: Session,
) -> None:
    """copy(Model, transform=..., offline=True) with no target rewrites an unversioned
    table in place (verified: same count before and after); a transform that changes a key
    without mark= is refused with a clear error before anything is written, leaving the
    table as it was."""
    db = dynamodb_session
    source = await seed(db, 800)

    def older(u: UserV1) -> UserV1:
        return attrs.evolve(u, age=u.age + 1, legacy=None)

    report = await db.tables.copy(UserV1, transform=older, segments=4, verify=True, offline=True)
    assert report.complete and report.written == 800 and report.target == db.table_name(UserV1)
    assert report.verification is not None and report.verification.matches
    assert report.verification.source_items == report.verification.target_items == 800
    rewritten = await stored(db, db.table_name(UserV1))
    assert_exact(rewritten, expected(db, source, older))

    with pytest.raises(MigrationError) as caught:
        await db.tables.copy(
            UserV1,
            transform=lambda u: attrs.evolve(u, user_id=u.user_id + "x"),
            segments=4,
            offline=True,
        )
    cause = caught.value.__cause__
    assert isinstance(cause, ValidationError) and "changes keys needs mark=" in str(cause)
    assert caught.value.report.written == 0
    assert await stored(db, db.table_name(UserV1)) == rewritten


async def test_raw_copies_by_table_name(dynamodb_session: Session) -> None:
    """raw=True with the source and target given as table names: the transform gets and
    returns attribute dicts (the target equals upgrade_raw(source)); without a transform,
    items are copied exactly as stored."""
    db = dynamodb_session
    await seed(db, 700)
    source_table = db.table_name(UserV1)
    report = await db.tables.copy(
        source_table, v2_table(db), transform=upgrade_raw, raw=True, segments=4, verify=True
    )
    assert report.complete and report.written == 700
    assert report.verification is not None and report.verification.matches
    source_items = await stored(db, source_table)
    assert_exact(
        await stored(db, v2_table(db)), {k: upgrade_raw(v) for k, v in source_items.items()}
    )
    assert_exact(await stored(db, v2_table(db)), expected(db, users(700), upgrade))

    clone = db.table_prefix + "users_clone"
    await db.tables.create(UserV1, table_name=clone)
    report = await db.tables.copy(source_table, clone, raw=True)
    assert report.written == 700
    assert_exact(await stored(db, clone), source_items)


async def test_transforms_returning_lists_and_none_and_async_transforms(
    dynamodb_session: Session,
) -> None:
    """A transform may return None (skipped), one item, or a list of items (each written);
    an async transform works the same."""
    db = dynamodb_session
    source = await seed(db, 900)

    def fan(u: UserV1) -> Any:
        n = int(u.user_id[1:])
        if n % 3 == 0:
            return None
        if n % 3 == 1:
            return [upgrade(u), attrs.evolve(upgrade(u), user_id=u.user_id + "-b")]
        return upgrade(u)

    async def fan_async(u: UserV1) -> Any:
        await asyncio.sleep(0)
        return fan(u)

    for i, transform in enumerate([fan, fan_async]):
        target = v2_table(db, f"_{i}")
        await db.tables.create(UserV2, table_name=target)
        report = await db.tables.copy(
            UserV1, UserV2, transform=transform, target_table=target, segments=3
        )
        assert report.complete and report.scanned == 900
        assert report.skipped == 300 and report.written == 300 * 2 + 300
        assert_exact(await stored(db, target), expected(db, source, fan))


async def test_on_progress_gets_growing_counts_from_sync_and_async_callbacks(
    dynamodb_session: Session,
) -> None:
    """on_progress (sync or async) is called during the copy with counts that only grow,
    and once at the end with the final counts."""
    db = dynamodb_session
    await seed(db, 1_000)

    async def slow(u: UserV1) -> UserV2:
        await asyncio.sleep(0.002)
        return upgrade(u)

    seen: list[Progress] = []
    seen_async: list[Progress] = []

    async def record(p: Progress) -> None:
        await asyncio.sleep(0)
        seen_async.append(p)

    for callback, calls, target in [(seen.append, seen, "_a"), (record, seen_async, "_b")]:
        await db.tables.create(UserV2, table_name=v2_table(db, target))
        report = await db.tables.copy(
            UserV1,
            UserV2,
            transform=slow,
            segments=4,
            page_size=50,
            on_progress=callback,
            target_table=v2_table(db, target),
        )
        assert len(calls) >= 3
        for before, after in itertools.pairwise(calls):
            assert after.scanned >= before.scanned and after.written >= before.written
            assert after.elapsed >= before.elapsed
            assert after.segments_done >= before.segments_done
        assert calls[0].written < 1_000
        last = calls[-1]
        assert (last.scanned, last.written, last.segments_done, last.segments) == (
            1_000,
            1_000,
            4,
            4,
        )
        assert report.written == last.written


# -- memory ----------------------------------------------------------------------------------


async def test_memory_stays_flat_while_copying_fifty_thousand_items(
    dynamodb_session: Session, dynamodb_engine: str
) -> None:
    """Copying 50,000 items of about 1 KB, the peak of traced memory stays within a small
    multiple of _copy's bound (2 pages x segments x page_size items held at once) and far
    below what holding every item would take."""
    if dynamodb_engine == "moto":
        pytest.skip("50,000 items take minutes on moto; the bound is the client's, not moto's")
    db = dynamodb_session
    segments, page_size = 2, 250
    await seed(db, 50_000, bio="b" * 1_000)
    # Warm up: the client, botocore's models and the code paths allocate once, not per item.
    warm = v2_table(db, "_warm")
    await db.tables.create(UserV2, table_name=warm)
    await db.tables.copy(
        UserV1,
        UserV2,
        transform=upgrade,
        target_table=warm,
        segments=segments,
        page_size=page_size,
        deadline=time.monotonic() + 0.2,
    )
    tracemalloc.start()
    try:
        # What one item takes in memory as a scan returns it (wire form, parsed).
        sample = [db.converter.dump_item(u) for u in users(1_000, bio="b" * 1_000)]
        per_item = tracemalloc.get_traced_memory()[0] / len(sample)
        del sample
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        report = await db.tables.copy(
            UserV1,
            UserV2,
            transform=upgrade,
            segments=segments,
            page_size=page_size,
            concurrency=16,
        )
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert report.complete and report.written == 50_000
    bound = 2 * segments * page_size * per_item
    everything = 50_000 * per_item
    print(f"peak {peak / 1e6:.1f} MB, bound {bound / 1e6:.1f} MB, all {everything / 1e6:.1f} MB")
    assert peak < 5 * bound
    assert peak < everything / 10


# -- bad input -------------------------------------------------------------------------------


async def test_bad_options_raise_validation_error_before_any_request(
    dynamodb_session: Session, faulty: Session, proxy: FaultProxy
) -> None:
    """Bad segment splits, a checkpoint of another table or of another split, an unknown
    on_error, a zero concurrency, page size or attempt count, and a transform for a
    table-name source without raw=True: ValidationError, and not one request is sent."""
    db = dynamodb_session
    await seed(db, 10)
    sent_before = proxy.count()
    copy = faulty.tables.copy
    other = {"v": 1, "source": "someone_else", "total_segments": 4, "segments": {"0": None}}
    mine = {"v": 1, "source": db.table_name(UserV1), "total_segments": 4, "segments": {"0": None}}
    bad_calls: list[dict[str, Any]] = [
        {"segments": 0},
        {"segments": -3},
        {"segments": True},
        {"segments": 4, "total_segments": 8},
        {"segments": range(4)},  # a subset needs total_segments
        {"segments": range(4), "total_segments": 0},
        {"segments": [16], "total_segments": 16},
        {"segments": [-1], "total_segments": 16},
        {"segments": [], "total_segments": 16},
        {"segments": ["1"], "total_segments": 16},
        {"segments": 2_000_000},
        {"resume": other},
        {"resume": {**mine, "v": 99}},
        {"resume": {**mine, "segments": {"7": None}}},
        {"resume": mine, "total_segments": 8},
        {"resume": "not a checkpoint"},
        {"on_error": "ignore"},
        {"concurrency": 0},
        {"concurrency": 2.5},
        {"page_size": 0},
        {"max_attempts": 0},
    ]
    for options in bad_calls:
        with pytest.raises(ValidationError):
            await copy(UserV1, UserV2, transform=upgrade, **options)
    with pytest.raises(ValidationError, match="raw=True"):
        await copy(db.table_name(UserV1), UserV2, transform=upgrade)
    with pytest.raises(ValidationError, match="raw=True"):
        await copy(UserV1, v2_table(db), transform=upgrade)
    with pytest.raises(ValidationError):
        await copy("no such/table", UserV2)
    with pytest.raises(ValidationError):
        await copy(object(), UserV2)  # type: ignore[arg-type]
    assert proxy.count() == sent_before == 0
    assert await stored(db, v2_table(db)) == {}
