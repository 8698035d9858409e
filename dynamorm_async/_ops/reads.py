"""Reads of a session: ``query`` and ``scan`` build a checked Query or Scan request from the
model (key conditions, index, filter, projection) and return the lazy read (``_ops.queries``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .._errors import ValidationError, whole_number
from .._expr.compile import ExpressionContext, compile_condition
from .._expr.conditions import BeginsWith, Between, Compare, Condition, Path
from .._model.models import IndexInfo, KeyAttribute, ModelInfo, model_info
from .base import SessionBase
from .keys import dump_key_value
from .queries import SKIPPED, Query, Scan

if TYPE_CHECKING:  # the single-table room loads when a program uses it
    from .._single_table.table import Collection, EntityInfo

__all__ = ["ReadOperations"]

T = TypeVar("T")
_KEY_OPERATORS = ("==", "<", "<=", ">", ">=")
_MAX_SEGMENTS = 1_000_000


class ReadOperations(SessionBase):
    """query / scan."""

    cursor_key: bytes | None = None

    @overload
    def query(
        self,
        cls: Collection[T],
        hash_key: Any,
        *,
        range: None = ...,
        filter: Condition | None = ...,
        index: str | None = ...,
        reverse: bool = ...,
        limit: int | None = ...,
        page_size: int | None = ...,
        consistent: bool = ...,
        attributes: None = ...,
        table_name: str | None = ...,
    ) -> Query[T]: ...

    @overload
    def query(
        self,
        cls: type[T],
        hash_key: Any,
        *,
        range: Condition | None = ...,
        filter: Condition | None = ...,
        index: str | None = ...,
        reverse: bool = ...,
        limit: int | None = ...,
        page_size: int | None = ...,
        consistent: bool = ...,
        attributes: None = ...,
        table_name: str | None = ...,
    ) -> Query[T]: ...

    @overload
    def query(
        self,
        cls: type[T],
        hash_key: Any,
        *,
        range: Condition | None = ...,
        filter: Condition | None = ...,
        index: str | None = ...,
        reverse: bool = ...,
        limit: int | None = ...,
        page_size: int | None = ...,
        consistent: bool = ...,
        attributes: Sequence[str],
        table_name: str | None = ...,
    ) -> Query[dict[str, Any]]: ...

    def query(
        self,
        cls: type[T] | Collection[T],
        hash_key: Any,
        *,
        range: Condition | None = None,
        filter: Condition | None = None,
        index: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
        page_size: int | None = None,
        consistent: bool = False,
        attributes: Sequence[str] | None = None,
        table_name: str | None = None,
    ) -> Query[Any]:
        """The items with hash key ``hash_key`` (of the table, or of ``index``), in range
        key order (``reverse=True``: descending). Nothing is sent until it is iterated::

            async for order in db.query(Order, "cust-1",
                                        range=attr("order_id").begins_with("2026-"),
                                        filter=attr("status") == "open", limit=50):
                ...
            page = await db.query(Order, "cust-1").page(size=20, cursor=token)
            latest = await db.query(Order, "cust-1", reverse=True).first()

        ``range`` is a condition on the range key of the table or index: ``==``, ``<``,
        ``<=``, ``>``, ``>=``, ``between``, ``begins_with``. ``filter`` is applied by DynamoDB
        after reading (it saves transfer, not capacity). ``limit`` caps the items returned
        over all pages; ``page_size`` sizes each request. ``consistent=True`` is refused on a
        global index (DynamoDB cannot). ``attributes=[...]`` reads those attributes (plus the
        keys) and yields dicts of field names to values; so does an index whose projection
        leaves out some of the model's fields, which therefore needs ``attributes``.

        An entity of a shared table (``Table.entity``) takes a mapping of its hash key
        template's fields, and optionally the leading fields of its range template;
        ``range`` is then a condition on the next field of the range template, compiled to
        the sort-key condition that selects exactly those items. Only items of that entity
        are returned. A collection (``Table.collection``) yields each item as its own class.
        """
        if not isinstance(cls, type):  # a collection of a shared table
            return self._query_collection(
                cls, hash_key, range, filter, index, reverse, limit, page_size, consistent,
                attributes, table_name,
            )  # fmt: skip
        info = model_info(cls)
        table = self.table_name(cls, table_name)
        index_info = _index(info, index, consistent)
        ctx = ExpressionContext(info, self.converter)
        more: list[str] = []
        entity = _entity(info)
        if entity is not None:
            from .._single_table.reads import entity_key_condition, type_filter

            key_condition, exact = entity_key_condition(ctx, entity, hash_key, range, index_info)
            if exact is not None:
                more.append(ctx.condition(exact))
            more.append(type_filter(ctx, entity))
        else:
            hash_attr = info.hash_key if index_info is None else index_info.hash_key
            range_attr = info.range_key if index_info is None else index_info.range_key
            hash_av = dump_key_value(info, self.converter, hash_attr, hash_key)
            placeholder = ctx.add_value(hash_av)
            key_condition = f"{ctx.name(hash_attr.stored_name)} = {placeholder}"
            if range is not None:
                key_condition += " AND " + _range_condition(ctx, range, range_attr, index)
        params: dict[str, Any] = {"TableName": table, "KeyConditionExpression": key_condition}
        if reverse:
            params["ScanIndexForward"] = False
        return Query(
            self,
            info,
            table,
            *self._read_params(ctx, params, info, index_info, filter, consistent, attributes, more),
            limit,
            page_size,
            filter is not None or bool(more),
        )

    def _query_collection(
        self,
        collection: Collection[T],
        values: Any,
        range: Condition | None,
        filter: Condition | None,
        index: str | None,
        reverse: bool,
        limit: int | None,
        page_size: int | None,
        consistent: bool,
        attributes: Sequence[str] | None,
        table_name: str | None,
    ) -> Query[T]:
        """The query of a collection: one partition, each item loaded as its entity."""
        from .._single_table.reads import collection_key_condition
        from .._single_table.table import Collection

        if not isinstance(collection, Collection):
            raise ValidationError(
                f"query takes a model class or a collection, got {collection!r:.80}",
                value_type=type(collection),
            )
        if range is not None or attributes is not None:
            raise ValidationError(
                f"a query of {collection!r} takes the shared hash key fields, filter=, "
                "index=, reverse=, limit=, page_size= and consistent=; range= and "
                "attributes= are for one entity"
            )
        first = collection.entities[0]
        info = model_info(first)
        table = self.table_name(first, table_name)
        index_info = _index(info, index, consistent)
        ctx = ExpressionContext(info, self.converter)
        key_condition = collection_key_condition(ctx, collection, values, index_info)
        params: dict[str, Any] = {"TableName": table, "KeyConditionExpression": key_condition}
        if reverse:
            params["ScanIndexForward"] = False
        params, _, count = self._read_params(
            ctx, params, info, index_info, filter, consistent, None
        )
        by_type = collection.by_type
        attribute = collection.table.type_attribute
        load_item = self.converter.load_item

        def load(item: Any) -> Any:
            found = item.get(attribute)
            cls = by_type.get(str(found.get("S"))) if isinstance(found, dict) else None
            return SKIPPED if cls is None else load_item(cls, item)

        return Query(
            self, info, table, params, load, count, limit, page_size, filter is not None,
            skips=True,
        )  # fmt: skip

    @overload
    def scan(
        self,
        cls: type[T],
        *,
        filter: Condition | None = ...,
        index: str | None = ...,
        segments: int = ...,
        segment: int | None = ...,
        total_segments: int | None = ...,
        limit: int | None = ...,
        page_size: int | None = ...,
        consistent: bool = ...,
        attributes: None = ...,
        table_name: str | None = ...,
    ) -> Scan[T]: ...

    @overload
    def scan(
        self,
        cls: type[T],
        *,
        filter: Condition | None = ...,
        index: str | None = ...,
        segments: int = ...,
        segment: int | None = ...,
        total_segments: int | None = ...,
        limit: int | None = ...,
        page_size: int | None = ...,
        consistent: bool = ...,
        attributes: Sequence[str],
        table_name: str | None = ...,
    ) -> Scan[dict[str, Any]]: ...

    def scan(
        self,
        cls: type[T],
        *,
        filter: Condition | None = None,
        index: str | None = None,
        segments: int = 1,
        segment: int | None = None,
        total_segments: int | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        consistent: bool = False,
        attributes: Sequence[str] | None = None,
        table_name: str | None = None,
    ) -> Scan[Any]:
        """Every item of the table (or index). ``segments=N`` scans N segments concurrently
        and yields items as they arrive (each exactly once, in no particular order);
        ``segment=i, total_segments=n`` reads one shard of a parallel scan, for spreading a
        scan over processes::

            async for order in db.scan(Order, filter=attr("status") == "open", segments=8):
                ...

        ``filter``, ``limit``, ``page_size``, ``consistent`` and ``attributes`` work as for
        ``query``.
        """
        info = model_info(cls)
        table = self.table_name(cls, table_name)
        index_info = _index(info, index, consistent)
        whole_number("segments", segments, 1, _MAX_SEGMENTS)
        params: dict[str, Any] = {"TableName": table}
        if (segment is None) != (total_segments is None):
            raise ValidationError("pass segment and total_segments together")
        if segment is not None and total_segments is not None:
            if segments != 1:
                raise ValidationError("pass segments=N, or segment= with total_segments=")
            valid = all(
                isinstance(v, int) and not isinstance(v, bool) for v in (segment, total_segments)
            )
            if not valid or not (
                1 <= total_segments <= _MAX_SEGMENTS and 0 <= segment < total_segments
            ):
                raise ValidationError(
                    f"segment must be 0 to total_segments - 1 and total_segments 1 to "
                    f"{_MAX_SEGMENTS}, got segment={segment!r}, total_segments={total_segments!r}"
                )
            params["Segment"] = segment
            params["TotalSegments"] = total_segments
        ctx = ExpressionContext(info, self.converter)
        # A shared table holds other entities: a scan of one returns only its own items.
        entity = _entity(info)
        more = []
        if entity is not None:
            from .._single_table.reads import type_filter

            more.append(type_filter(ctx, entity))
        return Scan(
            self,
            info,
            table,
            *self._read_params(ctx, params, info, index_info, filter, consistent, attributes, more),
            limit,
            page_size,
            filter is not None or bool(more),
            segments=segments,
        )

    def _read_params(
        self,
        ctx: ExpressionContext,
        params: dict[str, Any],
        info: ModelInfo,
        index: IndexInfo | None,
        filter: Condition | None,
        consistent: bool,
        attributes: Sequence[str] | None,
        more: Sequence[str] = (),
    ) -> tuple[dict[str, Any], Callable[[Any], Any], dict[str, Any]]:
        """The rest of a Query's or Scan's parameters, how its rows load, and the parameters
        of its ``count()`` (no projection, so none of the projection's names: DynamoDB
        refuses unused ones)."""
        cls = info.cls
        if index is not None:
            params["IndexName"] = index.name
        if consistent:
            params["ConsistentRead"] = True
        filters = ([ctx.condition(filter)] if filter is not None else []) + list(more)
        if filters:
            params["FilterExpression"] = " AND ".join(
                f if len(filters) == 1 else f"({f})" for f in filters
            )
        count = {**params, "Select": "COUNT"}
        if ctx.names:
            count["ExpressionAttributeNames"] = dict(ctx.names)
        if ctx.values:
            count["ExpressionAttributeValues"] = ctx.values
        load: Callable[[Any], Any]
        if attributes is not None:
            params["ProjectionExpression"] = ctx.projection(
                attributes, [k.stored_name for k in _key_attributes(info, index)]
            )

            def load(item: Any) -> Any:
                return self._partial(info, item)

        else:
            uncovered = _uncovered(info, index)
            if uncovered:
                assert index is not None
                raise ValidationError(
                    f"{cls.__qualname__}: index {index.name!r} projects "
                    f"{index.projection_type}, without {', '.join(uncovered)}: items read "
                    "from it cannot load as the model. Pass attributes=[...] to read what it "
                    "holds (as dicts), or read the full items with batch_get",
                    model=cls,
                )
            # A partial, not a closure: one Python call less for every item read.
            load = functools.partial(self.converter.load_item, cls)

        if ctx.names:
            params["ExpressionAttributeNames"] = ctx.names
        if ctx.values:
            params["ExpressionAttributeValues"] = ctx.values
        return params, load, count


def _index(info: ModelInfo, name: str | None, consistent: bool) -> IndexInfo | None:
    """The index called ``name`` (None: the table); ``ValidationError`` for an unknown one,
    or for a consistent read of a global index, which DynamoDB cannot do."""
    if name is None:
        return None
    for index in info.indexes:
        if index.name == name:
            if consistent and index.kind == "global":
                raise ValidationError(
                    f"{info.cls.__qualname__}: consistent reads are not possible on global "
                    f"index {name!r} (DynamoDB offers them on the table and local indexes)",
                    model=info.cls,
                )
            return index
    known = ", ".join(i.name for i in info.indexes) or "none"
    raise ValidationError(
        f"{info.cls.__qualname__} has no index {name!r} (indexes: {known})", model=info.cls
    )


def _key_attributes(info: ModelInfo, index: IndexInfo | None) -> list[KeyAttribute]:
    keys = [info.hash_key, info.range_key]
    if index is not None:
        keys += [index.hash_key, index.range_key]
    out: list[KeyAttribute] = []
    for k in keys:
        if k is not None and all(k.stored_name != o.stored_name for o in out):
            out.append(k)
    return out


def _uncovered(info: ModelInfo, index: IndexInfo | None) -> list[str]:
    """The model's fields an index does not project (none for the table or ALL)."""
    if index is None or index.projection_type == "ALL":
        return []
    held = {k.stored_name for k in _key_attributes(info, index)} | set(index.non_key_attributes)
    return [f.name for f in info.fields if f.stored_name not in held]


