"""Writing in batches (BatchWriteItem): checked write requests, one chunk sent with retries,
the retry policy shared with batch reads, and ``BatchWriter``, the buffered writer.

Retry policy (for BatchWriteItem and BatchGetItem alike): a chunk is sent at most
``max_attempts`` times (default 10). After an attempt that left work (``UnprocessedItems`` /
``UnprocessedKeys``, a throttle, a 5xx, a connection closed before the answer) only what is
left is sent again, after a random wait between 0 and ``min(5 s, 50 ms * 2**n)`` before the
n-th retry ("full jitter": concurrent chunks that were throttled together do not come back
together). Errors that a retry cannot fix (a missing table, a request DynamoDB refuses) end
the chunk at once. botocore's own retries (the session's ``config``) happen inside each
attempt.

An unreachable endpoint (no connection, or no answer in time, after botocore's retries) is
an outage, not a hiccup: the whole batch stops. It sends no new request, the requests in
flight are given up, and everything not yet written is reported as unprocessed at once, so
the error comes within about one request's retry budget instead of after every chunk spent
its attempts.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

import attrs

from .._errors import (
    BatchIncomplete,
    DynamORMError,
    RequestFailed,
    StateError,
    Throttled,
    ValidationError,
    whole_number,
)
from .._model.models import ModelInfo, model_info
from .._observe.observers import work
from .._transport.translate import TRANSPORT_ERRORS, Context
from .._wire.item_size import check_item_size
from .base import SessionBase
from .keys import MISSING, key_from_object, key_from_values, key_of_item, key_values
from .locking import never_zero

__all__ = [
    "BATCH_WRITE_SIZE",
    "DEFAULT_ATTEMPTS",
    "BatchStats",
    "BatchWriter",
    "Outage",
    "Write",
    "backoff",
    "check_options",
    "incomplete",
    "is_transient",
    "is_unreachable",
    "key_id",
    "prepare_delete",
    "prepare_put",
    "retry_chunk",
    "run_bounded",
    "send_writes",
]

_log = logging.getLogger("dynamorm_async")
P = TypeVar("P")
R = TypeVar("R")

BATCH_WRITE_SIZE = 25  # DynamoDB's limit of requests per BatchWriteItem
DEFAULT_ATTEMPTS = 10
_BASE_DELAY = 0.05
_MAX_DELAY = 5.0
# Codes of answers that a later attempt may not get: DynamoDB's 5xx, and no answer at all.
_TRANSIENT_CODES = frozenset(
    {"InternalServerError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException"}
) | frozenset(TRANSPORT_ERRORS)
# Transport errors that say the endpoint cannot be reached: no connection could be made (or
# it was reset), or nothing came back in time. A connection closed before the answer, or an
# unexpected client error, is left to the retries: a load balancer recycling connections
# causes those, and a server that died shows up as refused connections on botocore's retries.
_UNREACHABLE_CODES = frozenset(TRANSPORT_ERRORS) - {"ConnectionClosedError", "HTTPClientError"}


@attrs.define
class BatchStats:
    """Counters of a session's batch requests (``db.batch_stats``), for logs and metrics.

    ``requests`` counts BatchGetItem and BatchWriteItem requests sent, ``retries`` those of
    them that sent work again (after unprocessed items, a throttle, a 5xx or a lost
    connection), ``unprocessed`` the items and keys DynamoDB handed back unprocessed. botocore's
    own retries inside one request are not counted::

        before = db.batch_stats.retries
        await db.batch_write(put=things)
        print("retried", db.batch_stats.retries - before, "times")
    """

    requests: int = 0
    retries: int = 0
    unprocessed: int = 0


def backoff(retry: int) -> float:
    """Seconds to wait before retry number ``retry`` (0 for the first): full jitter."""
    return random.uniform(0, min(_MAX_DELAY, _BASE_DELAY * 2**retry))


def is_transient(error: DynamORMError) -> bool:
    """Whether sending the same request again may succeed."""
    if isinstance(error, Throttled):
        return True
    if not isinstance(error, RequestFailed) or error.code is None:
        return False
    # A 5xx without a JSON body has only its status as the code ("502").
    return error.code in _TRANSIENT_CODES or (error.code.isdigit() and error.code[0] == "5")


def is_unreachable(error: DynamORMError) -> bool:
    """Whether the request got no answer because the endpoint cannot be reached."""
    return isinstance(error, RequestFailed) and error.code in _UNREACHABLE_CODES


class Outage:
    """Shared by the requests of one batch: the first one that finds the endpoint unreachable
    (after botocore's own retries) stops the batch. No request is sent after that, the
    requests in flight are given up, and ``error`` is what stopped it."""

    __slots__ = ("_stopped", "error")

    def __init__(self) -> None:
        self.error: DynamORMError | None = None
        self._stopped: asyncio.Future[None] | None = None

    def stopped(self) -> asyncio.Future[None]:
        """A future that is done once the batch is stopped (made on the running loop)."""
        if self._stopped is None:
            self._stopped = asyncio.get_running_loop().create_future()
            if self.error is not None:
                self._stopped.set_result(None)
        return self._stopped

    def stop(self, error: DynamORMError) -> None:
        """Stop the batch because of ``error``; the first error is kept."""
        if self.error is not None:
            return
        self.error = error
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)

    def reset(self) -> None:
        """Allow requests again (only when none is in flight)."""
        self.error = None
        self._stopped = None


def check_options(concurrency: int, max_attempts: int) -> None:
    """``ValidationError`` unless both are whole numbers >= 1."""
    whole_number("concurrency", concurrency)
    whole_number("max_attempts", max_attempts)


def key_id(key: Mapping[str, Mapping[str, Any]], names: Iterable[str]) -> tuple[Any, ...]:
    """A hashable identity of a key in wire form: numbers as values, so ``1`` and ``1.0``
    (which DynamoDB takes for the same key) are the same."""
    out: list[Any] = []
    for name in names:
        av = key.get(name) or {}
        for tag, value in av.items():
            out.append(Decimal(value) if tag == "N" else value)
    return tuple(out)


class Write:
    """One write of a batch, checked and in wire form: ``request`` is the ``PutRequest`` or
    ``DeleteRequest``, ``original`` what the caller gave (reported back when unwritten)."""

    __slots__ = ("id", "key_names", "original", "request", "table")

    def __init__(
        self,
        table: str,
        key_names: tuple[str, ...],
        key: Mapping[str, Any],
        request: dict[str, Any],
        original: Any,
    ) -> None:
        self.table = table
        self.key_names = key_names
        self.id = (table, key_id(key, key_names))
        self.request = request
        self.original = original


def _one_table(info: ModelInfo, table_name: str | None, seen: dict[type, None]) -> None:
    # One physical name for several models would put items of different shapes in one table.
    seen.setdefault(info.cls)
    if table_name is not None and len(seen) > 1:
        names = ", ".join(c.__qualname__ for c in seen)
        raise ValidationError(
            f"table_name={table_name!r} names one table, but the batch holds items of several "
            f"models ({names}); leave table_name out",
            model=info.cls,
        )


def prepare_put(
    session: SessionBase, obj: Any, table_name: str | None, seen: dict[type, None]
) -> Write:
    """The checked PutRequest of ``obj``, written as it is (no version check, no timestamps),
    except that version 0 is stored as 1."""
    info = session._model_of(obj, "batch_write")
    _one_table(info, table_name, seen)
    item = session.converter.dump_item(obj)  # refuses a missing, None or empty key too
    never_zero(info, item)
    key = key_of_item(info, item)
    table = session.table_name(info.cls, table_name)
    check_item_size(
        item,
        lambda: f"{info.cls.__qualname__} {key_values(info, obj)!r}",
        model=info.cls,
        operation="BatchWriteItem",
        table=table,
    )
    return Write(table, info.key_names(), key, {"PutRequest": {"Item": item}}, obj)


def prepare_delete(
    session: SessionBase, target: Any, table_name: str | None, seen: dict[type, None]
) -> Write:
    """The checked DeleteRequest of a model instance or a ``(Model, hash[, range])`` tuple."""
    if isinstance(target, tuple):
        if not 2 <= len(target) <= 3 or not isinstance(target[0], type):
            raise ValidationError(
                "batch deletes take model instances or (Model, hash_key[, range_key]) tuples, "
                f"got {target!r:.80}"
            )
        info = model_info(target[0])
        range_value = target[2] if len(target) == 3 else MISSING
        key = key_from_values(info, session.converter, target[1], range_value)
    else:
        info = session._model_of(target, "batch_write")
        key = key_from_object(info, session.converter, target)
    _one_table(info, table_name, seen)
    table = session.table_name(info.cls, table_name)
    return Write(table, info.key_names(), key.item, {"DeleteRequest": {"Key": key.item}}, target)


async def retry_chunk(
    pending: list[P],
    send_once: Callable[[list[P]], Awaitable[list[P]]],
    max_attempts: int,
    stats: BatchStats,
    outage: Outage | None = None,
) -> tuple[list[P], DynamORMError | None, int]:
    """Send one chunk with ``send_once`` (which returns what was left unprocessed) until
    nothing is left or the attempts are spent, with backoff between attempts.

    Returns what was left, the error that ended the last attempt (None when DynamoDB only
    left work unprocessed) and how many retries were made. An error a retry cannot fix ends
    the chunk at once; an unreachable endpoint stops ``outage`` (the batch's, shared by its
    chunks), and a stopped batch ends the chunk at once, its attempt in flight given up.
    """
    outage = Outage() if outage is None else outage
    stopped = outage.stopped()
    retries = 0
    error: DynamORMError | None = None
    for attempt in range(max_attempts):
        if attempt:
            await asyncio.wait([stopped], timeout=backoff(attempt - 1))
        if outage.error is not None:
            return pending, outage.error, retries
        if attempt:
            retries += 1
            stats.retries += 1
        stats.requests += 1
        sent = await _unless_stopped(send_once(pending), stopped)
        if sent is None:  # given up: what it sent may or may not be written
            assert outage.error is not None
            return pending, outage.error, retries
        try:
            pending = sent.result()
        except DynamORMError as exc:
            if is_unreachable(exc):
                outage.stop(exc)
                return pending, exc, retries
            if not is_transient(exc):
                return pending, exc, retries
            error = exc
            continue
        error = None
        stats.unprocessed += len(pending)
        if not pending:
            return [], None, retries
    return pending, error, retries


async def _unless_stopped(
    request: Awaitable[R], stopped: asyncio.Future[None]
) -> asyncio.Future[R] | None:
    """Run ``request`` until it ends (its finished task is returned) or ``stopped`` is done
    (None: the request was cancelled). The request never outlives the call, also when the
    caller is cancelled."""
    task = asyncio.ensure_future(request)
    given_up = False
    try:
        either: list[asyncio.Future[Any]] = [task, stopped]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            given_up = True
            task.cancel()
            await asyncio.wait([task])
    return None if given_up and task.cancelled() else task


async def send_writes(
    session: SessionBase,
    writes: list[Write],
    max_attempts: int,
    stats: BatchStats,
    outage: Outage | None = None,
) -> tuple[list[Write], DynamORMError | None, int]:
    """Send one chunk (at most 25 writes, no key twice) until done or out of attempts; see
    ``retry_chunk`` for what is returned and for ``outage``."""

    async def send_once(pending: list[Write]) -> list[Write]:
        request: dict[str, list[dict[str, Any]]] = {}
        for w in pending:
            request.setdefault(w.table, []).append(w.request)
        table = next(iter(request)) if len(request) == 1 else None
        response = await session._send(
            "BatchWriteItem", {"RequestItems": request}, Context("BatchWriteItem", table, None)
        )
        return _unprocessed(pending, response.get("UnprocessedItems") or {})

    return await retry_chunk(writes, send_once, max_attempts, stats, outage)


def _unprocessed(sent: list[Write], unprocessed: Mapping[str, Any]) -> list[Write]:
    """The writes of ``sent`` that DynamoDB handed back, matched by table and key."""
    if not unprocessed:
        return []
    by_id = {w.id: w for w in sent}
    names = {w.table: w.key_names for w in sent}
    left: list[Write] = []
    for table, requests in unprocessed.items():
        for r in requests:
            body = r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key")
            found = by_id.get((table, key_id(body or {}, names.get(table, ()))))
            if found is not None:
                left.append(found)
    return left


async def run_bounded(jobs: Iterable[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    """Run ``jobs`` with at most ``concurrency`` at a time; when one raises (or this is
    cancelled), the others are cancelled and awaited, so no task outlives the call."""
    queue = deque(jobs)

    async def worker() -> None:
        while queue:
            await queue.popleft()()

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(queue)))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def incomplete(
    operation: str, unprocessed: list[Any], done: int, error: BaseException | None, what: str
) -> BatchIncomplete:
    """The ``BatchIncomplete`` for work left undone, with the error that ended it chained."""
    reason = f": {error}" if error is not None else " (still unprocessed when retries ran out)"
    exc = BatchIncomplete(
        f"{operation}: {len(unprocessed)} {what} left undone, {done} done{reason}",
        operation=operation,
        unprocessed=unprocessed,
        done=done,
    )
    exc.__cause__ = error
    return exc


class BatchWriter:
    """A buffered batch writer: ``put`` and ``delete`` collect writes, which are sent 25 at
    a time in the background with at most ``concurrency`` requests in flight. Made by
    ``Session.batch_writer()``::

        async with db.batch_writer() as w:
            async for row in rows:
                await w.put(Thing(row.name, row.size))   # waits while the writer is busy
            await w.delete((Thing, "old", 1))

    Writes are unconditional, as with ``batch_write``: objects are stored as they are (no
    version check, no timestamps), except that a version of 0 is stored as 1; the objects
    themselves are not changed. Within a batch of 25 the same key is written once (the later
    write wins), and a key waits for its earlier write still in flight, so writes of one key
    land in the order they were made. Retries follow ``batch_write``'s; when the endpoint
    cannot be reached, the writer sends nothing more and every write from then on fails at
    once, until the failure is reported.

    Leaving the block sends what is buffered and waits for every request, also when the block
    raised an exception (kept as the ``__context__`` of what is raised next); then, if any
    write could not be made, ``BatchIncomplete`` is raised with every unwritten item. A
    cancellation (a caller's ``asyncio.timeout`` too), in the block or while leaving it,
    stops the writer at once: nothing more is sent, the requests in flight are cancelled, the
    writes not made are logged, and the cancellation goes on. ``retries`` and ``written``
    count what happened.
    """

    def __init__(
        self,
        session: SessionBase,
        stats: BatchStats,
        *,
        concurrency: int,
        table_name: str | None,
        max_attempts: int,
    ) -> None:
        check_options(concurrency, max_attempts)
        self._session = session
        self._stats = stats
        self._table_name = table_name
        self._max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)
        self._outage = Outage()
        self._buffer: dict[tuple[str, tuple[Any, ...]], Write] = {}
        self._inflight: dict[tuple[str, tuple[Any, ...]], asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self._models: dict[type, None] = {}
        self._unwritten: list[Write] = []
        self._error: BaseException | None = None
        self._state = "new"  # "new", "open", "closed"
        self.retries = 0  # requests that sent writes again (unprocessed, throttled, 5xx, ...)
        self.written = 0  # writes DynamoDB confirmed

    async def __aenter__(self) -> BatchWriter:
        if self._state != "new":
            raise StateError("a BatchWriter can be entered only once", state=self._state)
        self._state = "open"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "closed"
        if exc is not None and not isinstance(exc, Exception):
            await self._stop()  # cancelled (or interrupted) in the block: send nothing more
            return
        try:
            await self._drain()
        except BaseException:
            await self._stop()  # cancelled while flushing, e.g. by the caller's timeout
            raise
        failure = self._failure()
        if failure is not None:
            raise failure

    async def put(self, obj: Any) -> None:
        """Buffer a put of ``obj`` (any model); checked now, so bad input raises
        ``ValidationError`` here and is not buffered::

            await w.put(Thing("a", 1))
        """
        self._check_open()
        await self._add(prepare_put(self._session, obj, self._table_name, self._models))

    async def delete(self, target: Any) -> None:
        """Buffer a delete of a model instance or of ``(Model, hash_key[, range_key])``::

        await w.delete(thing)
        await w.delete((Thing, "a", 1))
        """
        self._check_open()
        await self._add(prepare_delete(self._session, target, self._table_name, self._models))

    async def flush(self) -> None:
        """Send everything buffered and wait for every request in flight; raise
        ``BatchIncomplete`` for writes that could not be made since the last report::

            await w.flush()   # everything put so far is stored now
        """
        await self._drain()
        failure = self._failure()
        if failure is not None:
            raise failure

    def _check_open(self) -> None:
        if self._state != "open":
            raise StateError(
                "BatchWriter is "
                + ("closed" if self._state == "closed" else "not entered")
                + ": use it inside `async with db.batch_writer() as w:`",
                state=self._state,
            )

    async def _add(self, write: Write) -> None:
        # The later write of a key replaces the earlier one still in the buffer.
        self._buffer.pop(write.id, None)
        self._buffer[write.id] = write
        while len(self._buffer) >= BATCH_WRITE_SIZE:
            await self._dispatch()

    async def _dispatch(self) -> None:
        # Wait for a free slot before taking the writes out of the buffer: that is the
        # back-pressure, and a put() cancelled while waiting loses nothing.
        await self._slots.acquire()
        chunk = [self._buffer.pop(k) for k in list(self._buffer)[:BATCH_WRITE_SIZE]]
        if not chunk:
            self._slots.release()
            return
        before = {self._inflight[w.id] for w in chunk if w.id in self._inflight}
        task = asyncio.ensure_future(self._send(chunk, before))
        self._tasks.add(task)
        for w in chunk:
            self._inflight[w.id] = task

        def done(_: asyncio.Future[None]) -> None:
            self._slots.release()
            self._tasks.discard(task)
            for w in chunk:
                if self._inflight.get(w.id) is task:
                    del self._inflight[w.id]

        task.add_done_callback(done)

    async def _send(self, chunk: list[Write], before: set[asyncio.Future[None]]) -> None:
        error: BaseException | None
        try:
            if before:  # an earlier write of one of these keys is still being sent
                await asyncio.wait(before)
            left, error, retries = await send_writes(
                self._session, chunk, self._max_attempts, self._stats, self._outage
            )
        except asyncio.CancelledError:  # the writer stopped, or the loop goes away
            self._unwritten.extend(chunk)
            raise
        except Exception as exc:  # not a DynamoDB error: report the chunk as unwritten
            left, error, retries = chunk, exc, 0
        self.retries += retries
        self.written += len(chunk) - len(left)
        if left:
            self._unwritten.extend(left)
            if self._error is None:
                self._error = error

    async def _drain(self) -> None:
        with work(self._session._observers, "batch_writer.flush", buffered=len(self._buffer)):
            while self._buffer:
                await self._dispatch()
            while self._tasks:
                await asyncio.wait(set(self._tasks))

    async def _stop(self) -> None:
        """Stop at once: the buffer is dropped, the requests in flight are cancelled (and
        awaited, so none outlives the writer), and the writes not made are logged, since the
        cancellation that got here cannot carry them."""
        self._unwritten.extend(self._buffer.values())
        self._buffer.clear()
        for task in self._tasks:
            task.cancel()
        cancelled = False
        while self._tasks:
            try:
                await asyncio.wait(set(self._tasks))
            except asyncio.CancelledError:
                cancelled = True  # cancelled again: the tasks are ending, wait for them
        if self._unwritten:
            _log.error(
                "BatchWriter stopped: %d writes not made (or not confirmed), %d written",
                len(self._unwritten),
                self.written,
            )
        self._unwritten, self._error = [], None
        self._outage.reset()
        if cancelled:
            raise asyncio.CancelledError

    def _failure(self) -> BatchIncomplete | None:
        """The ``BatchIncomplete`` for the writes failed since the last one; None if none."""
        if not self._unwritten:
            return None
        unwritten, error = self._unwritten, self._error
        self._unwritten, self._error = [], None
        self._outage.reset()  # reported: later writes may try the endpoint again
        return incomplete(
            "BatchWriteItem", [w.original for w in unwritten], self.written, error, "writes"
        )
