"""One cold start: a fresh process imports a library, opens its client and sends one GetItem.

    python cold_start.py bare|lean|ours-aiobotocore|aiobotocore|aioboto3|aiodynamo|pydynox
        |pynamodb-async|aiodynamodb

(``lean`` and ``ours-aiobotocore`` are ours on each transport; aiodynamodb needs Python
>= 3.12 and is run by the peers' interpreter, see ``benchmarks/peers.py``.)

(``bare`` imports nothing and sends nothing: the interpreter's own start-up, for reference.)

Everything comes from the environment, the same way for every library:
``AWS_ENDPOINT_URL_DYNAMODB``, ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, and ``BENCH_TABLE`` (the table), ``BENCH_PK`` / ``BENCH_SK`` (the
key of the item to read). When the answer is in, the script prints one JSON line: the
``time.monotonic()`` of that moment and of the end of the imports (the parent started its
clock just before starting this process; CLOCK_MONOTONIC is the same clock in both), and the
process's CPU time so far (interpreter start-up included: ``getrusage``, every thread, so
pydynox's Rust threads count), and which of aiobotocore, botocore and aiohttp were imported
by then. Closing the client afterwards is not part of the cold path.

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


HEAVY = ("aiobotocore", "botocore", "aiohttp")


def _answered(found: bool) -> None:
    answered = time.monotonic()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "imported": _IMPORTED[0],
                "answered": answered,
                "cpu": usage.ru_utime + usage.ru_stime,
                "found": found,
                "heavy": [m for m in HEAVY if m in sys.modules],
            }
        ),
        flush=True,
    )


async def ours(transport: str) -> None:
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
    # region, credentials and endpoint from the environment
    db = Session(transport=transport)
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


async def pydynox_model() -> None:
    from pydynox import DynamoDBClient, Model, ModelConfig
    from pydynox.attributes import (
        BooleanAttribute,
        DatetimeAttribute,
        DecimalAttribute,
        NumberAttribute,
        StringAttribute,
        StringSetAttribute,
    )

    class Record(Model):
        # region, credentials and endpoint from the environment
        model_config = ModelConfig(table=os.environ["BENCH_TABLE"], client=DynamoDBClient())

        pk = StringAttribute(partition_key=True)
        sk = StringAttribute(sort_key=True)
        email = StringAttribute()
        name = StringAttribute()
        age = NumberAttribute()
        balance = DecimalAttribute()
        active = BooleanAttribute()
        tags = StringSetAttribute()
        created = DatetimeAttribute()
        visits = NumberAttribute()
        bio = StringAttribute()

    _imported()
    record = await Record.get(pk=os.environ["BENCH_PK"], sk=os.environ["BENCH_SK"])
    _answered(record is not None)


async def pynamodb_async_model() -> None:
    from pynamodb.attributes import (
        BooleanAttribute,
        NumberAttribute,
        UnicodeAttribute,
        UnicodeSetAttribute,
        UTCDateTimeAttribute,
    )
    from pynamodb_async.models import Model

    class Record(Model):
        class Meta:
            table_name = os.environ["BENCH_TABLE"]
            # PynamoDB reads no region variable (its default is us-east-1): the same one.
            region = os.environ["AWS_DEFAULT_REGION"]

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        email = UnicodeAttribute()
        name = UnicodeAttribute()
        age = NumberAttribute()
        balance = NumberAttribute()
        active = BooleanAttribute()
        tags = UnicodeSetAttribute()
        created = UTCDateTimeAttribute()
        visits = NumberAttribute()
        bio = UnicodeAttribute()

    _imported()
    # The table holds the item as PynamoDB wrote it (its own timestamp format).
    record = await Record.get(os.environ["BENCH_PK"], os.environ["BENCH_SK_PYNAMODB"])
    _answered(record is not None)


async def aiodynamodb_model() -> None:
    from datetime import datetime
    from decimal import Decimal

    from aiodynamodb import DynamoDB, DynamoModel, HashKey, RangeKey, table

    @table(os.environ["BENCH_TABLE"])
    class Record(DynamoModel):
        pk: HashKey[str]
        sk: RangeKey[str]
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
    async with DynamoDB() as db:  # region, credentials and endpoint from the environment
        record = await db.get(
            Record, hash_key=os.environ["BENCH_PK"], range_key=os.environ["BENCH_SK"]
        )
        _answered(record is not None)


async def bare() -> None:
    """The reference: a Python process that starts and answers at once, no library."""
    _imported()
    _answered(True)


async def ours_lean() -> None:
    await ours("lean")


async def ours_aiobotocore() -> None:
    await ours("aiobotocore")


PATHS = {
    "bare": bare,
    "lean": ours_lean,
    "ours-aiobotocore": ours_aiobotocore,
    "aiobotocore": raw_aiobotocore,
    "aioboto3": aioboto3_table,
    "aiodynamo": aiodynamo_client,
    "pydynox": pydynox_model,
    "pynamodb-async": pynamodb_async_model,
    "aiodynamodb": aiodynamodb_model,
}

if __name__ == "__main__":
    asyncio.run(PATHS[sys.argv[1]]())
