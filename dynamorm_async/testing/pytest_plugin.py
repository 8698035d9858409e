"""pytest fixtures that run your tests against a real DynamoDB engine.

Enable it in your ``conftest.py``::

    pytest_plugins = ["dynamorm_async.testing.pytest_plugin"]

and use the fixtures::

    async def test_put(dynamodb_session):
        # a Session on the engine whose table_prefix is unique to this test; tables with
        # that prefix are dropped again after the test
        await dynamodb_session.put(order)

    async def test_raw(dynamodb_client, dynamodb_table_prefix):
        name = dynamodb_table_prefix + "orders"   # dropped again after the test
        await dynamodb_client.create_table(TableName=name, ...)

Environment variables:

``DYNAMORM_TEST_ENGINE``
    ``dynamodb-local`` (default), ``moto`` or ``dynalite``: the engine started once for the
    session.
``DYNAMODB_ENDPOINT``
    use an engine that is already running at this URL instead (must be loopback, unless
    ``TEST_ON_AWS=1``).
``TEST_ON_AWS=1``
    allow a non-loopback ``DYNAMODB_ENDPOINT`` and use the default AWS credential chain.

Tests marked ``@pytest.mark.server_validation("why")`` rely on checks that DynamoDB does on
the server and moto does not; on moto they are expected to fail (non-strict xfail).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
import pytest_asyncio

from .._session import Session
from ._engine import DUMMY_CREDENTIALS, ENGINES, REGION, LocalDynamoDB

__all__ = [
    "dynamodb_client",
    "dynamodb_session",
    "dynamodb_endpoint",
    "dynamodb_engine",
    "dynamodb_table_prefix",
]

_MARKER_HELP = (
    "server_validation(reason): the test relies on validation that DynamoDB does on the "
    "server; moto is lax there, so the test is expected to fail on moto"
)


def _on_aws() -> bool:
    return os.environ.get("TEST_ON_AWS") == "1"


def _external_endpoint() -> str | None:
    """``$DYNAMODB_ENDPOINT``, refused when it is not loopback unless ``TEST_ON_AWS=1``."""
    endpoint = os.environ.get("DYNAMODB_ENDPOINT")
    if not endpoint or _on_aws():
        return endpoint or None
    host = urlsplit(endpoint).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost
        loopback = False
    if not loopback:
        # Tests create and delete tables: never aim them at a real account by accident.
        raise pytest.UsageError(
            f"DYNAMODB_ENDPOINT={endpoint} is not a loopback address; the tests create and "
            "delete tables there. Set TEST_ON_AWS=1 if that is really what you want."
        )
    return endpoint


def _engine_name() -> str:
    if _external_endpoint():
        return "external"
    engine = os.environ.get("DYNAMORM_TEST_ENGINE") or "dynamodb-local"
    if engine not in ENGINES:
        raise pytest.UsageError(
            f"DYNAMORM_TEST_ENGINE={engine!r} is not one of {', '.join(ENGINES)}"
        )
    return engine


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``server_validation`` marker and check the environment before collection."""
    if not any(line.startswith("server_validation") for line in config.getini("markers")):
        config.addinivalue_line("markers", _MARKER_HELP)
    _engine_name()  # a bad DYNAMORM_TEST_ENGINE or DYNAMODB_ENDPOINT fails the run up front


def pytest_report_header(config: pytest.Config) -> str:
    """Show which engine the DynamoDB fixtures use, e.g. ``dynamorm_async engine: moto``."""
    engine = _engine_name()
    where = f" ({os.environ['DYNAMODB_ENDPOINT']})" if engine == "external" else ""
    return f"dynamorm_async engine: {engine}{where}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``server_validation`` tests as expected failures when the engine is moto."""
    engine = _engine_name()
    for item in items:
        marker = item.get_closest_marker("server_validation")
        if marker is None:
            continue
        reason = marker.kwargs.get("reason", marker.args[0] if marker.args else None)
        if not isinstance(reason, str) or not reason.strip():
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.server_validation needs a reason, e.g. "
                '@pytest.mark.server_validation("DynamoDB rejects empty sets")'
            )
        if engine == "moto":
            item.add_marker(pytest.mark.xfail(reason="moto is lax here: " + reason, strict=False))


@pytest.fixture(scope="session")
def dynamodb_engine() -> str:
    """The engine under test: ``"dynamodb-local"``, ``"moto"``, ``"dynalite"`` or
    ``"external"``.

    >>> def test_something(dynamodb_engine):  # doctest: +SKIP
    ...     if dynamodb_engine == "moto":
    ...         pytest.skip("moto does not support this")
    """
    return _engine_name()


@pytest.fixture(scope="session")
def dynamodb_endpoint(dynamodb_engine: str) -> Iterator[str]:
    """The engine's URL; a local engine is started once for the whole session.

    >>> def test_url(dynamodb_endpoint):  # doctest: +SKIP
    ...     assert dynamodb_endpoint.startswith("http://127.0.0.1:")
    """
    external = _external_endpoint()
    if external is not None:
        yield external
        return
    engine = LocalDynamoDB(dynamodb_engine)
    try:
        engine.start()
        yield engine.endpoint
    finally:
        engine.stop()


@pytest.fixture
def dynamodb_table_prefix() -> str:
    """A table-name prefix unique to this test, e.g. ``"test_3f2a9c01de_"``.

    Tables whose names start with it are deleted by ``dynamodb_client`` after the test.
    """
    return f"test_{uuid4().hex[:10]}_"


def _client_options() -> dict[str, Any]:
    """Region and credentials for the engine: dummy ones locally, the AWS chain on AWS."""
    if _on_aws() and os.environ.get("DYNAMODB_ENDPOINT"):
        from aiobotocore.session import get_session

        return {"region_name": get_session().get_config_variable("region") or REGION}
    return {"region_name": REGION, **DUMMY_CREDENTIALS}


def _session(endpoint: str, prefix: str = "") -> Session:
    options = _client_options()
    region = options.pop("region_name")
    return Session(region=region, endpoint_url=endpoint, table_prefix=prefix, **options)


@pytest_asyncio.fixture
async def dynamodb_session(
    dynamodb_endpoint: str, dynamodb_table_prefix: str
) -> AsyncIterator[Session]:
    """A ``Session`` on the engine with ``table_prefix=dynamodb_table_prefix``; the test's
    tables (every table with that prefix) are dropped afterwards, and the session closed.

    >>> async def test_orders(dynamodb_session):  # doctest: +SKIP
    ...     await dynamodb_session.tables.create(Order)
    ...     await dynamodb_session.put(Order("c1", "o1"))
    """
    session = _session(dynamodb_endpoint, dynamodb_table_prefix)
    try:
        yield session
    finally:
        # The test may have closed its session: clean up with a fresh one then.
        cleaner = session if session.state != "closed" else _session(dynamodb_endpoint)
        try:
            await cleaner.tables._delete_prefixed(dynamodb_table_prefix)
        finally:
            await session.close()
            await cleaner.close()


@pytest_asyncio.fixture
async def dynamodb_client(dynamodb_endpoint: str, dynamodb_table_prefix: str) -> AsyncIterator[Any]:
    """An aiobotocore DynamoDB client for the engine; drops the test's tables afterwards.

    >>> async def test_tables(dynamodb_client):  # doctest: +SKIP
    ...     assert "TableNames" in await dynamodb_client.list_tables()
    """
    session = _session(dynamodb_endpoint)
    try:
        yield await session.client()
    finally:
        try:
            await session.tables._delete_prefixed(dynamodb_table_prefix)
        finally:
            await session.close()
