"""Batch writes when DynamoDB goes away: an engine of the test's own is killed by its PID,
and a batch must then end within about one request's retry budget (botocore's), with every
item accounted for, and a cancellation or a caller's timeout must stop the work at once,
leaving no task behind."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from models import Thing, create_table

from dynamorm_async import BatchIncomplete, BatchWriter, RequestFailed, Session
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB

CONNECT_TIMEOUT = 1.0
ATTEMPTS = 3  # botocore's attempts per request in the fast-failing session
CONCURRENCY = 4
# Everything a busy 2-core machine may add to one request's retry budget: the other
# requests in flight ending, the unwritten items being collected, the event loop being late.
SLACK = 20.0


def retry_budget(attempts: int, connect_timeout: float) -> float:
    """The longest one request can take against an endpoint that refuses connections:
    each attempt's connect timeout plus botocore's longest backoffs between attempts
    (``min(2**i, 20)`` s before retry i + 1 in standard mode)."""
    backoffs = sum(min(2.0**i, 20.0) for i in range(attempts - 1))
    return attempts * connect_timeout + backoffs


def things(n: int) -> list[Thing]:
    return [Thing(f"n{i // 100}", i) for i in range(n)]


def key(thing: Thing) -> tuple[str, int]:
    return (thing.name, thing.size)


def wire_key(item: dict[str, Any]) -> tuple[str, int]:
    return (item["name"]["S"], int(item["size"]["N"]))


@pytest_asyncio.fixture
async def doomed(dynamodb_engine: str) -> AsyncIterator[LocalDynamoDB]:
    """An engine of this test's own (the kind under test), for the test to kill; stopped
    afterwards whatever happened."""
    if dynamodb_engine == "external":
        pytest.skip("the outage tests kill an engine they start themselves")
    engine = LocalDynamoDB(dynamodb_engine)
    try:
        await asyncio.to_thread(engine.start)
        yield engine
    finally:
        await asyncio.to_thread(engine.stop)


def session_on(engine: LocalDynamoDB, retries: dict[str, Any] | None = None) -> Session:
    """A session on ``engine`` with a short connect timeout and the given botocore
    ``retries`` (the session's defaults when None)."""
    from botocore.config import Config

    options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
    if retries is not None:
        options["retries"] = retries
    return Session(
        region=REGION,
        endpoint_url=engine.endpoint,
        config=Config(**options),
        aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
    )


async def write_all(db: Session, items: list[Thing]) -> BatchWriter:
    """Put ``items`` through a batch_writer; the writer, once its block is left."""
    async with db.batch_writer(concurrency=CONCURRENCY) as w:
        for t in items:
            await w.put(t)
    return w


def kill(engine: LocalDynamoDB) -> None:
    """The outage: the engine's process killed by its PID, with no chance to answer."""
    assert engine.pid is not None
    os.kill(engine.pid, signal.SIGKILL)


class Observer:
    """Watches the session's BatchWriteItem requests through botocore's events: which keys
    DynamoDB acknowledged as written, and how many HTTP attempts were sent."""

    def __init__(self, kill_after: int) -> None:
        self.acknowledged: set[tuple[str, int]] = set()
        self.attempts = 0
        self.kill_after = kill_after
        self.written_some = asyncio.Event()

    async def attach(self, db: Session) -> None:
        events = (await db.client()).meta.events
        events.register("before-parameter-build.dynamodb.BatchWriteItem", self._before)
        events.register("before-send.dynamodb.BatchWriteItem", self._sending)
        events.register("after-call.dynamodb.BatchWriteItem", self._after)

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["sent_keys"] = {
            wire_key(r["PutRequest"]["Item"]) for rs in params["RequestItems"].values() for r in rs
        }

    def _sending(self, **_: Any) -> None:
        self.attempts += 1  # returns None: the request goes out as usual

    def _after(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        if http_response.status_code != 200:
            return
        back = {
            wire_key(r["PutRequest"]["Item"])
            for rs in (parsed.get("UnprocessedItems") or {}).values()
            for r in rs
        }
        self.acknowledged |= context["sent_keys"] - back
        if len(self.acknowledged) >= self.kill_after:
            self.written_some.set()


async def test_batch_write_fails_fast_with_every_item_accounted_for_when_the_engine_dies(
    doomed: LocalDynamoDB,
) -> None:
    """5,000 puts, the engine killed by its PID once 1,000 are acknowledged: BatchIncomplete
    comes within one request's retry budget (plus slack), not after every chunk spent its
    attempts; it carries exactly the items not acknowledged (each once, as given), ``done``
    counts the acknowledged ones, the unreachable endpoint is its cause, and only the
    requests in flight at the kill were tried again. A batch_get then fails as fast."""
    db = session_on(doomed, {"mode": "standard", "total_max_attempts": ATTEMPTS})
    try:
        await create_table(db, Thing)
        items = things(5_000)
        observer = Observer(kill_after=1_000)
        await observer.attach(db)
        writing = asyncio.ensure_future(db.batch_write(put=items, concurrency=CONCURRENCY))
        waiting = asyncio.ensure_future(observer.written_some.wait())
        await asyncio.wait([writing, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        assert not writing.done(), "the batch ended before the engine was killed"
        kill(doomed)
        killed_at, attempts_at_kill = time.monotonic(), observer.attempts
        bound = retry_budget(ATTEMPTS, CONNECT_TIMEOUT) + SLACK
        await asyncio.wait([writing], timeout=bound)
        elapsed = time.monotonic() - killed_at
        if not writing.done():
            writing.cancel()
            await asyncio.wait([writing])
            pytest.fail(f"batch_write still running {elapsed:.1f}s after the engine died")

        error = writing.exception()
        assert isinstance(error, BatchIncomplete), error
        unprocessed = error.unprocessed
        left = [key(t) for t in unprocessed]
        assert len(set(left)) == len(left), "an item is reported twice"
        assert all(items[u.size] is u for u in unprocessed)  # as given
        assert observer.acknowledged.isdisjoint(left)
        assert observer.acknowledged | set(left) == {key(t) for t in items}
        assert error.done == len(observer.acknowledged) >= 1_000
        assert isinstance(error.__cause__, RequestFailed)
        assert error.__cause__.code == "EndpointConnectionError"
        # Only the requests in flight at the kill (and the chunks they finished just before
        # it) were tried again; the other chunks were never sent.
        assert observer.attempts - attempts_at_kill <= 2 * CONCURRENCY * ATTEMPTS

        started = time.monotonic()
        with pytest.raises(BatchIncomplete) as caught:
            await db.batch_get(Thing, [key(t) for t in items], concurrency=CONCURRENCY)
        assert time.monotonic() - started < bound
        assert len(caught.value.unprocessed) == 5_000 and caught.value.done == 0
    finally:
        await db.close()


async def test_batch_writer_within_a_timeout_ends_at_the_timeout_when_the_engine_is_gone(
    doomed: LocalDynamoDB,
) -> None:
    """With the session's default retries, a batch_writer of 5,000 puts given a 10 s
    timeout against a killed engine ends by 10 s plus a small margin: with TimeoutError, or
    with BatchIncomplete carrying every item when the outage was seen first. No task is left
    running."""
    db = session_on(doomed)
    try:
        await create_table(db, Thing)
        kill(doomed)
        items = things(5_000)
        before = asyncio.all_tasks()
        started = time.monotonic()
        with pytest.raises((asyncio.TimeoutError, BatchIncomplete)) as caught:
            await asyncio.wait_for(write_all(db, items), 10)
        assert time.monotonic() - started < 10 + 3
        assert asyncio.all_tasks() == before
        if isinstance(caught.value, BatchIncomplete):
            assert len(caught.value.unprocessed) == 5_000 and caught.value.done == 0
    finally:
        await db.close()


async def test_a_timeout_stops_batch_write_and_batch_writer_at_once(
    doomed: LocalDynamoDB, caplog: pytest.LogCaptureFixture
) -> None:
    """With botocore retrying each request for about 25 s (legacy mode, fixed backoffs), a
    1 s timeout (``wait_for``) on batch_write, and on a batch_writer block, lands while requests
    are in flight: each raises TimeoutError within a small margin of 1 s, and no task
    (request, backoff or writer) is left running. The writer logs the writes not made."""
    db = session_on(doomed, {"mode": "legacy", "total_max_attempts": 10})
    try:
        await create_table(db, Thing)
        kill(doomed)
        items = things(5_000)
        before = asyncio.all_tasks()

        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(db.batch_write(put=items, concurrency=CONCURRENCY), 1)
        assert time.monotonic() - started < 1 + 2
        assert asyncio.all_tasks() == before

        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(write_all(db, items), 1)
        assert time.monotonic() - started < 1 + 2
        assert asyncio.all_tasks() == before
        assert "BatchWriter stopped: " in caplog.text and ", 0 written" in caplog.text
    finally:
        await db.close()
