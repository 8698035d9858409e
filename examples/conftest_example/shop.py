"""The code under test: a little shop on dynamorm_async.

Functions take the session as an argument (no module-level session), so tests hand them the
one the ``dynamodb_session`` fixture makes, on tables of their own.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

import attrs

from dynamorm_async import Session, TransactionCanceled, attr, model


@model(table="products", hash_key="sku")
@attrs.define
class Product:
    sku: str
    name: str
    price_cents: int
    stock: int


@model(table="orders", hash_key="customer_id", range_key="order_id")
@attrs.define
class Order:
    customer_id: str
    order_id: str
    sku: str
    quantity: int
    total_cents: int


MODELS = [Product, Order]


class OutOfStock(Exception):
    """Fewer items in stock than ordered, or no such product."""


async def place_order(db: Session, customer_id: str, product: Product, quantity: int) -> Order:
    """Order ``quantity`` of ``product``: the stock goes down and the order is stored, both
    or neither (one transaction, conditional on the stock)."""
    order_id = f"{datetime.now(timezone.utc):%Y%m%d%H%M%S%f}-{secrets.token_hex(3)}"
    order = Order(customer_id, order_id, product.sku, quantity, quantity * product.price_cents)
    try:
        async with db.transaction() as tx:
            tx.update(
                Product,
                product.sku,
                add={"stock": -quantity},
                condition=attr("stock") >= quantity,
            )
            tx.put(order, if_not_exists=True)
    except TransactionCanceled as exc:
        if exc.reasons[0].code == "ConditionalCheckFailed":
            raise OutOfStock(f"cannot order {quantity} of {product.sku!r}") from exc
        raise
    return order


async def orders_of(db: Session, customer_id: str) -> list[Order]:
    """The customer's orders, oldest first."""
    return [order async for order in db.query(Order, customer_id)]
