"""Lazy reads: ``Query`` and ``Scan`` objects, and the ``Page`` they return.

Nothing is sent until a read is iterated, or asked for a ``page()``, its ``first()`` item or
its ``count()``. Iteration fetches one page at a time, only when the caller wants more (no
read-ahead), so a caller that stops iterating stops the reading. A parallel scan runs its
segments as tasks that hand pages to the caller through a queue of at most two pages per
segment, so memory stays bounded however big the table (at most 2 x segments pages of up to
1 MB each); the tasks are cancelled as soon as the iteration ends, however it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

import attrs

from .._errors import ValidationError, whole_number
from .._model.models import ModelInfo
from .._observe.observers import work
from .._transport.translate import Context
from .base import SessionBase
from .cursor import cursor_scope, decode_cursor, encode_cursor

__all__ = ["SKIPPED", "Page", "Query", "Scan", "positive"]

T = TypeVar("T")
# What a collection's loader returns for an item no entity of it claims.
SKIPPED: Any = object()


@attrs.frozen
class Page(Generic[T]):
    """One page of results and the cursor of the next one (None on the last page).

    The cursor is an opaque URL-safe string: hand it to a client, take it back, pass it to
    ``page(cursor=...)``::

        page = await db.query(Order, "cust-1").page(size=20, cursor=request.query.get("next"))
        return {"items": page.items, "next": page.cursor}
    """

    items: list[T]
    cursor: str | None


class _Read(Generic[T]):
    """What Query and Scan share: the request, how rows load, paging and limits."""

    _operation = ""

    def __init__(
        self,
        session: SessionBase,
        info: ModelInfo,
        table: str,
        params: dict[str, Any],
        load: Callable[[Any], T],
        count_params: dict[str, Any],
        limit: int | None,
        page_size: int | None,
        has_filter: bool,
        *,
        skips: bool = False,
    ) -> None:
        self._session = session
        self._info = info
        self._table = table
        self._params = params
        self._load = load
        self._count_params = count_params
        self._limit = positive("limit", limit)
        self._page_size = positive("page_size", page_size)
        self._scope = cursor_scope(self._operation, params, self._limit)
        self._has_filter = has_filter
        self._skips = skips  # the loader may return SKIPPED (a collection)
        self.skipped = 0  # items read that no entity of the collection claims

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._info.cls.__qualname__} on {self._table!r}>"

    async def _request(self, params: dict[str, Any]) -> Any:
        ctx = Context(self._operation, self._table, None)
        return await self._session._send(self._operation, params, ctx)

    def _request_limit(self, wanted: int | None, exact: bool) -> int | None:
        # Limit counts items *read*, before the filter: with a filter it would cut pages
        # short, so it only sizes them, unless the position must be exact (page()).
        if wanted is None or (self._has_filter and not exact):
            return self._page_size
        return wanted if self._page_size is None else min(wanted, self._page_size)

    async def _rows(
        self, params: dict[str, Any], limit: int | None, *, exact: bool = False
    ) -> AsyncIterator[tuple[list[Any], Any]]:
        """(raw items, LastEvaluatedKey) page by page, each fetched only when wanted. With
        ``exact``, no request returns more than ``limit`` items, so the last
        LastEvaluatedKey is exactly where the next page starts."""
        params = dict(params)
        seen = 0
        while True:
            request_limit = self._request_limit(None if limit is None else limit - seen, exact)
            if request_limit is not None:
                params["Limit"] = request_limit
            response = await self._request(params)
            items = response.get("Items", [])
            if limit is not None:
                items = items[: limit - seen]
            seen += len(items)
            last = response.get("LastEvaluatedKey")
            yield items, last
            if last is None or (limit is not None and seen >= limit):
                return
            params["ExclusiveStartKey"] = last

    async def _items(self, params: dict[str, Any], limit: int | None) -> AsyncIterator[T]:
        load = self._load
        if not self._skips:
            async for items, _ in self._rows(params, limit):
                for item in items:
                    yield load(item)
            return
        kept = 0  # the limit counts the items yielded, not those skipped
        async for items, _ in self._rows(params, None):
            for item in items:
                loaded = load(item)
                if loaded is SKIPPED:
                    self.skipped += 1
                    continue
                yield loaded
                kept += 1
                if limit is not None and kept >= limit:
                    return

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items(self._params, self._limit)

    async def first(self) -> T | None:
        """The first item, or None; reads no more than it needs."""
        async for item in self._items(self._params, 1):
            return item
        return None

    async def page(self, size: int = 100, *, cursor: str | None = None) -> Page[T]:
        """Up to ``size`` items starting where ``cursor`` points (the start when None), and
        the cursor of the next page (None when there is none).

        The read's ``limit`` holds over all its pages: the page that reaches it is the last.
        A cursor only continues the query that made it: one from another read (another
        table, index, partition, range condition, filter, projection, direction or limit),
        or one that was edited, raises ``ValidationError``.
        """
        size = positive("size", size) or 0
        params = dict(self._params)
        offset = 0
        if cursor is not None:
            start, offset = decode_cursor(cursor, self._scope, self._cursor_key)
            params["ExclusiveStartKey"] = start
        if self._limit is not None:
            size = min(size, self._limit - offset)
        items: list[T] = []
        last: Any = None
        # Each request asks for at most what is still missing, so a page never stops in the
        # middle of DynamoDB's page and LastEvaluatedKey is exactly where the next one starts.
        if size > 0:
            async for rows, page_last in self._rows(params, size, exact=True):
                loaded = [self._load(row) for row in rows]
                kept = [i for i in loaded if i is not SKIPPED]
                self.skipped += len(loaded) - len(kept)
                items.extend(kept)
                last = page_last
        offset += len(items)
        if last is None or (self._limit is not None and offset >= self._limit):
            return Page(items, None)
        return Page(items, encode_cursor(last, self._scope, self._cursor_key, offset))

    async def count(self) -> int:
        """How many items match, over all pages (``Select=COUNT``: no items are sent), at
        most the read's ``limit``: counting stops there, as iterating would."""
        params = dict(self._count_params)
        limit = self._limit
        total = 0
        while True:
            request_limit = self._request_limit(None if limit is None else limit - total, False)
            if request_limit is not None:
                params["Limit"] = request_limit
            response = await self._request(params)
            total += int(response.get("Count", 0))
            if limit is not None and total >= limit:
                return limit
            last = response.get("LastEvaluatedKey")
            if last is None:
                return total
            params["ExclusiveStartKey"] = last

    @property
    def _cursor_key(self) -> bytes | None:
        key: bytes | None = getattr(self._session, "cursor_key", None)
        return key


