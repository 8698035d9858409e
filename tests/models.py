"""Models shared by the session tests, and a helper that creates their tables.

``Order`` exercises everything the session manages (version, timestamps, TTL, nested and
collection fields); ``Thing`` has no version and uses attribute names that are DynamoDB
reserved words or contain dots, dashes and non-ASCII letters.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from dynamorm_async import GlobalIndex, LocalIndex, Session, field, model, model_info


@attrs.define
class Address:
    street: str
    city: str
    zip_code: str | None = None


@model(
    table="orders",
    hash_key="customer_id",
    range_key="order_id",
    indexes=[GlobalIndex("by_status", hash_key="status", range_key="placed_at")],
    version="version",
    created_at="created_at",
    updated_at="updated_at",
    ttl="expires_at",
)
@attrs.define
class Order:
    customer_id: str
    order_id: str
    status: str = "open"
    total: int = 0
    price: Decimal = Decimal("0")
    tags: set[str] = attrs.field(factory=set)
    lines: list[str] = attrs.field(factory=list)
    address: Address | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)
    note: str | None = None
    placed_at: datetime | None = None
    expires_at: datetime | None = None
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


@model(
    table="things",
    hash_key="name",
    range_key="size",
    indexes=[LocalIndex("by_data", range_key="data")],
)
@attrs.define
class Thing:
    name: str  # reserved word
    size: int  # reserved word, and a function name in expressions
    data: str = "d"  # reserved word
    first_name: str = field(default="", stored_as="first.name")
    dashed: str = field(default="", stored_as="x-y")
    umlaut: str = field(default="", stored_as="größe")
    counts: dict[str, int] = attrs.field(factory=dict)
    scores: list[int] = attrs.field(factory=list)
    labels: set[str] = attrs.field(factory=set)
    blob: bytes = b""
    flag: bool = False
    maybe: str | None = None


async def create_table(db: Session, cls: type, *, table_name: str | None = None) -> str:
    """Create ``cls``'s table (on demand, with its indexes) and return its name."""
    info = model_info(cls)
    name = db.table_name(cls, table_name)
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": info.key_schema(),
        "AttributeDefinitions": info.attribute_definitions(),
        "BillingMode": "PAY_PER_REQUEST",
    }
    gsis = [i for i in info.indexes if i.kind == "global"]
    lsis = [i for i in info.indexes if i.kind == "local"]
    if gsis:
        params["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": i.key_schema(), "Projection": i.projection()}
            for i in gsis
        ]
    if lsis:
        params["LocalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": i.key_schema(), "Projection": i.projection()}
            for i in lsis
        ]
    client = await db.client()
    await client.create_table(**params)
    return name


async def raw_item(db: Session, cls: type, key: dict[str, Any]) -> dict[str, Any] | None:
    """The stored item in wire form, read with the raw client (consistent read)."""
    client = await db.client()
    response = await client.get_item(TableName=db.table_name(cls), Key=key, ConsistentRead=True)
    item: dict[str, Any] | None = response.get("Item")
    return item


async def item_count(db: Session, cls: type) -> int:
    """How many items ``cls``'s table holds (a consistent scan)."""
    client = await db.client()
    count = 0
    kwargs: dict[str, Any] = {"TableName": db.table_name(cls), "Select": "COUNT"}
    while True:
        page = await client.scan(ConsistentRead=True, **kwargs)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
