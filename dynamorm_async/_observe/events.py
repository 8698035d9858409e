"""What the session reports about its requests: ``RequestEvent`` (one per DynamoDB request),
the consumed capacity DynamoDB returned, and the running totals of ``db.capacity``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = [
    "READ_OPERATIONS",
    "Capacity",
    "CapacityTotals",
    "RequestEvent",
    "Units",
    "parse_capacity",
    "request_tables",
]


@attrs.frozen
class Capacity:
    """The capacity one request consumed on one table, as DynamoDB reported it.

    ``units`` is the total (read and write); ``read_units``/``write_units`` split it where
    DynamoDB says which is which (a read operation's units are read units, a write's are
    write units); ``indexes`` maps each index touched to its units."""

    table: str
    units: float
    read_units: float
    write_units: float
    indexes: Mapping[str, float] = attrs.field(factory=dict)


@attrs.frozen
class Units:
    """Capacity units consumed on one table (``db.capacity``'s values)."""

    read: float = 0.0
    write: float = 0.0

    @property
    def total(self) -> float:
        """Read and write units together."""
        return self.read + self.write


class CapacityTotals:
    """Running totals of the capacity a session's requests consumed, per table: the value of
    ``db.capacity``. Counted only while consumed capacity is being asked for (a request
    callback, a tracer, a copy budget, or ``Session(consumed_capacity=True)``)::

        db = Session(consumed_capacity=True)
        ...
        print(db.capacity.tables["orders"].write, db.capacity.read)
        db.capacity.reset()
    """

    def __init__(self) -> None:
        self._tables: dict[str, list[float]] = {}

    def __repr__(self) -> str:
        return f"<CapacityTotals read={self.read:g} write={self.write:g}>"

    @property
    def tables(self) -> dict[str, Units]:
        """Units per table name, a snapshot."""
        return {name: Units(r, w) for name, (r, w) in self._tables.items()}

    @property
    def read(self) -> float:
        """Read units on every table."""
        return sum(r for r, _ in self._tables.values())

    @property
    def write(self) -> float:
        """Write units on every table."""
        return sum(w for _, w in self._tables.values())

    def reset(self) -> None:
        """Start counting from zero again."""
        self._tables.clear()

    def add(self, capacity: Iterable[Capacity]) -> None:
        for c in capacity:
            totals = self._tables.setdefault(c.table, [0.0, 0.0])
            totals[0] += c.read_units
            totals[1] += c.write_units


@attrs.frozen
class RequestEvent:
    """One DynamoDB request, after it ended (``Session(on_request=callback)``).

    - ``operation``: DynamoDB's name (``"GetItem"``, ``"BatchWriteItem"``, ...).
    - ``table``: the table, or None for a request over several (``tables`` lists them all);
      ``index``: the index of a query or scan.
    - ``duration``: seconds from sending to the answer, retries included.
    - ``attempts``: HTTP attempts made (1 without retries); ``retries``: why each attempt
      before the last was retried: ``"throttle"``, ``"5xx"``, ``"connection"`` or
      ``"checksum"`` (or DynamoDB's error code for anything else).
    - ``capacity``: the consumed capacity DynamoDB reported, one entry per table; empty when
      it was not asked for. ``read_units``/``write_units`` add it up.
    - ``items``: items returned (get, query, scan, batch get, transact get), else None;
      ``scanned``: items read by a query or scan before its filter.
    - ``unprocessed``: items or keys a batch request left for a retry.
    - ``error``: DynamoDB's error code (or the transport failure's) when the request failed.
    """

    operation: str
    table: str | None
    tables: tuple[str, ...]
    index: str | None
    duration: float
    attempts: int
    retries: tuple[str, ...]
    capacity: tuple[Capacity, ...]
    items: int | None
    scanned: int | None
    unprocessed: int
    error: str | None

    @property
    def read_units(self) -> float:
        """Read units this request consumed (0 when capacity was not asked for)."""
        return sum(c.read_units for c in self.capacity)

    @property
    def write_units(self) -> float:
        """Write units this request consumed (0 when capacity was not asked for)."""
        return sum(c.write_units for c in self.capacity)


# The operations whose consumed units are read units (the others' are write units).
READ_OPERATIONS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})


def parse_capacity(operation: str, raw: Any) -> tuple[Capacity, ...]:
    """The ``ConsumedCapacity`` of an answer (one map, or a list of them) as ``Capacity``."""
    if not raw:
        return ()
    entries = raw if isinstance(raw, list) else [raw]
    reads = operation in READ_OPERATIONS
    out = []
    for entry in entries:
        units = float(entry.get("CapacityUnits") or 0.0)
        read = entry.get("ReadCapacityUnits")
        write = entry.get("WriteCapacityUnits")
        if read is None and write is None:  # only the total: the operation says which
            read, write = (units, 0.0) if reads else (0.0, units)
        indexes: dict[str, float] = {}
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            for name, index in (entry.get(kind) or {}).items():
                indexes[name] = float(index.get("CapacityUnits") or 0.0)
        out.append(
            Capacity(
                str(entry.get("TableName", "")),
                units,
                float(read or 0.0),
                float(write or 0.0),
                indexes,
            )
        )
    return tuple(out)


def request_tables(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The tables a request's parameters name, in order, each once."""
    if "TableName" in params:
        return (str(params["TableName"]),)
    if "RequestItems" in params:
        return tuple(str(name) for name in params["RequestItems"])
    names: dict[str, None] = {}
    for action in params.get("TransactItems") or ():
        for body in action.values():
            names.setdefault(str(body.get("TableName")), None)
    return tuple(names)
