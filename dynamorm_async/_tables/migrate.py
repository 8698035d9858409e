"""The table manager: the table life cycle plus the data migrations, ``copy`` and
``auto_migrate``.

Stateless by design: no migration table, no history. What a stopped copy needs to go on is
in its report's ``checkpoint``, which the caller keeps; ``copy`` takes any subset of the
segments of a split, so several workers (processes, fanned-out Lambda invocations) can each
copy a disjoint shard. See ``copy.py`` for the pipeline and its memory bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from .._errors import MigrationError, TableNotFound, ValidationError, whole_number
from .._model.models import ModelInfo, is_table_name, model_info
from .._observe.observers import work
from .._throughput.budget import Budget, check_rate
from .._transport.translate import Context
from .copy import Copy, answer_cancellation
from .copy_options import BATCH, CHECKED, CopyOptions, CopyTables, wire_mark
from .description import KeyElement, TableDescription
from .lifecycle import TableLifecycle
from .migration_report import (
    MigrationReport,
    Progress,
    Verification,
    checkpoint_of,
    read_checkpoint,
)

__all__ = ["TableManager"]

_DEFAULT_SEGMENTS = 16
_PAGE_SIZE = 500
_MAX_SEGMENTS = 1_000_000
_ON_ERROR = ("raise", "skip")
_DEFAULT_TIMEOUT = 300.0
# The copy options that hold for the backup too; the others (a transform, a checkpoint to
# resume, marks) belong to the migration.
_BACKUP_OPTIONS = (
    "segments",
    "concurrency",
    "on_progress",
    "page_size",
    "max_attempts",
    "dry_run",
    "max_read_units",
    "max_write_units",
    "capacity",
)


class TableManager(TableLifecycle):
    """Table operations for a session's models; reach it as ``db.tables``::

        await db.tables.create(Order)                 # CreateTable, then wait until usable
        await db.tables.ensure(Order)                 # create if missing, else check schema
        await db.tables.ensure_all(User, Post)        # concurrently
        desc = await db.tables.describe(Order)        # a typed TableDescription
        await db.tables.delete(Order, missing_ok=True)
        report = await db.tables.auto_migrate(UserV1, target=UserV2, transform=upgrade)

    Table names follow the session: ``table_prefix`` + the model's table, or ``table_name=``.
    """

    async def copy(
        self,
        source: type | str,
        target: type | str | None = None,
        *,
        transform: Callable[[Any], Any] | None = None,
        raw: bool = False,
        segments: int | Iterable[int] = _DEFAULT_SEGMENTS,
        total_segments: int | None = None,
        resume: dict[str, Any] | None = None,
        deadline: float | None = None,
        concurrency: int = 8,
        page_size: int = _PAGE_SIZE,
        on_progress: Callable[[Progress], Any] | None = None,
        on_error: str = "raise",
        dry_run: bool = False,
        verify: bool = False,
        max_attempts: int = 10,
        source_table: str | None = None,
        target_table: str | None = None,
        on_checkpoint: Callable[[dict[str, Any] | None], Any] | None = None,
        mark: Mapping[str, str | int] | None = None,
        offline: bool = False,
        skip_existing: bool = False,
        max_read_units: float | None = None,
        max_write_units: float | None = None,
        capacity: float | None = None,
    ) -> MigrationReport:
        """Copy every item of ``source``'s table into ``target``'s (the same table when
        ``target`` is None: an in-place rewrite, which must keep every key), through
        ``transform``, with a parallel scan and batch writes::

            report = await db.tables.copy(UserV1, UserV2, transform=upgrade, segments=16)
            report = await db.tables.copy(UserV1, UserV2, transform=upgrade,
                                          segments=range(0, 4), total_segments=16,
                                          resume=checkpoint, deadline=time.monotonic() + 600)

        - ``transform(item)`` returns the new item, None (skip it) or a list of items; sync
          or async. It gets and returns models, or raw attribute dicts with ``raw=True``
          (``source`` may then be a table name, when the old model is gone from the code).
          Without a transform, items are copied as they are stored.
        - ``segments``: how many scan segments (all of them), or which ones of a
          ``total_segments`` split, so K workers can each copy a disjoint shard.
        - ``deadline`` (a ``time.monotonic()`` value) or a cancellation stops reading, lets
          the writes in flight finish and returns a report whose ``checkpoint`` (JSON) goes
          back in as ``resume=`` to continue exactly there.
        - ``on_error="raise"`` (default) stops at the first failing item and raises
          ``MigrationError`` with the report; ``"skip"`` records each failure and goes on.
        - ``dry_run`` reads and transforms, writes nothing, and reports what it would write.
          ``verify`` counts source and target afterwards into ``report.verification``.
        - Memory stays flat: at most two pages (``page_size`` items, and 1 MB, each) per
          segment are held at any moment.
        - ``on_checkpoint(checkpoint)`` (sync or async) is called after each page's writes,
          with the checkpoint that resumes exactly there (None once everything is copied):
          save it, and a copy killed at any moment goes on with ``resume=``.

        Live tables (see the README's "Migrations on live tables"):

        - In place, a versioned model's items are written back with a condition on the
          version they were scanned with, and the version bumped; an item the application
          changed meanwhile is read again, transformed again and written again
          (``report.conflicts``). An unversioned table is refused, since a write could
          undo one the application made meanwhile, unless ``offline=True`` says nobody
          writes it during the copy (then items go in batch writes, unchecked).
        - ``mark={"schema": 2}``: every item written gets these attributes, and items that
          carry them already are left alone (``report.already``). An in-place transform
          may change keys only with a mark: the new item is written and the old one deleted
          in one transaction.
        - ``skip_existing=True`` (into another table the application writes already):
          an item the target holds is kept, unless it is an older version of a versioned
          model (``report.existing``).
        - ``max_read_units``/``max_write_units`` (per second, all segments together), or
          ``capacity=0.25`` of a provisioned table's (or an on-demand table's maximum)
          throughput, read from DescribeTable (the source's reads, the target's writes; an
          uncapped on-demand side is not limited by it): the copy is paced by the capacity
          DynamoDB reports, and slowed further while DynamoDB throttles it.
        """
        session = self._session
        source_info, source_name = _table_of(session, source, source_table, "source")
        if target is None and target_table is None:
            target_info, target_name = source_info, source_name
        else:
            target_info, target_name = _table_of(
                session, target if target is not None else source, target_table, "target"
            )
        if not raw and transform is not None and source_info is None:
            raise ValidationError(
                f"source {source!r} is a table name: a transform needs raw=True to take raw "
                "items, or the source model"
            )
        if not raw and transform is not None and target_info is None:
            raise ValidationError("a target given by table name needs raw=True")
        _check_choice("on_error", on_error, _ON_ERROR)
        whole_number("concurrency", concurrency)
        whole_number("page_size", page_size)
        whole_number("max_attempts", max_attempts)
        read_limit = check_rate("max_read_units", max_read_units)
        write_limit = check_rate("max_write_units", max_write_units)
        if capacity is not None and (
            isinstance(capacity, bool)
            or not isinstance(capacity, (int, float))
            or not 0 < capacity <= 1
        ):
            raise ValidationError(
                f"capacity takes the share of the table's throughput to use, above 0 and at "
                f"most 1 (0.25 for a quarter), got {capacity!r:.60}"
            )
        for name, value in (("offline", offline), ("skip_existing", skip_existing)):
            if not isinstance(value, bool):
                raise ValidationError(f"{name} takes True or False, got {value!r:.60}")
        if on_checkpoint is not None and not callable(on_checkpoint):
            raise ValidationError(f"on_checkpoint takes a callable, got {on_checkpoint!r:.60}")
        in_place = source_name == target_name
        if in_place and skip_existing:
            raise ValidationError(
                "skip_existing=True is for a copy into another table; in place, each item is "
                "written with a condition on its version instead"
            )
        if offline and not in_place:
            raise ValidationError(
                "offline=True is for an in-place rewrite; a copy into another table writes "
                "batches unless skip_existing=True"
            )
        versioned = source_info is not None and source_info.version is not None
        if in_place and not versioned and not offline and not dry_run:
            raise ValidationError(
                f"an in-place rewrite of {source_name!r} cannot check its writes: the items "
                "have no version, so a write could undo one the application makes during "
                "the copy. Give the model a version field (version=...) to have every write "
                "checked, or pass offline=True if nothing writes the table while it runs"
            )
        total, starts = _segments(source_name, segments, total_segments, resume)
        if verify and (resume is not None or len(starts) != total):
            raise ValidationError(
                "verify=True compares whole tables with what this run wrote: use it on a copy "
                "of every segment in one run, not with resume= or a subset of segments"
            )
        observers = session._observers
        budgeted = read_limit is not None or write_limit is not None or capacity is not None
        # A budget paces by the capacity DynamoDB reports: it is asked for from the start,
        # so the copy's unit of work (below) adds it up for the report.
        with (
            observers.budget() if budgeted else contextlib.nullcontext(),
            work(
                observers,
                "copy",
                source=source_name,
                target=target_name,
                segments=len(starts),
                total_segments=total,
            ) as usage,
        ):
            try:
                source_desc, target_desc, target_keys = await self._copy_tables(
                    source_name, target_name, target_info, dry_run=dry_run
                )
            except asyncio.CancelledError:
                # Cancelled before the first page: answered like a cancellation mid-copy, with a
                # report whose checkpoint is where this run was asked to start.
                answer_cancellation()
                return attrs.evolve(
                    _empty_report(source_name),
                    target=target_name,
                    checkpoint=checkpoint_of(source_name, total, starts),
                    stopped="cancelled",
                    dry_run=dry_run,
                )
            if capacity is not None:
                read_limit = read_limit or _share(source_desc, "read", capacity)
                write_limit = write_limit or _share(target_desc, "write", capacity)
                if read_limit is None and write_limit is None and not dry_run:
                    raise ValidationError(
                        f"capacity={capacity} is a share of a table's throughput, but "
                        f"{source_name!r} and {target_name!r} are on demand without a "
                        "maximum throughput: give max_read_units=/max_write_units= instead",
                        table=target_name,
                    )
            budget = None
            if read_limit is not None or write_limit is not None:
                budget = Budget(read_limit, write_limit)
            elif session._budget is not None:  # the session's, for every request of the copy
                budget = session._budget.for_every_request()
            tables = CopyTables(
                source=source_name,
                target=target_name,
                source_info=source_info,
                target_info=target_info,
                source_keys=tuple(k.name for k in source_desc.key_schema),
                target_keys=target_keys,
            )
            options = CopyOptions(
                transform=transform,
                raw=raw,
                on_error=on_error,
                dry_run=dry_run,
                concurrency=concurrency,
                max_attempts=max_attempts,
                page_size=page_size,
                deadline=deadline,
                on_progress=on_progress,
                on_checkpoint=on_checkpoint,
                mark=_entity_mark(source_info, target_info, wire_mark(mark, target_keys)),
                writes=CHECKED if (in_place and not offline) or skip_existing else BATCH,
                budget=budget,
            )
            run = Copy(session, tables, options, total_segments=total, starts=starts, usage=usage)
            report = await run.run()
            if verify and not dry_run and report.complete:
                try:
                    if in_place:  # one table, counted once
                        source_count = target_count = await self._count(source_name, total)
                    else:
                        source_count, target_count = await asyncio.gather(
                            self._count(source_name, total), self._count(target_name, total)
                        )
                except asyncio.CancelledError:  # the copy is complete: its report, unverified
                    answer_cancellation()
                    return report
                expected = source_count if in_place else report.written
                report = attrs.evolve(
                    report, verification=Verification(source_count, target_count, expected)
                )
            return report

    async def _copy_tables(
        self, source_name: str, target_name: str, target_info: ModelInfo | None, *, dry_run: bool
    ) -> tuple[TableDescription, TableDescription | None, tuple[str, ...]]:
        """The live description of a copy's source table and the key names of its target.
        A dry run writes nothing, so its target need not exist yet: its keys are then the
        target model's, or (a backup, a raw copy) the source's."""
        source_desc = await self._describe_table(source_name)
        if source_desc is None:
            raise TableNotFound(
                f"source table {source_name!r} does not exist", operation="Scan", table=source_name
            )
        target_desc: TableDescription | None = source_desc
        if target_name != source_name:
            target_desc = await self._describe_table(target_name)
            if target_desc is None and dry_run:
                if target_info is not None:
                    return source_desc, None, target_info.key_names()
                return source_desc, None, tuple(k.name for k in source_desc.key_schema)
            if target_desc is None:
                raise TableNotFound(
                    f"target table {target_name!r} does not exist (ensure it first)",
                    operation="BatchWriteItem",
                    table=target_name,
                )
        assert target_desc is not None
        return source_desc, target_desc, tuple(k.name for k in target_desc.key_schema)

    async def auto_migrate(
        self,
        model: type,
        target: type | None = None,
        *,
        transform: Callable[[Any], Any] | None = None,
        backup_table: str | None = None,
        overwrite_backup: bool = False,
        **copy_options: Any,
    ) -> MigrationReport:
        """Bring a model's data to where the code is, statelessly.

        ``auto_migrate(Model)`` ensures the table (as ``ensure``). With ``target``, it
        ensures the target's table, then copies every item through ``transform`` (see
        ``copy`` for ``segments``, ``concurrency``, ``on_progress``, ``on_error``,
        ``dry_run``, ``verify``, ``raw``, ``deadline``, ``resume``). With ``transform`` and no
        target, it rewrites the table in place. ``backup_table`` first copies every item
        into a table created with the source table's live key schema, indexes and billing
        mode (read from DescribeTable); an existing, non-empty backup table is refused
        unless ``overwrite_backup=True``, and no table is ever deleted. With
        ``dry_run=True`` nothing is created or written: the tables that exist are checked
        as a real run would check them, the items are read and transformed, and the report
        says what would be written (an empty one when the source table does not exist)::

            report = await db.tables.auto_migrate(UserV1, target=UserV2, transform=upgrade,
                                                  backup_table="users_v1_backup", segments=16)
        """
        session = self._session
        if backup_table is not None and copy_options.get("resume") is not None:
            raise ValidationError(
                "resume= continues a copy whose backup was taken already: call copy() with "
                "the checkpoint instead of auto_migrate(backup_table=...)"
            )
        dry_run = bool(copy_options.get("dry_run"))
        name = session.table_name(model)
        checked = await (self._check_existing(model) if dry_run else self.ensure(model))
        if checked is None:  # a dry run: nothing to read, and it creates nothing
            return attrs.evolve(_empty_report(name), dry_run=True)
        source_desc = checked
        backup_report = None
        if backup_table is not None:
            await self._prepare_backup(source_desc, backup_table, overwrite_backup, dry_run)
            options = {k: v for k, v in copy_options.items() if k in _BACKUP_OPTIONS}
            backup_report = await self.copy(
                model, backup_table, target_table=backup_table, raw=True, **options
            )
            if not backup_report.complete:  # cancelled: nothing may be migrated unbacked
                raise MigrationError(
                    f"the backup of {name!r} into {backup_table!r} did not complete "
                    f"({backup_report.stopped}); nothing was migrated",
                    report=backup_report,
                    key=None,
                )
        if target is None and transform is None:
            report = _empty_report(name)
        else:
            if target is not None:
                await (self._check_existing(target) if dry_run else self.ensure(target))
            report = await self.copy(model, target, transform=transform, **copy_options)
        return attrs.evolve(report, backup=backup_report)

    async def _prepare_backup(
        self, source: TableDescription, name: str, overwrite: bool, dry_run: bool
    ) -> None:
        """Create the backup table like the live source table (not in a dry run), or check
        the existing one."""
        session = self._session
        existing = await self._describe_table(name)
        if existing is None and dry_run:
            return
        if existing is None:
            await session._send(
                "CreateTable", _like(source, name), Context("CreateTable", name, None)
            )
            await self._wait(name, deleted=False, timeout=_DEFAULT_TIMEOUT)
            return
        # Names, roles and types (S, N, B): a key of another type would refuse every item.
        if existing.key_schema != source.key_schema:
            raise ValidationError(
                f"backup table {name!r} exists with another key schema than {source.name!r}"
            )
        probe = await session._send(
            "Scan", {"TableName": name, "Limit": 1}, Context("Scan", name, None)
        )
        if probe.get("Items") and not overwrite:
            raise ValidationError(
                f"backup table {name!r} exists and holds items; pass overwrite_backup=True to "
                "write the backup over them (nothing is deleted), or name another table"
            )

    async def _count(self, name: str, segments: int) -> int:
        """The items of a table, counted with a parallel COUNT scan."""
        session = self._session
        ctx = Context("Scan", name, None)

        async def count(segment: int) -> int:
            params: dict[str, Any] = {
                "TableName": name,
                "Select": "COUNT",
                "Segment": segment,
                "TotalSegments": segments,
            }
            total = 0
            while True:
                response = await session._send("Scan", params, ctx)
                total += int(response.get("Count", 0))
                if "LastEvaluatedKey" not in response:
                    return total
                params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

        return sum(await asyncio.gather(*(count(s) for s in range(segments))))


def _table_of(
    session: Any, what: type | str, table_name: str | None, role: str
) -> tuple[ModelInfo | None, str]:
    """(model or None, physical table name) of a copy's source or target: a model (its
    table through the session's prefix, or ``table_name``) or a physical table name."""
    if isinstance(what, str):
        name = table_name or what
        if not is_table_name(name):
            raise ValidationError(f"{role} {name!r} is not a valid table name")
        return None, name
    if not isinstance(what, type):
        raise ValidationError(f"{role} must be a model class or a table name, got {what!r:.60}")
    info = model_info(what)
    return info, session.table_name(what, table_name)


