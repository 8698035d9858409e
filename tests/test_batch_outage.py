"""Batch writes when DynamoDB goes away: an engine of the test's own is killed by its PID,
and a batch must then end within about one request's retry budget (botocore's), with every
item accounted for, and a cancellation or a caller's timeout must stop the work at once,
leaving no task behind."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from models import Thing, create_table

from dynamorm_async import BatchIncomplete, BatchWriter, RequestEvent, RequestFailed, Session
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, FaultProxy, LocalDynamoDB

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


def session_on(
    engine: LocalDynamoDB | str, retries: dict[str, Any] | None = None, **session: Any
) -> Session:
    """A session on ``engine`` (or an endpoint) with a short connect timeout and the given
    botocore ``retries`` (the session's defaults when None)."""
    from botocore.config import Config

    options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
    if retries is not None:
        options["retries"] = retries
    return Session(
        region=REGION,
        endpoint_url=engine if isinstance(engine, str) else engine.endpoint,
        config=Config(**options),
        **session,
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
    """Watches a session's BatchWriteItem requests on either transport: a fault proxy in
    front of the engine sees which keys DynamoDB acknowledged as written, and the session's
    request events count the HTTP attempts its transport made."""

    def __init__(self, kill_after: int) -> None:
        self.acknowledged: set[tuple[str, int]] = set()
        self.attempts = 0
        self.kill_after = kill_after
        self.written_some = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()

    def answered(self, request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        """The proxy's rewrite rule (in its thread): the answer stays as it is."""
        sent = {
            wire_key(r["PutRequest"]["Item"]) for rs in request["RequestItems"].values() for r in rs
        }
        back = {
            wire_key(r["PutRequest"]["Item"])
            for rs in (response.get("UnprocessedItems") or {}).values()
            for r in rs
        }
        with self._lock:
            self.acknowledged |= sent - back
            if len(self.acknowledged) >= self.kill_after:
                self._loop.call_soon_threadsafe(self.written_some.set)
        return response

    def on_request(self, event: RequestEvent) -> None:
        if event.operation == "BatchWriteItem":
            self.attempts += event.attempts


async def test_batch_write_fails_fast_with_every_item_accounted_for_when_the_engine_dies(
    doomed: LocalDynamoDB,
) -> None:
    """5,000 puts, the engine killed by its PID once 1,000 are acknowledged: BatchIncomplete
    comes within one request's retry budget (plus slack), not after every chunk spent its
    attempts; it carries exactly the items not acknowledged (each once, as given), ``done``
    counts the acknowledged ones, the unreachable endpoint is its cause, and only the
    requests in flight at the kill were tried again. A batch_get then fails as fast."""
    observer = Observer(kill_after=1_000)
    proxy = FaultProxy(doomed.endpoint).start()
    proxy.rewrite("BatchWriteItem", observer.answered)
    db = session_on(
        proxy.endpoint,
        {"mode": "standard", "total_max_attempts": ATTEMPTS},
        on_request=observer.on_request,
    )
    try:
        await create_table(db, Thing)
        items = things(5_000)
        writing = asyncio.ensure_future(db.batch_write(put=items, concurrency=CONCURRENCY))
        waiting = asyncio.ensure_future(observer.written_some.wait())
        await asyncio.wait([writing, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        assert not writing.done(), "the batch ended before the engine was killed"
        kill(doomed)
        await asyncio.to_thread(proxy.stop)  # its port closes: connections are refused
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
        proxy.stop()


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
