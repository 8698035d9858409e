"""Checked writes for copies on live tables: nothing the application writes meanwhile is
lost, and nothing the copy writes is written twice.

- In place, on a versioned model, each source item is written back with a condition on the
  version it was scanned with, and the version bumped. When the condition fails (the
  application wrote the item after the scan), the item is read again (consistently),
  transformed again and written again, at most ``max_attempts`` times.
- In place, a transform that changes an item's key writes the new item and deletes the old
  one in one transaction (the new key must be free, the old item unchanged), so a copy
  stopped at any moment, or killed, leaves either the old item or the new one, never both
  and never neither.
- Into another table (``skip_existing``), an item is written only where the target holds
  none with its key, or (a versioned model) only an older version of it.

BatchWriteItem takes no conditions: these are single requests (PutItem, or
TransactWriteItems), at the copy's concurrency, retried like batches (throttles, 5xx, lost
connections) by ``retry_chunk``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .._errors import ConditionFailed, DynamORMError, TransactionCanceled, ValidationError
from .._ops.base import SessionBase
from .._ops.batch_writer import BatchStats, Outage, Write, key_id, retry_chunk
from .._ops.locking import stored_version
from .._transport.translate import Context
from .copy_options import CHECKED, CopyOptions, CopyTables

__all__ = ["CheckedWriter", "LiveCounts", "bump_version", "is_marked"]

_MAX_TRANSACTION = 100
# A failed condition of a transaction action; a conflict with another transaction on the
# same item is met the same way (read again, write again).
_CONFLICT_REASONS = ("ConditionalCheckFailed", "TransactionConflict")


class LiveCounts:
    """What the checked writes met: ``conflicts`` (an item changed after it was scanned),
    ``retried`` (items read, transformed and written again), ``existing`` (items the target
    held already and kept) and ``already`` (items found carrying the copy's mark)."""

    __slots__ = ("already", "conflicts", "existing", "retried")

    def __init__(self) -> None:
        self.conflicts = 0
        self.retried = 0
        self.existing = 0
        self.already = 0


def is_marked(item: Mapping[str, Any], mark: Mapping[str, Any] | None) -> bool:
    """Whether ``item`` carries every attribute of the copy's mark."""
    return mark is not None and all(item.get(n) == v for n, v in mark.items())


def bump_version(item: dict[str, Any], tables: CopyTables, scanned: Mapping[str, Any]) -> None:
    """Give an in-place output the version of the item it was made of, plus one."""
    if tables.version is not None:
        item[tables.version] = {"N": str(_scanned_version(tables, scanned) + 1)}


def _scanned_version(tables: CopyTables, item: Mapping[str, Any]) -> int:
    """The version an item was scanned with; 0 for one stored without a version."""
    assert tables.source_info is not None
    return stored_version(tables.source_info, item) or 0


class _Plan:
    """One checked request for one source item, and which of its actions is which."""

    __slots__ = ("guards", "operation", "params", "rekeyed")

    def __init__(self, operation: str, params: dict[str, Any]) -> None:
        self.operation = operation
        self.params = params
        self.guards: set[int] = set()  # actions conditioned on the source item being unchanged
        self.rekeyed: list[tuple[int, dict[str, Any]]] = []  # (action, new key) to be free


class CheckedWriter:
    """Writes a copy's items with conditions, one source item at a time."""

    def __init__(
        self,
        session: SessionBase,
        tables: CopyTables,
        options: CopyOptions,
        convert: Callable[[dict[str, Any]], Awaitable[list[Write]]],
        stats: BatchStats,
        outage: Outage,
    ) -> None:
        self.session = session
        self.tables = tables
        self.options = options
        self.convert = convert
        self.stats = stats
        self.outage = outage
        self.counts = LiveCounts()

    async def write(self, source: dict[str, Any], writes: list[Write]) -> int:
        """Write what ``source`` became; returns how many items were written. Raises the
        error that ends it (``ConditionFailed`` for an item that kept changing, or whose new
        key is taken)."""
        if not self.tables.in_place:
            return await self._into_live_target(writes)
        attempts = self.options.max_attempts
        plan: _Plan | None = None
        for attempt in range(attempts):
            if attempt:  # the item changed after it was read: read it, transform it again
                fresh = await self._read(source)
                if fresh is None:  # deleted meanwhile: nothing is left to rewrite
                    return 0
                if is_marked(fresh, self.options.mark):
                    self.counts.already += 1
                    return 0
                if (
                    plan is not None
                    and plan.operation == "PutItem"
                    and fresh == plan.params["Item"]
                ):
                    return 1  # our own write, whose answer was lost: a retry found it stored
                self.counts.retried += 1
                source = fresh
                writes = await self.convert(fresh)
            if not writes:
                return 0
            plan = self._plan(source, writes)
            error = await self._send(plan)
            if error is None:
                return len(writes)
            taken = self._taken(plan, error)
            if taken is not None:
                raise ConditionFailed(
                    f"the transform moves an item of {self.tables.target!r} to key "
                    f"{taken!r:.120}, which holds another item already: nothing was written "
                    "for it",
                    operation=plan.operation,
                    table=self.tables.target,
                    key=taken,
                ) from error
            if not self._conflict(plan, error):
                raise error
            self.counts.conflicts += 1
        key = self.tables.source_key(source)
        raise ConditionFailed(
            f"an item of {self.tables.target!r} changed {attempts} times "
            "while the copy rewrote it; it was left as the application wrote it last",
            operation="PutItem",
            table=self.tables.target,
            key=key,
        )

    # -- in place ----------------------------------------------------------------------------

    def _plan(self, source: dict[str, Any], writes: list[Write]) -> _Plan:
        tables = self.tables
        keys = tables.target_keys
        source_id = key_id(source, keys)
        names: dict[str, str] = {"#k": keys[0]}
        values: dict[str, Any] = {}
        guard = self._guard(source, names, values)
        free = "attribute_not_exists(#k)"
        if len(writes) == 1 and writes[0].id[1] == source_id:
            params: dict[str, Any] = {"TableName": tables.target, "Item": _item(writes[0])}
            if guard is not None:
                _conditions(params, guard, names, values)
            plan = _Plan("PutItem", params)
            plan.guards.add(0)
            return plan
        actions: list[dict[str, Any]] = []
        plan = _Plan("TransactWriteItems", {"TransactItems": actions})
        for w in writes:
            body: dict[str, Any] = {"TableName": tables.target, "Item": _item(w)}
            if w.id[1] == source_id:
                plan.guards.add(len(actions))
                if guard is not None:
                    _conditions(body, guard, names, values)
            else:
                plan.rekeyed.append((len(actions), {n: body["Item"][n] for n in keys}))
                _conditions(body, free, {"#k": keys[0]}, {})
            actions.append({"Put": body})
        if source_id not in {w.id[1] for w in writes}:
            body = {"TableName": tables.target, "Key": {n: source[n] for n in keys}}
            if guard is not None:
                _conditions(body, guard, names, values)
            plan.guards.add(len(actions))
            actions.append({"Delete": body})
        if len(actions) > _MAX_TRANSACTION:
            raise ValidationError(
                f"an in-place transform that changes keys makes one transaction per item, of "
                f"at most {_MAX_TRANSACTION} actions; this item became {len(writes)} items"
            )
        return plan

    def _guard(
        self, source: dict[str, Any], names: dict[str, str], values: dict[str, Any]
    ) -> str | None:
        """The condition that the source item is still as scanned: its version unchanged
        (None for an offline rewrite, which promises that nobody writes meanwhile)."""
        version = self.tables.version
        if version is None or self.options.writes != CHECKED:
            return None
        names["#v"] = version
        seen = _scanned_version(self.tables, source)
        values[":v"] = {"N": str(seen)}
        if seen:
            return "#v = :v"
        return "attribute_exists(#k) AND (attribute_not_exists(#v) OR #v = :v)"

    def _conflict(self, plan: _Plan, error: DynamORMError) -> bool:
        if plan.operation == "PutItem":
            return isinstance(error, ConditionFailed)
        if not isinstance(error, TransactionCanceled):
            return False
        return any(
            r.code in _CONFLICT_REASONS and i in plan.guards for i, r in enumerate(error.reasons)
        )

    def _taken(self, plan: _Plan, error: DynamORMError) -> dict[str, Any] | None:
        if not isinstance(error, TransactionCanceled):
            return None
        codes = {i: r.code for i, r in enumerate(error.reasons)}
        for index, key in plan.rekeyed:
            if codes.get(index) == "ConditionalCheckFailed":
                return key
        return None

    async def _read(self, source: dict[str, Any]) -> dict[str, Any] | None:
        table = self.tables.target
        key = {n: source[n] for n in self.tables.target_keys}
        response = await self.session._send(
            "GetItem",
            {"TableName": table, "Key": key, "ConsistentRead": True},
            Context("GetItem", table, key),
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    async def _send(self, plan: _Plan) -> DynamORMError | None:
        """Send ``plan``, retried like a batch; the error that ended it, or None."""
        table = self.tables.target

        async def send_once(pending: list[_Plan]) -> list[_Plan]:
            ctx = Context(plan.operation, table, plan.params.get("Item"))
            await self.session._send(plan.operation, plan.params, ctx)
            return []

        left, error, _ = await retry_chunk(
            [plan], send_once, self.options.max_attempts, self.stats, self.outage
        )
        if not left:
            return None
        assert error is not None
        return error

    # -- into a table the application writes -----------------------------------------------

    async def _into_live_target(self, writes: list[Write]) -> int:
        written = 0
        version = self.tables.target_version
        for w in writes:
            item = _item(w)
            params: dict[str, Any] = {"TableName": self.tables.target, "Item": item}
            names = {"#k": self.tables.target_keys[0]}
            values: dict[str, Any] = {}
            condition = "attribute_not_exists(#k)"
            if version is not None and version in item:
                names["#v"] = version
                values[":v"] = item[version]
                condition += " OR #v < :v"  # the target's copy is older than this one
            _conditions(params, condition, names, values)
            plan = _Plan("PutItem", params)
            error = await self._send(plan)
            if error is None:
                written += 1
            elif isinstance(error, ConditionFailed):
                self.counts.existing += 1
            else:
                raise error
        return written


def _item(write: Write) -> dict[str, Any]:
    item: dict[str, Any] = write.request["PutRequest"]["Item"]
    return item


def _conditions(
    body: dict[str, Any], condition: str, names: dict[str, str], values: dict[str, Any]
) -> None:
    body["ConditionExpression"] = condition
    used = {n: v for n, v in names.items() if n in condition}
    if used:
        body["ExpressionAttributeNames"] = used
    used_values = {n: v for n, v in values.items() if n in condition}
    if used_values:
        body["ExpressionAttributeValues"] = used_values