def _range_condition(
    ctx: ExpressionContext, condition: Any, range_attr: KeyAttribute | None, index: str | None
) -> str:
    """The range part of a key condition; ``ValidationError`` for anything DynamoDB's key
    conditions cannot express, before any request."""
    where = f"index {index!r}" if index else "the table"
    cls = ctx.info.cls
    if range_attr is None:
        raise ValidationError(
            f"{cls.__qualname__}: {where} has no range key, so range= cannot be used",
            model=cls,
        )
    allowed = (
        f"range= takes a condition on {range_attr.name!r}, the range key of {where}: "
        "==, <, <=, >, >=, .between() or .begins_with()"
    )
    if isinstance(condition, Compare):
        path, ok = condition.left, condition.op in _KEY_OPERATORS
        ok = ok and not isinstance(condition.right, Path)
    elif isinstance(condition, (Between, BeginsWith)):
        path, ok = condition.path, True
    else:
        raise ValidationError(f"{cls.__qualname__}: {allowed}, got {condition!r}", model=cls)
    if not ok or not isinstance(path, Path):
        raise ValidationError(f"{cls.__qualname__}: {allowed}, got {condition!r}", model=cls)
    resolved = ctx.resolve(path)
    if resolved.parts != (range_attr.stored_name,):
        raise ValidationError(
            f"{cls.__qualname__}: {allowed}; {resolved.python!r} is not it",
            model=cls,
            field=resolved.python,
        )
    return compile_condition(ctx, condition)


def _entity(info: ModelInfo) -> EntityInfo | None:
    """The entity a model is, if it is one of a shared table. The single-table room is
    loaded only by a program that uses it: an entity exists only once it was."""
    if info.entity is None:
        return None
    from .._single_table.table import EntityInfo

    return info.entity if isinstance(info.entity, EntityInfo) else None
