"""The data copy: parallel scan -> transform -> batch write, resumable, with flat memory.

Every segment of a parallel scan is one task that reads a page, transforms it, and hands it
to a write task while it reads the next page (one page of read-ahead). A segment starts
writing a page only when the previous page's writes are done, so its position (the key the
next unwritten page starts from) is exact at every moment; those positions, for the
segments not finished, are the checkpoint. Writes go through the batch writer's retrying
``send_writes`` (unprocessed items, throttles, 5xx, lost connections), at most
``concurrency`` requests at a time over all segments.

Memory: at most two pages per segment are held (the one being written, the one just read),
each at most ``page_size`` items and 1 MB of wire data: 2 x segments pages however big the
table. Each item of a page exists in about three forms at once (the parsed answer, the
transformed item, the request), so count about 3 x 2 x segments x page bytes.

Stopping: at a deadline, on cancellation or on an error, no new page is read, the writes in
flight finish, and the checkpoint points at the first page not written.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from .._errors import DynamORMError, MigrationError, ValidationError
from .._expr.compile import ExpressionContext
from .._observe.observers import Usage, work
from .._ops.base import SessionBase
from .._ops.batch_writer import (
    BATCH_WRITE_SIZE,
    BatchStats,
    Outage,
    Write,
    incomplete,
    is_unreachable,
    key_id,
    send_writes,
)
from .._ops.keys import key_of_item
from .._ops.locking import never_zero
from .._single_table.reads import type_filter
from .._throughput.budget import using
from .._transport.translate import Context
from .._wire.item_size import check_item_size
from .copy_options import CHECKED, CopyOptions, CopyTables
from .live import CheckedWriter, bump_version, is_marked
from .migration_report import (
    Failure,
    MigrationReport,
    Progress,
    SegmentReport,
    checkpoint_of,
)

__all__ = ["Copy", "answer_cancellation"]

_log = logging.getLogger("dynamorm_async")

_PROGRESS_EVERY = 0.25  # seconds between on_progress calls

_Entry = tuple[dict[str, Any], list[Write]]  # a source item and the writes it became


class _Segment:
    __slots__ = ("done", "scanned", "written")

    def __init__(self) -> None:
        self.scanned = 0
        self.written = 0
        self.done = False


class Copy:
    """One run of a copy over some segments of a ``total_segments`` split."""

    def __init__(
        self,
        session: SessionBase,
        tables: CopyTables,
        options: CopyOptions,
        *,
        total_segments: int,
        starts: dict[int, dict[str, Any] | None],
        usage: Usage | None = None,
    ) -> None:
        self.session = session
        self.tables = tables
        self.options = options
        self.source_table = tables.source
        self.target_table = tables.target
        self.total_segments = total_segments
        self.starts = dict(starts)  # segment -> key its next unwritten page starts from
        self.in_place = tables.in_place
        self.segments = {s: _Segment() for s in starts}
        self.skipped = 0
        self.failures: list[Failure] = []
        self.fatal: tuple[BaseException, dict[str, Any] | None] | None = None
        self.stats = BatchStats()
        # One for the whole copy: the first chunk that finds the endpoint unreachable stops
        # every other chunk's retries at once, so the copy fails within one retry budget.
        self.outage = Outage()
        self.checked = CheckedWriter(
            session, tables, options, self._convert_one, self.stats, self.outage
        )
        self.started = 0.0
        self.usage = usage  # what the copy consumed, while someone watches
        self._last_tick = (0.0, 0)  # (time, scanned) of the last progress, for the rate
        self._saving: asyncio.Lock | None = None
        self._ended = False  # None, "nothing left", was handed to on_checkpoint

    # -- the run ---------------------------------------------------------------------------

    async def run(self) -> MigrationReport:
        """Copy every segment in ``starts``; returns the report, or raises ``MigrationError``
        (``on_error="raise"``). A cancellation ends the copy early and returns the report,
        whose checkpoint resumes it."""
        _log.info(
            "copy %r -> %r: %d of %d segments",
            self.source_table,
            self.target_table,
            len(self.starts),
            self.total_segments,
        )
        with using(self.options.budget):
            report = await self._run()
        _log.info(
            "copy %r -> %r ended (%s): %d scanned, %d written, %d skipped, %d failed in %.1f s",
            self.source_table,
            self.target_table,
            report.stopped or "complete",
            report.scanned,
            report.written,
            report.skipped,
            report.failed,
            report.duration,
        )
        return report

    async def _run(self) -> MigrationReport:
        self.started = time.monotonic()
        self.stop = asyncio.Event()
        self.gate = asyncio.Semaphore(self.options.concurrency)
        tasks = [asyncio.ensure_future(self._segment(s)) for s in sorted(self.starts)]
        self._saving = asyncio.Lock()
        on_progress = self.options.on_progress
        ticker = asyncio.ensure_future(self._tick()) if on_progress else None
        stopped: str | None = None
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            stopped = "cancelled"
            self.stop.set()
            for task in tasks:
                task.cancel()
            # Each segment finishes its writes in flight before it ends.
            await asyncio.gather(*tasks, return_exceptions=True)
            answer_cancellation()
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
        if on_progress is not None:
            await _call(on_progress, self.progress())
        if self.fatal is not None:
            stopped = "error"
        elif stopped is None and self.starts:
            stopped = "deadline"
        report = self.report(stopped)
        if self.fatal is not None:
            error, key = self.fatal
            raise MigrationError(
                f"copy {self.source_table!r} -> {self.target_table!r} stopped: {error} "
                f"(written so far: {report.written}; resume from report.checkpoint once fixed)",
                report=report,
                key=key,
            ) from error
        return report

    def _stopping(self) -> bool:
        deadline = self.options.deadline
        if deadline is not None and time.monotonic() >= deadline:
            self.stop.set()
        return self.stop.is_set()

    def _fail(self, error: BaseException, key: dict[str, Any] | None) -> None:
        if self.fatal is None:
            self.fatal = (error, key)
        self.stop.set()

    async def _segment(self, segment: int) -> None:
        observers = self.session._observers
        with work(observers, "copy.segment", table=self.source_table, segment=segment):
            await self._copy_segment(segment)

    async def _copy_segment(self, segment: int) -> None:
        counts = self.segments[segment]
        key = self.starts[segment]
        params: dict[str, Any] = {
            "TableName": self.source_table,
            "Segment": segment,
            "TotalSegments": self.total_segments,
            "Limit": self.options.page_size,
        }
        source_info = self.tables.source_info
        if source_info is not None and source_info.entity is not None:
            # A shared table: only this entity's items, filtered as its scans are.
            names = ExpressionContext(source_info, self.session.converter)
            params["FilterExpression"] = type_filter(names, source_info.entity)
            params["ExpressionAttributeNames"] = names.names
            params["ExpressionAttributeValues"] = names.values
        ctx = Context("Scan", self.source_table, None)
        pending: tuple[asyncio.Task[None], dict[str, Any] | None] | None = None
        try:
            while not self._stopping():
                request = dict(params)
                if key is not None:
                    request["ExclusiveStartKey"] = key
                response = await self.session._send("Scan", request, ctx)
                items = response.get("Items", [])
                last = response.get("LastEvaluatedKey")
                counts.scanned += len(items)
                writes = await self._convert(items)
                if writes is None:  # a transform failed and the copy stops: not written
                    break
                if pending is not None and not await self._settle(segment, *pending):
                    pending = None
                    break
                pending = (asyncio.ensure_future(self._write(writes, counts)), last)
                if last is None:
                    break
                key = last
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a scan failed for good, or a bug: stop, writes accounted
            self._fail(exc, None)
        finally:
            if pending is not None:
                await self._settle(segment, *pending)

    async def _settle(
        self, segment: int, task: asyncio.Task[None], next_key: dict[str, Any] | None
    ) -> bool:
        """Wait for a page's writes (they finish even when this is cancelled) and move the
        segment's position past the page when they all succeeded."""
        cancelled = False
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
            # A segment can be cancelled more than once (by gather passing the caller's
            # cancellation down, and by run()); every one of them must still wait here, or
            # the report would miss writes that are still being sent.
            while not task.done():
                try:
                    await asyncio.wait({task})
                except asyncio.CancelledError:
                    continue
        except Exception:
            pass
        ok = not task.cancelled() and task.exception() is None
        if ok and next_key is None:
            del self.starts[segment]
            self.segments[segment].done = True
        elif ok:
            self.starts[segment] = next_key
        if ok and self.options.on_checkpoint is not None:
            await self._save_checkpoint()
        if cancelled:
            raise asyncio.CancelledError
        return ok

    async def _save_checkpoint(self) -> None:
        """Hand ``on_checkpoint`` the checkpoint of this moment, one call at a time (each
        gets the newest positions, so a slow callback is never handed an old one last)."""
        callback = self.options.on_checkpoint
        assert callback is not None and self._saving is not None
        async with self._saving:
            checkpoint = checkpoint_of(self.source_table, self.total_segments, self.starts)
            if checkpoint is None:
                # Segments ending together each wait here and all find nothing left: the
                # end is said once, last.
                if self._ended:
                    return
                self._ended = True
            try:
                result = callback(checkpoint)
                if inspect.isawaitable(result):
                    await asyncio.shield(asyncio.ensure_future(result))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a checkpoint that cannot be kept stops the copy
                self._fail(exc, None)

    async def _write(self, entries: list[_Entry], counts: _Segment) -> None:
        if self.options.dry_run:
            counts.written += sum(len(w) for _, w in entries)
            return
        checked = self.options.writes == CHECKED
        batch: list[Write] = []
        single: list[_Entry] = []
        for source, writes in entries:
            # In place, a new key is written with the old one deleted in one transaction.
            source_id = key_id(source, self.tables.target_keys) if self.in_place else None
            moved = self.in_place and any(w.id[1] != source_id for w in writes)
            if checked or moved:
                single.append((source, writes))
            else:
                batch += writes
        unique = list({w.id: w for w in batch}.values())  # the later write of a key wins
        chunks = [unique[i : i + BATCH_WRITE_SIZE] for i in range(0, len(unique), BATCH_WRITE_SIZE)]
        jobs = [self._send_chunk(c, counts) for c in chunks]
        jobs += [self._send_checked(source, writes, counts) for source, writes in single]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                self._fail(result, None)
                raise result

    async def _send_chunk(self, chunk: list[Write], counts: _Segment) -> None:
        async with self.gate:
            left, error, _ = await send_writes(
                self.session, chunk, self.options.max_attempts, self.stats, self.outage
            )
        counts.written += len(chunk) - len(left)
        if not left:
            return
        failure = incomplete(
            "BatchWriteItem", [w.original for w in left], len(chunk) - len(left), error, "items"
        )
        if self.options.on_error == "skip":  # recorded like a failed transform; the copy goes on
            self.failures += [Failure(self._target_key(w), failure) for w in left]
            return
        self._fail(failure, self._target_key(left[0]))
        raise failure

    async def _send_checked(
        self, source: dict[str, Any], writes: list[Write], counts: _Segment
    ) -> None:
        async with self.gate:
            try:
                # Awaited first: ``x += await f()`` would read x before the await.
                written = await self.checked.write(source, writes)
                counts.written += written
                return
            except Exception as exc:  # a write refused, or a transform run again failed
                error: Exception = exc
        key = self.tables.source_key(source)
        unreachable = isinstance(error, DynamORMError) and is_unreachable(error)
        if self.options.on_error == "skip" and not unreachable:
            self.failures.append(Failure(key, error))
            return
        self._fail(error, key)
        raise error

    def _target_key(self, write: Write) -> dict[str, Any]:
        item = write.request["PutRequest"]["Item"]
        return {n: item[n] for n in self.tables.target_keys if n in item}

    # -- transforming --------------------------------------------------------------------

    async def _convert(self, items: list[dict[str, Any]]) -> list[_Entry] | None:
        """Each source item of a page with the writes it became; None when a failure stops
        the copy. Items carrying the copy's mark were written by it (or by code that writes
        the new shape already): they are left alone."""
        entries: list[_Entry] = []
        mark = self.options.mark
        for item in items:
            if mark is not None and is_marked(item, mark):
                self.checked.counts.already += 1
                continue
            try:
                entries.append((item, await self._convert_one(item)))
            except Exception as exc:
                key = self.tables.source_key(item)
                if self.options.on_error == "skip":
                    self.failures.append(Failure(key, exc))
                    continue
                self._fail(exc, key)
                return None
        return entries

    async def _convert_one(self, item: dict[str, Any]) -> list[Write]:
        transform = self.options.transform
        if transform is None:
            outputs: list[Any] = [item]
        else:
            argument = (
                item
                if self.options.raw
                else self.session.converter.load_item(self._source_cls(), item)
            )
            result = transform(argument)
            if inspect.isawaitable(result):
                result = await result
            if result is None:
                self.skipped += 1
                return []
            outputs = list(result) if isinstance(result, (list, tuple)) else [result]
        writes = [self._write_for(out, item) for out in outputs]
        if self.in_place and self.options.mark is None:
            source_id = key_id(item, self.tables.target_keys)
            for w in writes:
                if w.id[1] != source_id:
                    raise ValidationError(
                        f"the transform turned {source_id!r} into {w.id[1]!r}: an in-place "
                        f"rewrite of {self.source_table!r} that changes keys needs mark= "
                        "(an attribute every item it writes gets), so that the new items are "
                        "not transformed again when the scan meets them"
                    )
        return writes

    def _source_cls(self) -> type:
        assert self.tables.source_info is not None  # raw=False needs a source model
        return self.tables.source_info.cls

    def _write_for(self, out: Any, source: dict[str, Any]) -> Write:
        """The checked PutRequest for one transform output of ``source``."""
        tables = self.tables
        if self.options.raw or self.options.transform is None:
            if not isinstance(out, Mapping):
                raise ValidationError(
                    f"a raw transform returns attribute dicts (or None, or a list of them), "
                    f"got {type(out).__qualname__}"
                )
            item = dict(out)
            for name in tables.target_keys:
                av = item.get(name)
                if not isinstance(av, Mapping) or not av or next(iter(av.values())) in ("", b""):
                    raise ValidationError(
                        f"an item for {self.target_table!r} lacks its key attribute {name!r}: "
                        f"got {item!r:.120}"
                    )
            key = {n: item[n] for n in tables.target_keys}
        else:
            target = tables.target_info
            assert target is not None
            if not isinstance(out, target.cls):
                raise ValidationError(
                    f"the transform returns {target.cls.__qualname__} (or None, or a list), "
                    f"got {type(out).__qualname__}"
                )
            item = self.session.converter.dump_item(out)  # refuses a missing or empty key
            key = key_of_item(target, item)
        if self.in_place:
            bump_version(item, tables, source)  # what it was scanned with, plus one
        else:
            never_zero(tables.target_info, item)
        if self.options.mark is not None:
            item.update(self.options.mark)
        check_item_size(item, lambda: f"an item for {self.target_table!r} with key {key!r:.120}")
        return Write(
            self.target_table, tables.target_keys, key, {"PutRequest": {"Item": item}}, out
        )

    # -- reporting -----------------------------------------------------------------------

    def progress(self) -> Progress:
        """Counts so far."""
        now = time.monotonic()
        scanned = sum(s.scanned for s in self.segments.values())
        then, before = self._last_tick
        rate = (scanned - before) / (now - then) if then and now > then else None
        self._last_tick = (now, scanned)
        usage = self.usage
        live = self.checked.counts
        return Progress(
            scanned=scanned,
            written=sum(s.written for s in self.segments.values()),
            skipped=self.skipped,
            failed=len(self.failures),
            retried=self.stats.retries + self.checked.counts.retried,
            segments_done=sum(s.done for s in self.segments.values()),
            segments=len(self.segments),
            elapsed=now - self.started,
            read_units=None if usage is None else usage.read_units,
            write_units=None if usage is None else usage.write_units,
            current_rate=rate,
            conflicts=live.conflicts,
            existing=live.existing,
            already=live.already,
        )

    async def _tick(self) -> None:
        on_progress = self.options.on_progress
        assert on_progress is not None
        while True:
            await asyncio.sleep(_PROGRESS_EVERY)
            await _call(on_progress, self.progress())

    def report(self, stopped: str | None) -> MigrationReport:
        """The report of the run so far."""
        p = self.progress()
        return MigrationReport(
            source=self.source_table,
            target=self.target_table,
            scanned=p.scanned,
            written=p.written,
            skipped=p.skipped,
            failed=p.failed,
            retried=p.retried,
            failures=tuple(self.failures),
            segments=tuple(
                SegmentReport(s, c.scanned, c.written, c.done)
                for s, c in sorted(self.segments.items())
            ),
            duration=p.elapsed,
            checkpoint=checkpoint_of(self.source_table, self.total_segments, self.starts),
            stopped=stopped,
            dry_run=self.options.dry_run,
            read_units=p.read_units,
            write_units=p.write_units,
            conflicts=p.conflicts,
            existing=p.existing,
            already=p.already,
        )


def answer_cancellation() -> None:
    """Take back the cancellation of the current task: it is answered with a report."""
    current = asyncio.current_task()
    if current is not None and sys.version_info >= (3, 11):
        current.uncancel()


async def _call(callback: Callable[[Progress], Any], progress: Progress) -> None:
    result = callback(progress)
    if inspect.isawaitable(result):
        await result
