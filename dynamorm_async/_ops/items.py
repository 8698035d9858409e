"""Item operations of a session: put, get, delete and update (PutItem, GetItem, DeleteItem,
UpdateItem), with conditions, optimistic locking and managed timestamps.

Every input is checked against the model before a request is built, so bad input raises
``ValidationError`` and touches nothing. The writes are built by ``build_put``,
``build_update``, ``build_delete`` and ``build_condition_check`` into a ``WriteRequest``, so
that a transaction (``_ops.transactions``) sends exactly what the single-item call would, with the
same version checks and managed attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .._errors import ConditionFailed, ValidationError
from .._expr.compile import ExpressionContext
from .._expr.conditions import Condition
from .._expr.update import UpdateActions, UpdateBuilder, add_actions
from .._model.models import ModelInfo, model_info
from .._transport.translate import Context
from .._wire.item_size import check_item_size
from .base import SessionBase
from .keys import MISSING, Key, key_from_object, key_from_values, key_of_item, key_values
from .locking import check_mutable, classify_failure, version_condition, version_of

if TYPE_CHECKING:
    from typing_extensions import Unpack  # in typing from Python 3.11

__all__ = [
    "ItemOperations",
    "WriteRequest",
    "build_condition_check",
    "build_delete",
    "build_put",
    "build_update",
    "resolve_target",
]

T = TypeVar("T")

# The API call of each kind of write, when it is sent on its own.
_OPERATIONS = {"put": "PutItem", "update": "UpdateItem", "delete": "DeleteItem"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


class WriteRequest:
    """One write, checked and built but not sent: the parameters PutItem, UpdateItem or
    DeleteItem take (a transaction wraps the same ones as its ``Put``, ``Update``, ``Delete``
    or ``ConditionCheck`` action), and what to do with the answer.

    ``expected`` is the version the object in memory has (None when none is checked), and
    ``changes`` the attributes to set on ``obj`` once the write succeeded (put's new version
    and timestamps): a failed write must leave the object as it was.
    """

    __slots__ = (
        "action",
        "changes",
        "expected",
        "info",
        "key",
        "must_exist",
        "obj",
        "params",
        "table",
    )

    def __init__(
        self,
        action: str,
        info: ModelInfo,
        table: str,
        key: Key,
        params: dict[str, Any],
        *,
        expected: int | None = None,
        must_exist: bool = False,
        obj: Any = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        self.action = action  # "put", "update", "delete" or "condition_check"
        self.info = info
        self.table = table
        self.key = key
        self.params = params  # without ReturnValues, which only the single-item calls take
        self.expected = expected
        self.must_exist = must_exist  # an update without upsert: the item has to exist
        self.obj = obj
        self.changes = changes or {}

    def describe(self) -> str:
        """``"put Order {'customer_id': 'c1', 'order_id': 'o1'}"``."""
        return f"{self.action} {self.info.cls.__qualname__} {self.key!r}"

    def apply(self) -> None:
        """Write the managed attributes back into the object, after the write succeeded."""
        for name, value in self.changes.items():
            setattr(self.obj, name, value)


def resolve_target(
    session: SessionBase, target: Any, hash_key: Any, range_key: Any, operation: str
) -> tuple[ModelInfo, Key, int | None]:
    """(model, key, expected version) for ``op(obj)`` or ``op(Model, hash, range)``."""
    if isinstance(target, type):
        info = model_info(target)
        if hash_key is MISSING:
            raise ValidationError(
                f"{operation}({target.__qualname__}, ...) needs the key values",
                model=target,
            )
        return info, key_from_values(info, session.converter, hash_key, range_key), None
    info = session._model_of(target, operation)
    if hash_key is not MISSING or range_key is not MISSING:
        raise ValidationError(
            f"{operation} takes a model instance or a model class with key values, "
            f"not an instance and key values",
            model=info.cls,
        )
    key = key_from_object(info, session.converter, target)
    return info, key, version_of(info, target)


def build_put(
    session: SessionBase,
    obj: Any,
    *,
    condition: Condition | None = None,
    if_not_exists: bool = False,
    table_name: str | None = None,
) -> WriteRequest:
    """The PutItem of ``obj``: its item with the next version and the timestamps, and the
    conditions (version, ``if_not_exists``, ``condition``). See ``ItemOperations.put``."""
    info = session._model_of(obj, "put")
    item = session.converter.dump_item(obj)
    table = session.table_name(info.cls, table_name)
    key = Key(key_of_item(info, item), key_values(info, obj))
    ctx = ExpressionContext(info, session.converter)
    conditions: list[str] = []
    changes: dict[str, Any] = {}
    expected = version_of(info, obj)
    if info.version is not None and expected is not None:
        conditions.append(version_condition(info, ctx, expected))
        changes[info.version] = expected + 1
        item[info.field(info.version).stored_name] = {"N": str(expected + 1)}
    now = None
    if info.created_at is not None and getattr(obj, info.created_at) is None:
        now = _now()
        changes[info.created_at] = now
        item[info.field(info.created_at).stored_name] = session._dump_datetime(now)
    if info.updated_at is not None:
        now = now or _now()
        changes[info.updated_at] = now
        item[info.field(info.updated_at).stored_name] = session._dump_datetime(now)
    if changes:
        check_mutable(info, obj, next(iter(changes)))
    if if_not_exists:
        conditions.append(f"attribute_not_exists({ctx.name(info.hash_key.stored_name)})")
    if condition is not None:
        conditions.append(ctx.condition(condition))
    check_item_size(
        item,
        lambda: f"{info.cls.__qualname__} {key!r}",
        model=info.cls,
        operation="PutItem",
        table=table,
    )
    params: dict[str, Any] = {"TableName": table, "Item": item}
    session._expression_params(params, ctx, conditions)
    return WriteRequest(
        "put", info, table, key, params, expected=expected, obj=obj, changes=changes
    )


def build_delete(
    session: SessionBase,
    target: Any,
    hash_key: Any = MISSING,
    range_key: Any = MISSING,
    *,
    condition: Condition | None = None,
    table_name: str | None = None,
) -> WriteRequest:
    """The DeleteItem of ``target`` (an instance, or a class with ``hash_key``/``range_key``),
    with the version condition of an instance and ``condition``."""
    info, key, expected = resolve_target(session, target, hash_key, range_key, "delete")
    table = session.table_name(info.cls, table_name)
    ctx = ExpressionContext(info, session.converter)
    conditions: list[str] = []
    if expected is not None:
        conditions.append(version_condition(info, ctx, expected))
    if condition is not None:
        conditions.append(ctx.condition(condition))
    params: dict[str, Any] = {"TableName": table, "Key": key.item}
    session._expression_params(params, ctx, conditions)
    return WriteRequest("delete", info, table, key, params, expected=expected)


def build_condition_check(
    session: SessionBase,
    target: Any,
    hash_key: Any = MISSING,
    range_key: Any = MISSING,
    *,
    condition: Condition | None,
    table_name: str | None = None,
) -> WriteRequest:
    """A transaction's ConditionCheck: ``condition`` must hold for the item with this key.

    Only the key is taken from an instance: its version is not checked, because the check
    is about the condition given, not about whether the object in memory is current."""
    info, key, _ = resolve_target(session, target, hash_key, range_key, "condition_check")
    table = session.table_name(info.cls, table_name)
    if condition is None:
        raise ValidationError(
            f"condition_check of {info.cls.__qualname__} {key!r} needs a condition, such as "
            "attr('status') == 'open'",
            model=info.cls,
        )
    ctx = ExpressionContext(info, session.converter)
    params: dict[str, Any] = {"TableName": table, "Key": key.item}
    session._expression_params(params, ctx, [ctx.condition(condition)])
    return WriteRequest("condition_check", info, table, key, params)


def build_update(
    session: SessionBase,
    target: Any,
    hash_key: Any = MISSING,
    range_key: Any = MISSING,
    *,
    condition: Condition | None = None,
    upsert: bool = False,
    table_name: str | None = None,
    **actions: Unpack[UpdateActions],
) -> WriteRequest:
    """The UpdateItem of ``target``: its update expression with the managed version and
    timestamps, and its conditions. See ``ItemOperations.update``."""
    info, key, expected = resolve_target(session, target, hash_key, range_key, "update")
    table = session.table_name(info.cls, table_name)
    ctx = ExpressionContext(info, session.converter)
    builder = UpdateBuilder(ctx)
    add_actions(builder, info, actions)
    if info.entity is not None:  # keys made of the changed fields, and on upsert the rest

        def dump(name: str, value: Any) -> dict[str, Any]:
            f = info.field(name)
            return {f.stored_name: session.converter.dump_value(value, f.type)}

        sets, removes = info.entity.update_keys(key.values, actions, upsert, dump)
        for stored, av in sets.items():
            builder.managed(stored, av)
        for stored in removes:
            builder.managed_remove(stored)
    if upsert:
        _check_upsert_is_loadable(info, key, builder)
    conditions: list[str] = []
    if info.version is not None:
        version_name = info.field(info.version).stored_name
        if expected is None:  # by class and key: count the write, check nothing
            builder.managed(version_name, {"N": "1"}, add=True)
        else:
            conditions.append(version_condition(info, ctx, expected))
            builder.managed(version_name, {"N": str(expected + 1)})
    now = _now()
    if info.updated_at is not None and not builder.touches(info.updated_at):
        stored = info.field(info.updated_at).stored_name
        builder.managed(stored, session._dump_datetime(now))
    if upsert and info.created_at is not None and not builder.touches(info.created_at):
        stored = info.field(info.created_at).stored_name
        builder.managed(stored, session._dump_datetime(now), only_if_absent=True)
    if not upsert:
        conditions.append(f"attribute_exists({ctx.name(info.hash_key.stored_name)})")
    if condition is not None:
        conditions.append(ctx.condition(condition))
    params: dict[str, Any] = {
        "TableName": table,
        "Key": key.item,
        "UpdateExpression": builder.expression(),
    }
    session._expression_params(params, ctx, conditions)
    return WriteRequest(
        "update", info, table, key, params, expected=expected, must_exist=not upsert
    )


class ItemOperations(SessionBase):
    """put / get / delete / update (PutItem, GetItem, DeleteItem, UpdateItem)."""

    async def _write(self, request: WriteRequest, return_values: str | None = None) -> Any:
        """Send one built write on its own; a failed condition raises ``VersionConflict``
        or ``ConditionFailed`` carrying the stored item."""
        operation = _OPERATIONS[request.action]
        params = request.params
        if return_values is not None:
            params = {**params, "ReturnValues": return_values}
        ctx = Context(operation, request.table, request.key.values)
        try:
            return await self._send(operation, params, ctx)
        except ConditionFailed as err:
            stored = self._load_or_raw(request.info, err.item)
            raise classify_failure(
                err, request.info, stored, request.expected, must_exist=request.must_exist
            ) from err.__cause__

    async def put(
        self,
        obj: T,
        *,
        condition: Condition | None = None,
        if_not_exists: bool = False,
        return_old: bool = False,
        table_name: str | None = None,
    ) -> T | None:
        """Write ``obj`` (PutItem), replacing any item with its key.

        ``condition`` must hold for the stored item (``attr("status") == "open"``);
        ``if_not_exists=True`` refuses to replace an existing item. A failed condition raises
        ``ConditionFailed`` carrying the stored item. ``return_old=True`` returns the replaced
        item (or None).

        With a version attribute, a new object (version 0) may only create the item and a
        loaded one only replace the version it was loaded with (else ``VersionConflict``);
        the version is bumped by one. ``created_at`` is set when it is None, ``updated_at``
        always. These are written back into ``obj`` after the write succeeded, and left
        alone when it failed::

            await db.put(order, if_not_exists=True)
        """
        request = build_put(
            self, obj, condition=condition, if_not_exists=if_not_exists, table_name=table_name
        )
        response = await self._write(request, "ALL_OLD" if return_old else None)
        request.apply()
        if return_old:
            old: T | None = self._load(request.info, response.get("Attributes"))
            return old
        return None

    @overload
    async def get(
        self,
        cls: type[T],
        hash_key: Any,
        range_key: Any = ...,
        *,
        consistent: bool = ...,
        attributes: None = ...,
        table_name: str | None = ...,
    ) -> T | None: ...

    @overload
    async def get(
        self,
        cls: type[T],
        hash_key: Any,
        range_key: Any = ...,
        *,
        consistent: bool = ...,
        attributes: Sequence[str],
        table_name: str | None = ...,
    ) -> dict[str, Any] | None: ...

    async def get(
        self,
        cls: type[T],
        hash_key: Any,
        range_key: Any = MISSING,
        *,
        consistent: bool = False,
        attributes: Sequence[str] | None = None,
        table_name: str | None = None,
    ) -> T | dict[str, Any] | None:
        """The item with this key as a ``cls`` instance, or None (GetItem).

        ``consistent=True`` asks for a strongly consistent read. ``attributes=[...]`` reads
        only those attributes (Python names or paths such as ``"address.city"``) plus the key,
        and returns them as a dict of field names to values instead of a model, so that a
        partial object can never be written back by mistake::

            order = await db.get(Order, "cust-1", "order-9", consistent=True)
            brief = await db.get(Order, "cust-1", "order-9", attributes=["status"])
            # {'customer_id': 'cust-1', 'order_id': 'order-9', 'status': 'open'}
        """
        info = model_info(cls)
        key = key_from_values(info, self.converter, hash_key, range_key)
        table = self.table_name(cls, table_name)
        params: dict[str, Any] = {"TableName": table, "Key": key.item}
        if consistent:
            params["ConsistentRead"] = True
        if attributes is not None:
            ctx = ExpressionContext(info, self.converter)
            params["ProjectionExpression"] = ctx.projection(attributes, info.key_names())
            params["ExpressionAttributeNames"] = ctx.names
        response = await self._send("GetItem", params, Context("GetItem", table, key.values))
        item = response.get("Item")
        if item is None:
            return None
        if attributes is not None:
            return self._partial(info, item)
        loaded: T = self.converter.load_item(cls, item)
        return loaded

    async def delete(
        self,
        target: Any,
        hash_key: Any = MISSING,
        range_key: Any = MISSING,
        *,
        condition: Condition | None = None,
        return_old: bool = False,
        table_name: str | None = None,
    ) -> Any:
        """Delete an item (DeleteItem): ``delete(order)`` or ``delete(Order, hash, range)``.

        Deleting a missing item is not an error. For a model instance with a version
        attribute, the stored version must equal the object's (else ``VersionConflict``).
        ``condition`` must hold for the stored item (else ``ConditionFailed``).
        ``return_old=True`` returns the deleted item as the model, or None::

            old = await db.delete(Order, "cust-1", "order-9", return_old=True)
        """
        request = build_delete(
            self, target, hash_key, range_key, condition=condition, table_name=table_name
        )
        response = await self._write(request, "ALL_OLD" if return_old else None)
        return self._load(request.info, response.get("Attributes")) if return_old else None

    async def update(
        self,
        target: Any,
        hash_key: Any = MISSING,
        range_key: Any = MISSING,
        *,
        condition: Condition | None = None,
        upsert: bool = False,
        table_name: str | None = None,
        **actions: Unpack[UpdateActions],
    ) -> Any:
        """Change attributes of a stored item in place (UpdateItem); returns the updated
        item as the model (ReturnValues ALL_NEW).

        ``update(order, ...)`` or ``update(Order, hash, range, ...)``. Keys of the action
        mappings are attribute names or paths (``"address.city"``, ``"lines[2].qty"``) or
        ``attr(...)``; values are converted by the declared type of the attribute:

        - ``set``: write values (``None``/an empty set on a top-level optional/set field
          removes it, as ``put`` would store it); a value may be ``attr("x")`` or
          ``attr("x") + 1``.
        - ``set_if_not_exists``: write only attributes that are absent.
        - ``add``: add to numbers (atomic counters) or add elements to sets.
        - ``delete``: remove elements from sets. ``remove``: attribute names to remove.
        - ``append`` / ``prepend``: add elements at the end / front of lists.

        The item must exist unless ``upsert=True`` (else ``ConditionFailed``). For a model
        instance with a version attribute the stored version must equal the object's (else
        ``VersionConflict``) and is bumped; ``updated_at`` is set. The object passed in is
        not changed: use the returned one::

            order = await db.update(order, set={"status": "shipped"}, add={"total": 5},
                                    remove=["note"])
        """
        request = build_update(
            self,
            target,
            hash_key,
            range_key,
            condition=condition,
            upsert=upsert,
            table_name=table_name,
            **actions,
        )
        response = await self._write(request, "ALL_NEW")
        return self._load(request.info, response.get("Attributes"))


def _check_upsert_is_loadable(info: ModelInfo, key: Key, builder: UpdateBuilder) -> None:
    """An upsert may create the item: refuse one that would leave a required field unset,
    since the model could not load that item (and a retry would apply ADDs twice)."""
    given = {k.name for k in (info.hash_key, info.range_key) if k is not None}
    given.update(key.values)  # an entity's key fields, stored with the upsert
    given.update(n for n in (info.version, info.created_at, info.updated_at) if n is not None)
    missing = [f.name for f in info.fields if f.required and f.name not in given]
    missing = [name for name in missing if not builder.gives(name)]
    if missing:
        names = ", ".join(repr(n) for n in missing)
        raise ValidationError(
            f"update of {info.cls.__qualname__} {key!r} with upsert=True may create the item, "
            f"and the model requires {names} (no default, not optional): give "
            f"{'it' if len(missing) == 1 else 'them'} with set= or set_if_not_exists= (which "
            "keeps a stored value), or the item could not be loaded",
            model=info.cls,
            field=missing[0],
        )
