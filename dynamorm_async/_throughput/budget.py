"""Capacity budgets: at most so many read and write units per second on each table, for a
copy (all its segments together) or for a session's scans and batch writes.

A request takes an estimate of its units from its table's bucket before it is sent (exact
for writes: an item's size in 1 KB steps; for reads the last page's figure) and the bucket
is corrected with the capacity DynamoDB reports (``ReturnConsumedCapacity``, asked for while
a budget is in force). A throttled request, a retry botocore made for a throttle, or a batch
that left items unprocessed slows that table's bucket down (see ``bucket.py``).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator, Mapping
from typing import Any

from .._errors import ValidationError
from .._observe.events import READ_OPERATIONS, RequestEvent
from .._transport.translate import THROTTLING_CODES
from .._wire.item_size import item_size
from .bucket import TokenBucket

__all__ = ["Budget", "Reservation", "budget_for", "check_rate", "using"]

# What a session-wide budget paces: the bulk reads and writes, not an application's
# single-item requests (whose latency matters more than their share).
SESSION_OPERATIONS = frozenset({"Scan", "BatchWriteItem"})
_KB = 1024


class Budget:
    """At most ``read_units`` and ``write_units`` per second on each table (None: no limit
    on that kind), for the requests it paces."""

    def __init__(
        self,
        read_units: float | None,
        write_units: float | None,
        operations: frozenset[str] | None = None,
    ) -> None:
        self.read_units = read_units
        self.write_units = write_units
        self.operations = operations  # None: every request made while it is in force
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._reads: dict[str, float] = {}  # table -> units its last read consumed

    def for_every_request(self) -> Budget:
        """This budget, with the same buckets, pacing every request (for a copy run under
        a session's budget: its conditional writes and re-reads count too)."""
        wide = Budget(self.read_units, self.write_units)
        wide._buckets = self._buckets
        wide._reads = self._reads
        return wide

    def paces(self, operation: str) -> bool:
        return self.operations is None or operation in self.operations

    def bucket(self, table: str, kind: str) -> TokenBucket | None:
        """The bucket of ``table``'s ``kind`` (``"read"``/``"write"``) units, if limited."""
        limit = self.read_units if kind == "read" else self.write_units
        if limit is None:
            return None
        found = self._buckets.get((table, kind))
        if found is None:
            found = self._buckets[(table, kind)] = TokenBucket(limit)
        return found

    @property
    def throttles(self) -> int:
        """How many times DynamoDB's throttling slowed a bucket down."""
        return sum(b.throttles for b in self._buckets.values())

    async def reserve(self, operation: str, params: Mapping[str, Any]) -> Reservation:
        """Wait for the units ``operation`` will take, and take them."""
        kind = "read" if operation in READ_OPERATIONS else "write"
        taken: list[tuple[str, TokenBucket, float]] = []
        for table, units in self._estimate(operation, params).items():
            bucket = self.bucket(table, kind)
            if bucket is not None:
                await bucket.take(units)
                taken.append((table, bucket, units))
        return Reservation(self, kind, taken)

    def _estimate(self, operation: str, params: Mapping[str, Any]) -> dict[str, float]:
        if operation in ("Scan", "Query"):
            table = str(params.get("TableName"))
            return {table: self._reads.get(table, 1.0)}
        if operation == "GetItem":
            return {str(params.get("TableName")): 1.0}
        if operation == "BatchGetItem":
            return {t: float(len(r.get("Keys", ()))) for t, r in params["RequestItems"].items()}
        if operation == "BatchWriteItem":
            return {
                t: float(sum(_write_units(r) for r in requests))
                for t, requests in params["RequestItems"].items()
            }
        if operation in ("TransactWriteItems", "TransactGetItems"):
            out: dict[str, float] = {}
            for action in params.get("TransactItems") or ():
                for name, body in action.items():
                    units = _put_units(body["Item"]) if name == "Put" else 1
                    table = str(body.get("TableName"))
                    out[table] = out.get(table, 0.0) + 2.0 * units
            return out
        table = str(params.get("TableName"))
        if operation == "PutItem":
            return {table: float(_put_units(params["Item"]))}
        return {table: 1.0}

    def settle(self, reservation: Reservation, event: RequestEvent) -> None:
        """Correct the buckets with what the request consumed, and slow them on a throttle."""
        kind = reservation.kind
        consumed: dict[str, float] = {}
        for c in event.capacity:
            consumed[c.table] = consumed.get(c.table, 0.0) + (
                c.read_units if kind == "read" else c.write_units
            )
        throttled = (
            "throttle" in event.retries
            or event.error in THROTTLING_CODES
            or (event.unprocessed > 0)
        )
        for table, bucket, reserved in reservation.taken:
            if table in consumed:
                used = consumed[table]
            elif event.error in THROTTLING_CODES:
                used = 0.0  # refused: nothing consumed
            else:
                used = reserved  # the engine does not say: the estimate stands
            bucket.correct(reserved, used)
            if event.operation in ("Scan", "Query") and table in consumed:
                self._reads[table] = max(used, 0.5)
            if throttled:
                bucket.throttled()


class Reservation:
    """The units a request took, per table, to be settled with its ``RequestEvent``."""

    __slots__ = ("budget", "kind", "taken")

    def __init__(
        self, budget: Budget, kind: str, taken: list[tuple[str, TokenBucket, float]]
    ) -> None:
        self.budget = budget
        self.kind = kind
        self.taken = taken

    def settle(self, event: RequestEvent) -> None:
        self.budget.settle(self, event)


def _put_units(item: Mapping[str, Any]) -> int:
    return max(1, math.ceil(item_size(item) / _KB))


def _write_units(request: Mapping[str, Any]) -> int:
    put = request.get("PutRequest")
    return _put_units(put["Item"]) if put is not None else 1


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "dynamorm_async_budget", default=None
)


@contextlib.contextmanager
def using(budget: Budget | None) -> Iterator[None]:
    """Pace every request made inside (in this task and the tasks it starts) by ``budget``."""
    marker = _current.set(budget)
    try:
        yield
    finally:
        _current.reset(marker)


def budget_for(operation: str, session_budget: Budget | None) -> Budget | None:
    """The budget that paces ``operation`` here: the one in force (a copy's), else the
    session's for the operations it paces."""
    budget = _current.get()
    if budget is None:
        budget = session_budget
    return budget if budget is not None and budget.paces(operation) else None


def check_rate(name: str, value: Any) -> float | None:
    """``value`` as units per second (None stays None); ``ValidationError`` naming
    ``name`` unless it is a number above 0."""
    if value is None:
        return None
    try:
        rate = float(value) if isinstance(value, (int, float)) else math.nan
    except OverflowError:  # an int too large for a float
        rate = math.inf
    if isinstance(value, bool) or not math.isfinite(rate) or rate <= 0:
        raise ValidationError(f"{name} takes units per second above 0, got {value!r:.60}")
    return rate