def _entity_mark(
    source: ModelInfo | None, target: ModelInfo | None, mark: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The mark of a copy: ``mark``, plus the target's type when one entity of a shared
    table becomes another (its type tells the copied items from those still to copy)."""
    old = source.entity if source is not None else None
    new = target.entity if target is not None else None
    if old is None or new is None or old.type_name == new.type_name:
        return mark
    return {**(mark or {}), new.type_attribute: {"S": new.type_name}}


def _share(desc: TableDescription | None, kind: str, capacity: float) -> float | None:
    """``capacity`` of a table's ``kind`` throughput per second: of its provisioned units,
    or of its on-demand maximum; None when it has neither (on demand, uncapped)."""
    if desc is None:  # a dry run into a table not created yet: nothing is written
        return None
    if desc.provisioned is not None:
        units = desc.provisioned.read if kind == "read" else desc.provisioned.write
        return max(units * capacity, 1.0)
    on_demand = desc.raw.get("OnDemandThroughput") or {}
    maximum = on_demand.get("MaxReadRequestUnits" if kind == "read" else "MaxWriteRequestUnits")
    if isinstance(maximum, int) and maximum > 0:
        return max(maximum * capacity, 1.0)
    return None


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValidationError(f"{name} takes one of {', '.join(choices)}, got {value!r}")


def _segments(
    source: str,
    segments: int | Iterable[int],
    total_segments: int | None,
    resume: dict[str, Any] | None,
) -> tuple[int, dict[int, dict[str, Any] | None]]:
    """(total_segments, segment -> start key) for a run."""
    if resume is not None:
        total, starts = read_checkpoint(resume, source)
        if total_segments is not None and total_segments != total:
            raise ValidationError(
                f"the checkpoint splits the table in {total} segments, not {total_segments}"
            )
        return total, starts
    if isinstance(segments, int) and not isinstance(segments, bool):
        if total_segments is not None and total_segments != segments:
            raise ValidationError(
                "pass segments=N for all N segments, or segments=<which ones> with total_segments=N"
            )
        whole_number("segments", segments, 1, _MAX_SEGMENTS)
        return segments, dict.fromkeys(range(segments))
    if total_segments is None:
        raise ValidationError("a subset of segments needs total_segments=")
    whole_number("total_segments", total_segments)
    if isinstance(segments, bool):
        raise ValidationError(f"segments must be a number or numbers, got {segments!r}")
    chosen = list(segments)
    if not chosen or any(
        isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < total_segments for s in chosen
    ):
        raise ValidationError(
            f"segments must be numbers 0 to {total_segments - 1}, got {chosen!r:.80}"
        )
    return total_segments, dict.fromkeys(sorted(set(chosen)))


def _like(source: TableDescription, name: str) -> dict[str, Any]:
    """CreateTable parameters for a table shaped like the live ``source``."""
    raw = source.raw
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": raw["KeySchema"],
        "AttributeDefinitions": raw["AttributeDefinitions"],
    }
    provisioned = source.provisioned
    if provisioned is None:
        params["BillingMode"] = "PAY_PER_REQUEST"
    else:
        params["BillingMode"] = "PROVISIONED"
        params["ProvisionedThroughput"] = provisioned.to_wire()
    gsis = []
    for index in source.global_indexes:
        spec: dict[str, Any] = {
            "IndexName": index.name,
            "KeySchema": _schema(index.key_schema),
            "Projection": _projection(index.projection_type, index.non_key_attributes),
        }
        if provisioned is not None:
            spec["ProvisionedThroughput"] = (index.provisioned or provisioned).to_wire()
        gsis.append(spec)
    lsis = [
        {
            "IndexName": index.name,
            "KeySchema": _schema(index.key_schema),
            "Projection": _projection(index.projection_type, index.non_key_attributes),
        }
        for index in source.local_indexes
    ]
    if gsis:
        params["GlobalSecondaryIndexes"] = gsis
    if lsis:
        params["LocalSecondaryIndexes"] = lsis
    return params


def _schema(keys: tuple[KeyElement, ...]) -> list[dict[str, str]]:
    return [{"AttributeName": k.name, "KeyType": k.key_type} for k in keys]


def _projection(kind: str, non_key: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"ProjectionType": kind}
    if non_key:
        out["NonKeyAttributes"] = list(non_key)
    return out


def _empty_report(name: str) -> MigrationReport:
    return MigrationReport(
        source=name,
        target=None,
        scanned=0,
        written=0,
        skipped=0,
        failed=0,
        retried=0,
        failures=(),
        segments=(),
        duration=0.0,
        checkpoint=None,
        stopped=None,
        dry_run=False,
    )