class Query(_Read[T]):
    """A query, not sent yet: ``async for`` over it, or ``page()``, ``first()``,
    ``count()``. Made by ``db.query(...)``."""

    _operation = "Query"


class Scan(_Read[T]):
    """A scan, not sent yet: ``async for`` over it (segments in parallel when asked), or
    ``page()``, ``first()``, ``count()``. Made by ``db.scan(...)``."""

    _operation = "Scan"

    def __init__(self, *args: Any, segments: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._segments = segments

    def __aiter__(self) -> AsyncIterator[T]:
        if self._segments == 1:
            return self._items(self._params, self._limit)
        return self._parallel()

    async def _parallel(self) -> AsyncIterator[T]:
        """The segments' items as they arrive; each segment a task, at most two pages per
        segment waiting in the queue."""
        queue: asyncio.Queue[tuple[int, list[Any] | BaseException | None]] = asyncio.Queue(
            maxsize=2 * self._segments
        )

        async def run(segment: int) -> None:
            params = {**self._params, "Segment": segment, "TotalSegments": self._segments}
            try:
                async for items, _ in self._rows(params, None):
                    await queue.put((segment, items))
            except BaseException as exc:  # the caller sees it; cancellation ends quietly
                if not isinstance(exc, asyncio.CancelledError):
                    await queue.put((segment, exc))
                raise
            await queue.put((segment, None))

        observers = self._session._observers

        async def watched(segment: int) -> None:
            with work(observers, "scan.segment", table=self._table, segment=segment):
                await run(segment)

        async def drive() -> None:
            # One task holds the scan's unit of work, so its segments nest below it while the
            # caller's own code between items stays outside.
            with work(observers, "scan", table=self._table, segments=self._segments):
                await asyncio.gather(
                    *(watched(s) for s in range(self._segments)), return_exceptions=True
                )

        tasks = [asyncio.ensure_future(drive())]
        running, yielded, limit = self._segments, 0, self._limit
        try:
            while running:
                _, got = await queue.get()
                if got is None:
                    running -= 1
                    continue
                if isinstance(got, BaseException):
                    raise got
                for item in got:
                    yield self._load(item)
                    yielded += 1
                    if limit is not None and yielded >= limit:
                        return
        finally:
            for task in tasks:
                task.cancel()
            # Wait for the cancellations, so no task outlives the iteration.
            await asyncio.gather(*tasks, return_exceptions=True)

    async def page(self, size: int = 100, *, cursor: str | None = None) -> Page[T]:
        """One page, as for a query; not for a parallel scan (``segments`` > 1), whose
        segments have a position each: page one segment with ``segment=``."""
        if self._segments != 1:
            raise ValidationError(
                "page() works on a scan of one segment; use segment=i, total_segments=n to "
                "page through one segment of a parallel scan"
            )
        return await super().page(size, cursor=cursor)


def positive(name: str, value: int | None) -> int | None:
    return None if value is None else whole_number(name, value)
