"""Interop with aioboto3: a Session reuses a caller's aioboto3 session, and what it writes
reads back through aioboto3's resource layer.

aioboto3 pins an older aiobotocore, so this runs in its own environment (``make interop``,
part of ``make test``); in the main environment, without aioboto3, it is skipped. It also
checks that the library works on aiobotocore 2.x, the oldest line we support.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from models import Thing, create_table

from dynamorm_async import Session
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION

aioboto3 = pytest.importorskip("aioboto3", reason="aioboto3 runs in .venv-interop: make interop")


async def test_a_session_built_on_an_aioboto3_session(
    dynamodb_endpoint: str, dynamodb_table_prefix: str
) -> None:
    """Session(aioboto3_session=...) takes region and credentials from it; items written by
    the session read back through aioboto3's resource Table, and the other way round."""
    boto = aioboto3.Session(region_name=REGION, **DUMMY_CREDENTIALS)
    db = Session(
        aioboto3_session=boto, endpoint_url=dynamodb_endpoint, table_prefix=dynamodb_table_prefix
    )
    try:
        name = await create_table(db, Thing)
        await db.put(Thing("w", 1, data="from us", scores=[1, 2], labels={"x"}))
        async with boto.resource("dynamodb", endpoint_url=dynamodb_endpoint) as resource:
            table = await resource.Table(name)
            got = await table.get_item(Key={"name": "w", "size": 1})
            assert got["Item"]["data"] == "from us"
            assert got["Item"]["scores"] == [Decimal(1), Decimal(2)]
            assert got["Item"]["labels"] == {"x"}
            await table.put_item(Item={"name": "r", "size": 2, "data": "from aioboto3"})
        assert await db.get(Thing, "r", 2) == Thing("r", 2, data="from aioboto3")
        assert (await db.client()).meta.region_name == REGION
        await (await db.client()).delete_table(TableName=name)
    finally:
        await db.close()
