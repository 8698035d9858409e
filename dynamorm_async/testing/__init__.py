"""Test helpers: a real local DynamoDB engine and a pytest plugin built on it.

Start an engine yourself::

    from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB

    with LocalDynamoDB() as ddb:              # Amazon DynamoDB Local (needs Java; npm once)
        client = session.create_client(
            "dynamodb", endpoint_url=ddb.endpoint, region_name=REGION, **DUMMY_CREDENTIALS
        )

    async with LocalDynamoDB("moto") as ddb:  # moto's server, pure Python
        ...

or let pytest do it, in your ``conftest.py``::

    pytest_plugins = ["dynamorm_async.testing.pytest_plugin"]

which gives the fixtures ``dynamodb_engine``, ``dynamodb_endpoint`` (one engine per session),
``dynamodb_table_prefix`` and ``dynamodb_client`` (an aiobotocore client that drops the
test's tables afterwards). ``DYNAMORM_TEST_ENGINE=moto`` picks moto; ``DYNAMODB_ENDPOINT``
points the tests at an engine you run yourself. DynamoDB Local is downloaded once into
``$DYNAMORM_CACHE_DIR`` (default ``~/.cache/dynamorm_async``).

Importing this module does not import aiobotocore: it stays cheap for test collection.
"""

from __future__ import annotations

from ._engine import DUMMY_CREDENTIALS, ENGINES, REGION, LocalDynamoDB

__all__ = ["DUMMY_CREDENTIALS", "ENGINES", "LocalDynamoDB", "REGION"]
