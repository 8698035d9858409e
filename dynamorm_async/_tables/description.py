"""Typed views of what DescribeTable returns: ``TableDescription`` and its parts.

DescribeTable answers with a nested dict whose optional parts vary by billing mode, indexes,
streams and engine; these frozen attrs classes give it names and types, keep the raw answer
in ``raw`` for anything not modelled, and know when a table is usable (the table and every
global index ACTIVE).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import attrs

from .._errors import whole_number

__all__ = [
    "IndexDescription",
    "KeyElement",
    "Provisioned",
    "TableDescription",
    "parse_description",
]


@attrs.frozen
class Provisioned:
    """Provisioned throughput in capacity units, for a table or a global index::

    await db.tables.create(Order, billing=Provisioned(read=5, write=5))
    """

    read: int
    write: int

    def __attrs_post_init__(self) -> None:
        for name in ("read", "write"):
            whole_number(f"Provisioned.{name} (capacity units)", getattr(self, name))

    def to_wire(self) -> dict[str, int]:
        """The ``ProvisionedThroughput`` map CreateTable takes."""
        return {"ReadCapacityUnits": self.read, "WriteCapacityUnits": self.write}


@attrs.frozen
class KeyElement:
    """One key attribute: stored name, ``"HASH"`` or ``"RANGE"``, and its type (S, N, B)."""

    name: str
    key_type: str
    attribute_type: str | None


@attrs.frozen
class IndexDescription:
    """A secondary index as DynamoDB describes it. ``status`` is None for local indexes
    (they have none: they live and die with the table)."""

    name: str
    kind: str  # "global" or "local"
    key_schema: tuple[KeyElement, ...]
    projection_type: str
    non_key_attributes: tuple[str, ...]
    status: str | None
    provisioned: Provisioned | None
    item_count: int | None
    size_bytes: int | None


@attrs.frozen
class TableDescription:
    """A table as DescribeTable (and DescribeTimeToLive) report it.

    ``ttl_status`` is None when it was not asked for (``create(wait=False)``) or the engine
    cannot tell. ``raw`` holds DescribeTable's ``Table`` map as returned::

        desc = await db.tables.describe(Order)
        desc.status, desc.item_count, [i.status for i in desc.global_indexes]
    """

    name: str
    arn: str | None
    status: str
    item_count: int | None
    size_bytes: int | None
    key_schema: tuple[KeyElement, ...]
    billing_mode: str
    provisioned: Provisioned | None
    global_indexes: tuple[IndexDescription, ...]
    local_indexes: tuple[IndexDescription, ...]
    stream_view_type: str | None
    stream_arn: str | None
    ttl_status: str | None
    ttl_attribute: str | None
    deletion_protection: bool
    sse_type: str | None
    creation_time: datetime | None
    raw: Mapping[str, Any] = attrs.field(repr=False, eq=False)

    @property
    def usable(self) -> bool:
        """True when the table and every global index are ACTIVE."""
        return self.status == "ACTIVE" and all(i.status == "ACTIVE" for i in self.global_indexes)

    def status_summary(self) -> str:
        """``"ACTIVE"``, or e.g. ``"ACTIVE, index by_status CREATING"``."""
        parts = [self.status] + [
            f"index {i.name} {i.status}" for i in self.global_indexes if i.status != "ACTIVE"
        ]
        return ", ".join(parts)


def _keys(schema: Any, types: Mapping[str, str]) -> tuple[KeyElement, ...]:
    return tuple(
        KeyElement(k["AttributeName"], k["KeyType"], types.get(k["AttributeName"]))
        for k in schema or ()
    )


def _provisioned(throughput: Any, billing_mode: str) -> Provisioned | None:
    # On-demand tables still report a ProvisionedThroughput of zeros: that is not one.
    if billing_mode != "PROVISIONED" or not throughput:
        return None
    read = int(throughput.get("ReadCapacityUnits") or 0)
    write = int(throughput.get("WriteCapacityUnits") or 0)
    return Provisioned(read, write) if read > 0 and write > 0 else None


def _index(raw: Any, kind: str, types: Mapping[str, str], billing_mode: str) -> IndexDescription:
    projection = raw.get("Projection") or {}
    return IndexDescription(
        name=raw["IndexName"],
        kind=kind,
        key_schema=_keys(raw.get("KeySchema"), types),
        projection_type=projection.get("ProjectionType", "ALL"),
        non_key_attributes=tuple(projection.get("NonKeyAttributes") or ()),
        status=raw.get("IndexStatus") if kind == "global" else None,
        provisioned=_provisioned(raw.get("ProvisionedThroughput"), billing_mode),
        item_count=raw.get("ItemCount"),
        size_bytes=raw.get("IndexSizeBytes"),
    )


def _creation_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return None


def parse_description(table: Mapping[str, Any], ttl: Mapping[str, Any] | None) -> TableDescription:
    """A ``TableDescription`` from DescribeTable's (or CreateTable's) ``Table`` map and,
    when asked for, DescribeTimeToLive's ``TimeToLiveDescription``."""
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    summary = table.get("BillingModeSummary") or {}
    # Tables created provisioned (and some engines) report no summary: PROVISIONED then.
    billing_mode = summary.get("BillingMode") or "PROVISIONED"
    stream = table.get("StreamSpecification") or {}
    sse = table.get("SSEDescription") or {}
    return TableDescription(
        name=table["TableName"],
        arn=table.get("TableArn"),
        status=table.get("TableStatus", "ACTIVE"),
        item_count=table.get("ItemCount"),
        size_bytes=table.get("TableSizeBytes"),
        key_schema=_keys(table.get("KeySchema"), types),
        billing_mode=billing_mode,
        provisioned=_provisioned(table.get("ProvisionedThroughput"), billing_mode),
        global_indexes=tuple(
            _index(i, "global", types, billing_mode)
            for i in table.get("GlobalSecondaryIndexes") or ()
        ),
        local_indexes=tuple(
            _index(i, "local", types, billing_mode)
            for i in table.get("LocalSecondaryIndexes") or ()
        ),
        stream_view_type=stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
        stream_arn=table.get("LatestStreamArn"),
        ttl_status=(ttl or {}).get("TimeToLiveStatus"),
        ttl_attribute=(ttl or {}).get("AttributeName"),
        deletion_protection=bool(table.get("DeletionProtectionEnabled", False)),
        sse_type=sse.get("SSEType") if sse.get("Status") in ("ENABLED", "ENABLING") else None,
        creation_time=_creation_time(table.get("CreationDateTime")),
        raw=table,
    )
