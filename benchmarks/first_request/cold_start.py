"""One cold start: a fresh process imports a library, opens its client and sends one GetItem.

    python cold_start.py bare|ours|aiobotocore|aioboto3|aiodynamo

(``bare`` imports nothing and sends nothing: the interpreter's own start-up, for reference.)

Everything comes from the environment, the same way for every library:
``AWS_ENDPOINT_URL_DYNAMODB``, ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, and ``BENCH_TABLE`` (the table), ``BENCH_PK`` / ``BENCH_SK`` (the
key of the item to read). When the answer is in, the script prints one JSON line: the
``time.monotonic()`` of that moment and of the end of the imports (the parent started its
clock just before starting this process; CLOCK_MONOTONIC is the same clock in both), and the
process's CPU time so far (interpreter start-up included). Closing the client afterwards is
not part of the cold path.

Only the standard library is imported before the library under test.
"""

import asyncio
import json
import os
import resource
import sys
import time

_IMPORTED: list[float] = []


def _imported() -> None:
    """Mark the moment the library is imported (and, for ours, the model defined)."""
    _IMPORTED.append(time.monotonic())


def _answered(found: bool) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "imported": _IMPORTED[0],
                "answered": time.monotonic(),
                "cpu": usage.ru_utime + usage.ru_stime,
                "found": found,
            }
        ),
        flush=True,
    )


async def ours() -> None:
    from datetime import datetime
    from decimal import Decimal

    import attrs

    from dynamorm_async import Session, model

    @model(table="bench_records", hash_key="pk", range_key="sk")
    @attrs.define
    class Record:
        pk: str
        sk: str
        email: str
        name: str
        age: int
        balance: Decimal
        active: bool
        tags: set[str]
        created: datetime
        visits: int
        bio: str

    _imported()
    db = Session()  # region, credentials and endpoint from the environment
    record = await db.get(
        Record, os.environ["BENCH_PK"], os.environ["BENCH_SK"], table_name=os.environ["BENCH_TABLE"]
    )
    _answered(record is not None)
    await db.close()


async def raw_aiobotocore() -> None:
    from aiobotocore.session import get_session

    _imported()
    async with get_session().create_client("dynamodb") as client:
        response = await client.get_item(
            TableName=os.environ["BENCH_TABLE"],
            Key={"pk": {"S": os.environ["BENCH_PK"]}, "sk": {"S": os.environ["BENCH_SK"]}},
        )
        _answered("Item" in response)


async def aioboto3_table() -> None:
    import aioboto3

    _imported()
    session = aioboto3.Session()
    async with session.resource("dynamodb") as dynamodb:
        table = await dynamodb.Table(os.environ["BENCH_TABLE"])
        response = await table.get_item(
            Key={"pk": os.environ["BENCH_PK"], "sk": os.environ["BENCH_SK"]}
        )
        _answered("Item" in response)


async def aiodynamo_client() -> None:
    from aiodynamo.client import Client
    from aiodynamo.credentials import Credentials
    from aiodynamo.errors import ItemNotFound
    from aiodynamo.http.aiohttp import AIOHTTP
    from aiohttp import ClientSession
    from yarl import URL

    _imported()
    async with ClientSession() as http:
        # aiodynamo reads credentials from the environment but takes the region and the
        # endpoint as arguments: read from the same variables the others use.
        client = Client(
            AIOHTTP(http),
            Credentials.auto(),
            os.environ["AWS_DEFAULT_REGION"],
            endpoint=URL(os.environ["AWS_ENDPOINT_URL_DYNAMODB"]),
        )
        try:
            await client.get_item(
                os.environ["BENCH_TABLE"],
                {"pk": os.environ["BENCH_PK"], "sk": os.environ["BENCH_SK"]},
            )
            _answered(True)
        except ItemNotFound:
            _answered(False)


async def bare() -> None:
    """The reference: a Python process that starts and answers at once, no library."""
    _imported()
    _answered(True)


PATHS = {
    "bare": bare,
    "ours": ours,
    "aiobotocore": raw_aiobotocore,
    "aioboto3": aioboto3_table,
    "aiodynamo": aiodynamo_client,
}

if __name__ == "__main__":
    asyncio.run(PATHS[sys.argv[1]]())
