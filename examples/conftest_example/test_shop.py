"""Tests of ``shop`` against a real DynamoDB, each on tables of its own."""

from __future__ import annotations

import pytest
from shop import OutOfStock, Product, orders_of, place_order

from dynamorm_async import Session


async def test_an_order_takes_its_quantity_from_the_stock(db: Session) -> None:
    """Placing an order stores it and lowers the product's stock by its quantity."""
    pen = Product("pen", "Blue pen", price_cents=150, stock=5)
    await db.put(pen)
    order = await place_order(db, "c1", pen, quantity=2)
    assert order.total_cents == 300
    assert await orders_of(db, "c1") == [order]
    stored = await db.get(Product, "pen", consistent=True)
    assert stored is not None and stored.stock == 3


async def test_an_order_beyond_the_stock_changes_nothing(db: Session) -> None:
    """Ordering more than the stock raises OutOfStock: no order, the stock untouched."""
    pen = Product("pen", "Blue pen", price_cents=150, stock=1)
    await db.put(pen)
    with pytest.raises(OutOfStock):
        await place_order(db, "c1", pen, quantity=2)
    assert await orders_of(db, "c1") == []
    assert await db.get(Product, "pen", consistent=True) == pen


async def test_each_test_has_tables_of_its_own(db: Session, dynamodb_table_prefix: str) -> None:
    """The tables are this test's alone (named with its prefix): the orders the test above
    placed for customer c1 are not here."""
    assert db.table_name(Product).startswith(dynamodb_table_prefix)
    assert await orders_of(db, "c1") == []
    assert await db.scan(Product).count() == 0
