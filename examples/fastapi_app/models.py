"""The stored model (dynamorm_async) and the API's request and response bodies (pydantic).

The two are kept apart on purpose: the table's shape and the API's contract change for
different reasons, and pydantic validates what clients send before anything reaches the
database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import attrs
from pydantic import BaseModel, ConfigDict, Field

from dynamorm_async import model

Status = Literal["open", "paid", "shipped", "cancelled"]

# -- stored ----------------------------------------------------------------------------------


@attrs.define
class Line:
    sku: str
    quantity: int
    price_cents: int


@model(
    table="orders",
    hash_key="customer_id",
    range_key="order_id",
    version="version",  # optimistic locking: every write checks and bumps it
    created_at="created_at",
    updated_at="updated_at",
)
@attrs.define
class Order:
    customer_id: str
    order_id: str  # time-ordered, so a customer's orders list newest first
    lines: list[Line]
    status: Status = "open"
    note: str | None = None
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def total_cents(self) -> int:
        """What the order costs."""
        return sum(line.quantity * line.price_cents for line in self.lines)


# -- what clients send -----------------------------------------------------------------------


class LineIn(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1000)
    price_cents: int = Field(ge=0)


class OrderIn(BaseModel):
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=500)


class StatusChange(BaseModel):
    status: Status
    version: int = Field(ge=1, description="the version the client last saw")


# -- what clients get ------------------------------------------------------------------------


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    quantity: int
    price_cents: int


class OrderOut(BaseModel):
    """An order as the API shows it; read straight from an ``Order`` (from_attributes)."""

    model_config = ConfigDict(from_attributes=True)

    customer_id: str
    order_id: str
    lines: list[LineOut]
    status: Status
    note: str | None
    total_cents: int
    version: int
    created_at: datetime | None
    updated_at: datetime | None


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")
