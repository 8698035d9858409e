"""Fixtures shared by the session tests: a session whose test tables exist; and the
transport pass: ``make test`` runs the suite once per transport (``DYNAMORM_TRANSPORT``
forces it for every session the tests make), and the second pass leaves out the modules
that send nothing through a session's transport, or that compare both transports
themselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
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


# Modules whose tests do not depend on the transport requests take.
TRANSPORT_FREE = {
    "test_architecture.py",
    "test_convert.py",
    "test_convert_properties.py",
    "test_errors.py",
    "test_expressions.py",
    "test_lean_sigv4.py",
    "test_lean_transport.py",  # runs both transports itself
    "test_model.py",
    "test_single_table_templates.py",
    "test_throughput.py",
}


def pytest_report_header() -> str:
    return f"dynamorm_async transport: {os.environ.get('DYNAMORM_TRANSPORT') or 'auto'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("DYNAMORM_TRANSPORT") != "aiobotocore":
        return
    kept = [i for i in items if Path(str(i.fspath)).name not in TRANSPORT_FREE]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
