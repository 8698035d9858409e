"""Fixtures shared by the session tests: a session whose test tables exist."""

from __future__ import annotations

import pytest_asyncio
from models import Order, Thing, create_table

from dynamorm_async import Session


@pytest_asyncio.fixture
async def db(dynamodb_session: Session) -> Session:
    """``dynamodb_session`` with the ``Order`` and ``Thing`` tables created (and dropped by
    the fixture after the test)."""
    await create_table(dynamodb_session, Order)
    await create_table(dynamodb_session, Thing)
    return dynamodb_session
