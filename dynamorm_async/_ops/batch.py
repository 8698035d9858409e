"""Batch operations of a session: batch_get, batch_write and batch_writer (BatchGetItem,
BatchWriteItem) with chunking, bounded concurrency and retries of unprocessed work.

Every input is checked and converted before the first request, so bad input raises
``ValidationError`` and nothing is read or written. The retry policy is described in
``_ops.batch_writer``; what a batch could not do in the end is raised as ``BatchIncomplete``,
never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, TypeVar, overload

from .._errors import DynamORMError, ValidationError
from .._expr.compile import ExpressionContext
from .._model.models import ModelInfo, model_info
from .._observe.observers import work
from .._transport.translate import Context
from .base import SessionBase
from .batch_writer import (
    BATCH_WRITE_SIZE,
    DEFAULT_ATTEMPTS,
    BatchStats,
    BatchWriter,
    Outage,
    Write,
    check_options,
    incomplete,
    key_id,
    prepare_delete,
    prepare_put,
    retry_chunk,
    run_bounded,
    send_writes,
)
from .keys import MISSING, key_from_values

__all__ = ["BatchOperations"]

T = TypeVar("T")

BATCH_GET_SIZE = 100  # DynamoDB's limit of keys per BatchGetItem

KeyId = tuple[Any, ...]


class BatchOperations(SessionBase):
    """batch_get / batch_write / batch_writer (BatchGetItem, BatchWriteItem)."""

    _batch_stats: BatchStats  # set by Session

    @property
    def batch_stats(self) -> BatchStats:
        """Counters of this session's batch requests: ``requests``, ``retries`` and
        ``unprocessed`` (see ``BatchStats``)::

            print(db.batch_stats.retries)
        """
        return self._batch_stats

    # -- batch_get -----------------------------------------------------------------------

    @overload
    async def batch_get(
        self,
        cls: type[T],
        keys: Iterable[Any],
        *,
        consistent: bool = ...,
        attributes: None = ...,
        table_name: str | None = ...,
        concurrency: int = ...,
        max_attempts: int = ...,
    ) -> list[T | None]: ...

    @overload
    async def batch_get(
        self,
        cls: type[T],
        keys: Iterable[Any],
        *,
        consistent: bool = ...,
        attributes: Sequence[str],
        table_name: str | None = ...,
        concurrency: int = ...,
        max_attempts: int = ...,
    ) -> list[dict[str, Any] | None]: ...

    async def batch_get(
        self,
        cls: type[T],
        keys: Iterable[Any],
        *,
        consistent: bool = False,
        attributes: Sequence[str] | None = None,
        table_name: str | None = None,
        concurrency: int = 4,
        max_attempts: int = DEFAULT_ATTEMPTS,
    ) -> list[T | None] | list[dict[str, Any] | None]:
        """Read many items of one model by key (BatchGetItem), any number of them.

        ``keys`` are hash key values, or ``(hash, range)`` tuples when the model has a range
        key. The result is aligned with ``keys``: one entry per key given, in the same order,
        ``None`` where no item has that key. A key given twice is read once (each position
        still gets its own object). Keys are sent 100 per request, ``concurrency`` requests at
        a time; ``UnprocessedKeys``, throttles and transient errors are retried with backoff
        (at most ``max_attempts`` requests per 100 keys). When keys are still unread after
        that, ``BatchIncomplete`` is raised: ``unprocessed`` holds those keys as given and
        ``done`` how many distinct keys were read. When the endpoint cannot be reached (after
        botocore's retries), no more requests are sent and every key not read yet is
        unprocessed at once.

        ``consistent=True`` asks for strongly consistent reads. ``attributes=[...]`` reads
        only those attributes (plus the key) and returns dicts, as ``get`` does::

            things = await db.batch_get(Thing, [("a", 1), ("b", 2)])  # [Thing(...), None]
            sizes = await db.batch_get(Thing, [("a", 1)], attributes=["data"])
        """
        info = model_info(cls)
        table = self.table_name(cls, table_name)
        check_options(concurrency, max_attempts)
        if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
            raise ValidationError(
                f"{cls.__qualname__}: batch_get takes an iterable of keys, got {keys!r:.60}",
                model=cls,
            )
        names = info.key_names()
        positions: list[KeyId] = []
        unique: dict[KeyId, tuple[dict[str, Any], Any]] = {}  # id -> (wire key, key as given)
        for given in keys:
            key = self._batch_key(info, given)
            kid = key_id(key, names)
            positions.append(kid)
            unique.setdefault(kid, (key, given))
        shared: dict[str, Any] = {"ConsistentRead": bool(consistent)}
        if attributes is not None:
            ctx = ExpressionContext(info, self.converter)
            shared["ProjectionExpression"] = ctx.projection(attributes, info.key_names())
            shared["ExpressionAttributeNames"] = ctx.names

        found: dict[KeyId, dict[str, Any]] = {}
        unread: set[KeyId] = set()
        errors: list[DynamORMError] = []
        order = list(unique)
        outage = Outage()

        async def read(chunk: list[KeyId]) -> None:
            left, error = await self._get_chunk(
                table, names, shared, chunk, unique, found, max_attempts, outage
            )
            unread.update(left)
            if error is not None:
                errors.append(error)

        chunks = [order[i : i + BATCH_GET_SIZE] for i in range(0, len(order), BATCH_GET_SIZE)]
        with work(self._observers, "batch_get", table=table, keys=len(order)):
            await run_bounded([partial(read, c) for c in chunks], concurrency)
        if unread:
            raise incomplete(
                "BatchGetItem",
                [unique[k][1] for k in order if k in unread],
                len(order) - len(unread),
                errors[0] if errors else None,
                "keys",
            )
        if attributes is not None:
            items = [found.get(k) for k in positions]
            return [None if i is None else self._partial(info, i) for i in items]
        return [self._load(info, found.get(k)) for k in positions]

    def _batch_key(self, info: ModelInfo, given: Any) -> dict[str, Any]:
        """The wire key for one key of ``batch_get``: a hash value or a (hash, range) tuple;
        for an entity, a mapping of its key fields."""
        if info.entity is not None:
            return key_from_values(info, self.converter, given, MISSING).item
        if isinstance(given, tuple):
            if len(given) == 2:
                return key_from_values(info, self.converter, given[0], given[1]).item
            if len(given) == 1 and info.range_key is None:
                return key_from_values(info, self.converter, given[0], MISSING).item
        elif info.range_key is None:
            return key_from_values(info, self.converter, given, MISSING).item
        shape = "a hash key value" if info.range_key is None else "(hash_key, range_key) tuples"
        raise ValidationError(
            f"{info.cls.__qualname__}: batch_get keys are {shape}, got {given!r:.60}",
            model=info.cls,
            value_type=type(given),
        )

    async def _get_chunk(
        self,
        table: str,
        names: tuple[str, ...],
        shared: dict[str, Any],
        chunk: list[KeyId],
        unique: dict[KeyId, tuple[dict[str, Any], Any]],
        found: dict[KeyId, dict[str, Any]],
        max_attempts: int,
        outage: Outage,
    ) -> tuple[list[KeyId], DynamORMError | None]:
        """Read up to 100 keys into ``found`` until done or out of attempts; returns the keys
        left unread and the error that ended the last attempt."""

        async def send_once(pending: list[KeyId]) -> list[KeyId]:
            params = {"RequestItems": {table: {**shared, "Keys": [unique[k][0] for k in pending]}}}
            response = await self._send(
                "BatchGetItem", params, Context("BatchGetItem", table, None)
            )
            for item in (response.get("Responses") or {}).get(table, []):
                found[key_id(item, names)] = item
            back = ((response.get("UnprocessedKeys") or {}).get(table) or {}).get("Keys") or []
            return [k for k in (key_id(key, names) for key in back) if k in unique]

        left, error, _ = await retry_chunk(chunk, send_once, max_attempts, self.batch_stats, outage)
        return left, error

    # -- batch_write ---------------------------------------------------------------------

    async def batch_write(
        self,
        *,
        put: Iterable[Any] = (),
        delete: Iterable[Any] = (),
        concurrency: int = 4,
        table_name: str | None = None,
        max_attempts: int = DEFAULT_ATTEMPTS,
    ) -> int:
        """Put and delete many items (BatchWriteItem), of any models and tables; returns how
        many writes were sent.

        ``put`` takes model instances; ``delete`` model instances or ``(Model, hash_key)`` /
        ``(Model, hash_key, range_key)`` tuples. Everything is checked and converted first
        (a bad item or one over 400 KB raises ``ValidationError`` and nothing is written).
        Each key is written once: among writes of the same table and key the later one wins,
        and deletes count as later than puts, so a key both put and deleted is deleted.

        Batch writes are unconditional: objects are written as they are, with no version
        check and no timestamps set; use ``put()`` or a transaction for checked writes. One
        thing is changed in the stored item: a version of 0 is stored as 1 (any other version
        as it is), so that a later checked write of an object with version 0 cannot overwrite
        it unnoticed; the objects passed in are not changed. Writes go 25 per request
        (several tables may share one), ``concurrency`` requests at a time; unprocessed
        items, throttles and transient errors are retried with backoff (at most
        ``max_attempts`` requests per 25 writes). When writes are left after that, the other
        requests still finish, then ``BatchIncomplete`` is raised with every write not made
        (the objects and delete targets as given) in ``unprocessed`` and the first error
        chained. When the endpoint cannot be reached (no connection or no answer after
        botocore's retries), no more requests are sent: the requests in flight are given up
        and every write not acknowledged is in ``unprocessed`` at once. A cancellation (a
        caller's ``asyncio.timeout``) stops every request of the call::

            sent = await db.batch_write(put=new_things, delete=[(Thing, "old", 1), stale])
        """
        check_options(concurrency, max_attempts)
        models: dict[type, None] = {}
        writes: dict[tuple[str, KeyId], Write] = {}
        for argument, values, prepare in (
            ("put", put, prepare_put),
            ("delete", delete, prepare_delete),
        ):
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise ValidationError(
                    f"batch_write: {argument}= takes an iterable (a list of model instances"
                    f"{' or (Model, hash[, range]) tuples' if argument == 'delete' else ''}), "
                    f"got {type(values).__qualname__}",
                    value_type=type(values),
                )
            for value in values:
                write = prepare(self, value, table_name, models)
                writes.pop(write.id, None)  # the later write of a key replaces the earlier
                writes[write.id] = write
        ordered = list(writes.values())
        stats = self.batch_stats
        unwritten: set[tuple[str, KeyId]] = set()
        errors: list[DynamORMError] = []
        outage = Outage()

        async def send(chunk: list[Write]) -> None:
            left, error, _ = await send_writes(self, chunk, max_attempts, stats, outage)
            unwritten.update(w.id for w in left)
            if error is not None:
                errors.append(error)

        size = BATCH_WRITE_SIZE
        chunks = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        with work(self._observers, "batch_write", writes=len(ordered)):
            await run_bounded([partial(send, c) for c in chunks], concurrency)
        if unwritten:
            raise incomplete(
                "BatchWriteItem",
                [w.original for w in ordered if w.id in unwritten],
                len(ordered) - len(unwritten),
                errors[0] if errors else None,
                "writes",
            )
        return len(ordered)

    def batch_writer(
        self,
        *,
        concurrency: int = 4,
        table_name: str | None = None,
        max_attempts: int = DEFAULT_ATTEMPTS,
    ) -> BatchWriter:
        """A buffered writer for a stream of puts and deletes (see ``BatchWriter``): writes
        go out 25 per request in the background, at most ``concurrency`` at a time; leaving
        the block sends the rest and raises ``BatchIncomplete`` for any write not made. As
        with ``batch_write``, writes are unconditional and a version of 0 is stored as 1;
        an unreachable endpoint fails the writes at once, and a cancellation stops the
        writer at once::

            async with db.batch_writer() as w:
                for thing in things:
                    await w.put(thing)
                await w.delete((Thing, "old", 1))
            print(w.written, "written,", w.retries, "retries")
        """
        return BatchWriter(
            self,
            self.batch_stats,
            concurrency=concurrency,
            table_name=table_name,
            max_attempts=max_attempts,
        )
