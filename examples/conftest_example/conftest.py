"""How a project tests its own code against a real DynamoDB with dynamorm_async's fixtures.

``pytest_plugins`` below enables ``dynamorm_async.testing.pytest_plugin``: it starts one
engine for the test session (DynamoDB Local by default; ``DYNAMORM_TEST_ENGINE=moto`` for
moto, ``DYNAMODB_ENDPOINT=http://127.0.0.1:8000`` for one you run yourself) and gives
``dynamodb_session``: a ``Session`` whose table prefix is unique to the test, whose tables
are dropped after it. The ``db`` fixture here adds the app's tables.

Your project's pytest settings (pyproject.toml) for async tests and fixtures::

    [tool.pytest.ini_options]
    asyncio_mode = "auto"
    asyncio_default_fixture_loop_scope = "function"

Run it here with ``python -m pytest examples/conftest_example``. The repository's own pytest
settings register the plugin with ``-p`` as well; pytest registers a plugin once per name, so
the second mention is a no-op. (Do not also ``import *`` the plugin's fixtures into a
conftest: that registers its hooks a second time, under the conftest's name.) In your
project, keep ``pytest_plugins`` in the top-level conftest.py of your tests: pytest refuses
it in a conftest.py below the directories it starts from.
"""

from __future__ import annotations

import pytest_asyncio
import shop

from dynamorm_async import Session

pytest_plugins = ["dynamorm_async.testing.pytest_plugin"]


@pytest_asyncio.fixture
async def db(dynamodb_session: Session) -> Session:
    """A session with the shop's tables, created for this test alone (in one pass)."""
    await dynamodb_session.tables.ensure_all(*shop.MODELS)
    return dynamodb_session
