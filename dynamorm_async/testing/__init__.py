"""Test helpers: real local DynamoDB engines, a fault-injecting proxy, and a pytest plugin.

Start an engine yourself::

    from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB

    with LocalDynamoDB() as ddb:              # Amazon DynamoDB Local (needs Java; npm once)
        client = session.create_client(
            "dynamodb", endpoint_url=ddb.endpoint, region_name=REGION, **DUMMY_CREDENTIALS
        )

    async with LocalDynamoDB("moto") as ddb:  # moto's server, pure Python
        ...

    with LocalDynamoDB("dynalite") as ddb:    # dynalite (Node.js; npm once): tables pass
        ...                                    # through CREATING/DELETING like on AWS

Force what no engine does (throttling, 500s, dropped connections, rewritten answers) with a
proxy on loopback between your client and the engine::

    with FaultProxy(ddb.endpoint) as proxy:
        proxy.fail("PutItem", code="ProvisionedThroughputExceededException", times=2)
        db = Session(endpoint_url=proxy.endpoint, ...)

or let pytest do it, in your ``conftest.py``::

    pytest_plugins = ["dynamorm_async.testing.pytest_plugin"]

which gives the fixtures ``dynamodb_engine``, ``dynamodb_endpoint`` (one engine per session),
``dynamodb_table_prefix``, ``dynamodb_session`` (a ``Session`` with that prefix) and
``dynamodb_client`` (a raw aiobotocore client); both drop the test's tables afterwards.
``DYNAMORM_TEST_ENGINE=moto`` (or ``dynalite``) picks another engine; ``DYNAMODB_ENDPOINT``
points the tests at an engine you run yourself. DynamoDB Local is downloaded once into
``$DYNAMORM_CACHE_DIR`` (default ``~/.cache/dynamorm_async``).

Importing this module does not import aiobotocore: it stays cheap for test collection.
"""

from __future__ import annotations

from ._engine import DUMMY_CREDENTIALS, ENGINES, REGION, LocalDynamoDB
from ._proxy import FaultProxy

__all__ = ["DUMMY_CREDENTIALS", "ENGINES", "FaultProxy", "LocalDynamoDB", "REGION"]
