"""ensure / ensure_all and the waiter against real engines: races won by exactly one
CreateTable (coroutines and processes), schema mismatches that change nothing, and waits that
time out or are cancelled.

The waiter's timeout and cancellation run on a second DynamoDB Local started with
``-delayTransientStatuses``, where a global index added to a table stays CREATING for about
half a minute: a real table that is not usable yet, with no fake involved.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_tables import Post, User, Visit, lacks

from dynamorm_async import (
    GlobalIndex,
    SchemaMismatch,
    Session,
    TableWaitTimeout,
    ValidationError,
    model,
)
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB


def counting_session(endpoint: str, prefix: str) -> tuple[Session, dict[str, int]]:
    """A session whose botocore session counts CreateTable calls that DynamoDB accepted
    (HTTP 200) and refused (botocore's own ``after-call`` event)."""
    from aiobotocore.session import get_session

    counts = {"accepted": 0, "refused": 0}

    def after_create(http_response: Any, **_: Any) -> None:
        counts["accepted" if http_response.status_code == 200 else "refused"] += 1

    boto = get_session()
    boto.register("after-call.dynamodb.CreateTable", after_create)
    session = Session(
        botocore_session=boto,
        region=REGION,
        endpoint_url=endpoint,
        table_prefix=prefix,
        **DUMMY_CREDENTIALS,
    )
    return session, counts


async def test_ensure_creates_once_and_is_idempotent(
    dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """The first ensure creates the table, later ones only check it."""
    db, counts = counting_session(dynamodb_endpoint, dynamodb_session.table_prefix)
    try:
        first = await db.tables.ensure(Post)
        second = await db.tables.ensure(Post)
        assert first.usable and second.usable and first.name == second.name
        assert counts == {"accepted": 1, "refused": 0}
    finally:
        await db.close()


async def test_fifty_coroutines_ensure_one_table(
    dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """50 concurrent ensures of one table: exactly one CreateTable is accepted; everyone
    returns the usable table."""
    db, counts = counting_session(dynamodb_endpoint, dynamodb_session.table_prefix)
    try:
        results = await asyncio.gather(*(db.tables.ensure(Post) for _ in range(50)))
        assert counts["accepted"] == 1
        assert all(r.usable and r.name == db.table_name(Post) for r in results)
    finally:
        await db.close()


_RACER = """
import asyncio, json, os, sys, time
import attrs
from dynamorm_async import GlobalIndex, Session, model
from aiobotocore.session import get_session

endpoint, name, folder, me = sys.argv[1:5]

@model(table="racers", hash_key="pk", range_key="sk", indexes=[GlobalIndex("by_g", hash_key="g")])
@attrs.define
class Racer:
    pk: str
    sk: int
    g: str | None = None

counts = {"accepted": 0, "refused": 0}
def after_create(http_response, **_):
    counts["accepted" if http_response.status_code == 200 else "refused"] += 1

async def main():
    boto = get_session()
    boto.register("after-call.dynamodb.CreateTable", after_create)
    db = Session(botocore_session=boto, region="us-east-1", endpoint_url=endpoint,
                 aws_access_key_id="testing", aws_secret_access_key="testing")
    await db.client()  # warm: the race is about the requests, not process start-up
    open(os.path.join(folder, "ready-" + me), "w").close()
    while not os.path.exists(os.path.join(folder, "go")):
        await asyncio.sleep(0.001)
    desc = await db.tables.ensure(Racer, table_name=name)
    await db.close()
    print(json.dumps({**counts, "usable": desc.usable}))

asyncio.run(main())
"""


def test_four_processes_ensure_one_table(
    tmp_path: Path, dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """Four processes ensure the same table at the same moment: exactly one CreateTable is
    accepted across them, and every process ends with the usable table."""
    name = dynamodb_session.table_prefix + "racers"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, dynamodb_endpoint, name, str(tmp_path), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("ready-*"))) < 4:
            assert time.monotonic() < deadline, "the racers did not get ready"
            assert all(p.poll() is None for p in racers), [p.communicate() for p in racers]
            time.sleep(0.01)
        (tmp_path / "go").touch()
        outputs = [p.communicate(timeout=60) for p in racers]
    finally:
        for p in racers:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in racers] == [0, 0, 0, 0], [err for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    assert sum(r["accepted"] for r in reports) == 1
    assert all(r["usable"] for r in reports)


@model(
    table="posts",
    hash_key="author",
    range_key="post_id",
    indexes=[GlobalIndex("by_topic", hash_key="topic", range_key="score")],
)
@attrs.define
class PostWithOtherIndex:
    """Post's table name, with a different global index key."""

    author: str
    post_id: str
    topic: str | None = None
    score: int | None = None


async def test_schema_mismatch_lists_differences_and_changes_nothing(
    dynamodb_session: Session,
) -> None:
    """A table made by hand with other keys: ensure raises SchemaMismatch listing every
    difference, and the table, its indexes and its items are exactly as before."""
    client = await dynamodb_session.client()
    name = dynamodb_session.table_name(Post)
    await client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "topic", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_topic",
                "KeySchema": [{"AttributeName": "topic", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    await dynamodb_session.tables.wait_active(Post, timeout=30)
    await client.put_item(TableName=name, Item={"pk": {"S": "keep me"}})
    before = await dynamodb_session.tables.describe(Post)
    with pytest.raises(SchemaMismatch) as caught:
        await dynamodb_session.tables.ensure(Post)
    differences = caught.value.differences
    assert caught.value.table == name and caught.value.model is Post
    assert differences[0] == (
        "key: model has author (S) HASH, post_id (S) RANGE, table has pk (S) HASH"
    )
    assert "global index 'by_topic' keys: model has topic (S) HASH" in differences[1]
    assert "global index 'by_topic' projection: model has ALL" in differences[2]
    assert "global index 'by_day' is missing from the table" in differences
    assert "local index 'by_score' is missing from the table" in differences
    assert "by_slug" in str(caught.value)
    after = await dynamodb_session.tables.describe(Post)
    assert (after.key_schema, after.global_indexes, after.local_indexes) == (
        before.key_schema,
        before.global_indexes,
        before.local_indexes,
    )
    stored = await client.get_item(TableName=name, Key={"pk": {"S": "keep me"}})
    assert "Item" in stored


async def test_index_key_mismatch_alone(dynamodb_session: Session) -> None:
    """Same table keys, one global index keyed differently: only that is reported."""
    await dynamodb_session.tables.create(PostWithOtherIndex)
    with pytest.raises(SchemaMismatch) as caught:
        await dynamodb_session.tables.ensure(Post)
    assert caught.value.differences[0] == (
        "global index 'by_topic' keys: model has topic (S) HASH, table has topic (S) HASH, "
        "score (N) RANGE"
    )


def _ten_models() -> list[type]:
    made = []
    for i in range(10):
        cls = attrs.make_class(f"Table{i}", {"pk": attrs.field(type=str)})
        made.append(model(table=f"many_{i}", hash_key="pk")(cls))
    return made


async def test_ensure_all_makes_every_table_in_one_pass(dynamodb_session: Session) -> None:
    """ensure_all of ten models: all exist afterwards, descriptions in the order given."""
    models = _ten_models()
    descriptions = await dynamodb_session.tables.ensure_all(*models)
    assert [d.name for d in descriptions] == [dynamodb_session.table_name(m) for m in models]
    assert all(d.usable for d in descriptions)


async def test_ensure_all_finishes_everything_then_raises_the_first_error(
    dynamodb_session: Session,
) -> None:
    """One mismatched table does not stop the others: they are ensured, then the error is
    raised."""
    await dynamodb_session.tables.create(PostWithOtherIndex)
    with pytest.raises(SchemaMismatch):
        await dynamodb_session.tables.ensure_all(User, Post)
    assert await dynamodb_session.tables.exists(User)


async def test_waiting_goes_through_transient_states(
    dynamodb_session: Session, dynamodb_engine: str
) -> None:
    """create(wait=True) returns only when the table is ACTIVE; on dynalite, whose tables
    stay CREATING for 500 ms, the waiter polls a handful of times (backoff from 50 ms), not
    in a tight loop and not every 20 s. delete waits until the table is gone."""
    from aiobotocore.session import get_session

    polls: list[float] = []
    boto = get_session()
    boto.register("before-call.dynamodb.DescribeTable", lambda **_: polls.append(time.monotonic()))
    endpoint = (await dynamodb_session.client()).meta.endpoint_url
    db = Session(
        botocore_session=boto,
        region=REGION,
        endpoint_url=endpoint,
        table_prefix=dynamodb_session.table_prefix,
        **DUMMY_CREDENTIALS,
    )
    try:
        started = time.monotonic()
        first = await db.tables.create(User, wait=False)
        desc = await db.tables.wait_active(User, timeout=30)
        took = time.monotonic() - started
        assert desc.status == "ACTIVE"
        if dynamodb_engine == "dynalite":
            assert first.status == "CREATING"
            assert 0.4 < took < 10
            # Backoff from 50 ms: a handful of polls in half a second, not a tight loop.
            assert len(polls) <= 12, polls
        polls.clear()
        await db.tables.delete(User)
        assert not await db.tables.exists(User)
        if dynamodb_engine == "dynalite":
            assert len(polls) >= 3  # it saw DELETING before the table was gone
        # A table that is still being created can be deleted: delete waits for it first.
        await db.tables.create(User, wait=False)
        await db.tables.delete(User)
        assert not await db.tables.exists(User)
    finally:
        await db.close()


@pytest.fixture(scope="module")
def delayed_endpoint(dynamodb_engine: str) -> Iterator[str]:
    """A second DynamoDB Local, started with -delayTransientStatuses (only in the
    dynamodb-local pass: the other passes have no Java engine of their own)."""
    if dynamodb_engine != "dynamodb-local":
        pytest.skip("the delayed DynamoDB Local runs in the dynamodb-local pass")
    engine = LocalDynamoDB(delay_transient_statuses=True)
    try:
        engine.start()
        yield engine.endpoint
    finally:
        engine.stop()


async def _table_with_index_being_created(db: Session) -> None:
    """A table that is ACTIVE with a global index that stays CREATING for ~30 s."""
    await db.tables.create(User)
    client = await db.client()
    await client.update_table(
        TableName=db.table_name(User),
        AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by_name",
                    "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )


async def test_wait_active_times_out_with_the_last_status(
    delayed_endpoint: str, dynamodb_table_prefix: str
) -> None:
    """A global index that is not ACTIVE keeps the waiter waiting (the table alone is
    ACTIVE); after the timeout TableWaitTimeout, a TimeoutError, says what it last saw."""
    db = Session(
        region=REGION,
        endpoint_url=delayed_endpoint,
        table_prefix=dynamodb_table_prefix,
        **DUMMY_CREDENTIALS,
    )
    try:
        await _table_with_index_being_created(db)
        started = time.monotonic()
        with pytest.raises(TableWaitTimeout) as caught:
            await db.tables.wait_active(User, timeout=0.6)
        assert 0.55 < time.monotonic() - started < 5  # the timeout, not the 30 s the index takes
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.last_status == "ACTIVE, index by_name CREATING"
        assert "index by_name CREATING" in str(caught.value)
        assert caught.value.table == db.table_name(User)
    finally:
        await db.close()  # the delayed engine, and its tables, go when the module ends


async def test_wait_active_can_be_cancelled_at_any_moment(
    delayed_endpoint: str, dynamodb_table_prefix: str
) -> None:
    """Cancelling a wait stops it at once: no DescribeTable is sent afterwards."""
    from aiobotocore.session import get_session

    polls: list[float] = []
    boto = get_session()
    boto.register("before-call.dynamodb.DescribeTable", lambda **_: polls.append(time.monotonic()))
    db = Session(
        botocore_session=boto,
        region=REGION,
        endpoint_url=delayed_endpoint,
        table_prefix=dynamodb_table_prefix,
        **DUMMY_CREDENTIALS,
    )
    try:
        await _table_with_index_being_created(db)
        waiting = asyncio.ensure_future(db.tables.wait_active(User, timeout=120))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        cancelled_at = time.monotonic()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert time.monotonic() - cancelled_at < 1  # at once, not after the 120 s timeout
        seen = len(polls)
        await asyncio.sleep(0.6)
        assert len(polls) == seen
    finally:
        await db.close()


async def test_ensure_checks_its_options_even_when_the_table_exists(
    dynamodb_session: Session,
) -> None:
    """Options that create() would refuse are refused by ensure() before any request, also
    when the table is already there and would not be created."""
    await dynamodb_session.tables.ensure(User)
    with pytest.raises(ValidationError, match="stream takes one of"):
        await dynamodb_session.tables.ensure(User, stream="ALL_OF_IT")
    with pytest.raises(TypeError, match="colour"):
        await dynamodb_session.tables.ensure(User, colour="red")


async def test_ensure_reports_a_table_whose_items_would_never_expire(
    dynamodb_session: Session, dynamodb_engine: str
) -> None:
    """A model with a TTL attribute, on an existing table without TTL: ensure does not
    alter the table, and says that its items would never expire; enable_ttl() is the remedy."""
    lacks(dynamodb_engine, "UpdateTimeToLive")
    db = dynamodb_session
    client = await db.client()
    await client.create_table(
        TableName=db.table_name(Visit),
        KeySchema=[{"AttributeName": "token", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "token", "AttributeType": "B"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(SchemaMismatch) as caught:
        await db.tables.ensure(Visit)
    assert caught.value.differences == [
        "time to live: model expires items by 'expires_at', table has TTL disabled (enable it "
        "in your infrastructure code, or with db.tables.enable_ttl(Visit))"
    ]
    await db.tables.enable_ttl(Visit)
    desc = await db.tables.ensure(Visit)
    assert desc.ttl_attribute == "expires_at"
