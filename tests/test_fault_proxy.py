"""``FaultProxy``: faults no local engine produces (throttling, 500s, dropped connections,
tables that stay CREATING), injected over real HTTP between the session and the engine."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from models import Thing, create_table

from dynamorm_async import RequestFailed, Session, Throttled
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, FaultProxy


@pytest.fixture
def proxy(dynamodb_endpoint: str) -> Iterator[FaultProxy]:
    """A running proxy in front of the test engine, stopped after the test."""
    with FaultProxy(dynamodb_endpoint) as running:
        yield running


def via(endpoint: str, prefix: str = "", *, attempts: int | None = None) -> Session:
    """A session on ``endpoint``; ``attempts`` caps botocore's standard retries (the session's
    default otherwise: standard mode, 5 attempts)."""
    from botocore.config import Config

    config = None
    if attempts is not None:
        config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
    return Session(
        region=REGION,
        endpoint_url=endpoint,
        table_prefix=prefix,
        config=config,
        **DUMMY_CREDENTIALS,
    )


async def stored(client: Any, prefix: str, name: str, size: int) -> dict[str, Any] | None:
    """The item as the engine itself holds it, read past the proxy."""
    key = {"name": {"S": name}, "size": {"N": str(size)}}
    response = await client.get_item(TableName=prefix + "things", Key=key, ConsistentRead=True)
    item: dict[str, Any] | None = response.get("Item")
    return item


def creating(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """A rewrite that keeps every table CREATING."""
    response["Table"]["TableStatus"] = "CREATING"
    return response


async def test_without_rules_requests_pass_through(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """With no rules the proxy is transparent: through it a session creates a table, puts and
    gets an item, the engine itself holds that item, and each request was seen once."""
    async with via(proxy.endpoint, dynamodb_table_prefix) as db:
        await create_table(db, Thing)
        await db.put(Thing("t", 1, data="x"))
        assert await db.get(Thing, "t", 1) == Thing("t", 1, data="x")

    item = await stored(dynamodb_client, dynamodb_table_prefix, "t", 1)
    assert item is not None and item["data"] == {"S": "x"}
    assert [op for op, _ in proxy.requests] == ["CreateTable", "PutItem", "GetItem"]
    assert proxy.count("PutItem") == 1 and proxy.count() == 3
    put = proxy.requests[1][1]
    assert put["TableName"] == dynamodb_table_prefix + "things"
    assert put["Item"]["name"] == {"S": "t"}


async def test_throttling_twice_is_retried_until_the_put_succeeds(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """Two ProvisionedThroughputExceededException answers are retried by the session's
    default retries: the third attempt writes the item."""
    proxy.fail("PutItem", code="ProvisionedThroughputExceededException", times=2)
    async with via(proxy.endpoint, dynamodb_table_prefix) as db:
        await create_table(db, Thing)
        await db.put(Thing("t", 1))
    assert proxy.count("PutItem") == 3
    assert await stored(dynamodb_client, dynamodb_table_prefix, "t", 1) is not None


async def test_throttling_beyond_the_retries_raises_throttled(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """Throttled forever with 2 attempts allowed: ``Throttled`` carrying DynamoDB's code and
    the proxy's message, after exactly 2 requests, and nothing written."""
    proxy.fail("PutItem", times=None)
    async with via(proxy.endpoint, dynamodb_table_prefix, attempts=2) as db:
        await create_table(db, Thing)
        with pytest.raises(Throttled) as caught:
            await db.put(Thing("t", 1))
    assert caught.value.code == "ProvisionedThroughputExceededException"
    assert caught.value.operation == "PutItem"
    assert "injected by FaultProxy" in str(caught.value)
    assert proxy.count("PutItem") == 2
    assert await stored(dynamodb_client, dynamodb_table_prefix, "t", 1) is None


async def test_an_internal_server_error_is_retried_transparently(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """One 500 InternalServerError is retried; the put succeeds on the second request."""
    proxy.fail("PutItem", code="InternalServerError", status=500, message="boom")
    async with via(proxy.endpoint, dynamodb_table_prefix, attempts=3) as db:
        await create_table(db, Thing)
        await db.put(Thing("t", 1))
    assert proxy.count("PutItem") == 2
    assert await stored(dynamodb_client, dynamodb_table_prefix, "t", 1) is not None


async def test_a_dropped_connection_is_retried_transparently(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """A GetItem whose connection is closed without an answer is sent again and returns the
    item."""
    async with via(proxy.endpoint, dynamodb_table_prefix, attempts=3) as db:
        await create_table(db, Thing)
        await db.put(Thing("t", 1))
        proxy.drop("GetItem", times=1)
        assert await db.get(Thing, "t", 1) == Thing("t", 1)
    assert proxy.count("GetItem") == 2


async def test_a_connection_dropped_every_time_raises_request_failed(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """With one attempt allowed, a dropped GetItem raises RequestFailed with the transport
    error's name as its code."""
    async with via(proxy.endpoint, dynamodb_table_prefix, attempts=1) as db:
        await create_table(db, Thing)
        proxy.drop("GetItem", times=None)
        with pytest.raises(RequestFailed) as caught:
            await db.get(Thing, "t", 1)
    assert caught.value.code == "ConnectionClosedError"
    assert caught.value.operation == "GetItem"
    assert proxy.count("GetItem") == 1


async def test_a_rewritten_describe_table_keeps_the_table_creating(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """A rewrite makes DescribeTable say CREATING while the engine says ACTIVE; the rest of the
    answer is the engine's, and the rewrite saw the request's JSON."""
    seen: list[dict[str, Any]] = []

    def keep_creating(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return creating(request, response)

    proxy.rewrite("DescribeTable", keep_creating)
    async with via(proxy.endpoint, dynamodb_table_prefix) as db:
        name = await create_table(db, Thing)
        client = await db.client()
        for _ in range(2):  # times=None: every time
            answer = await client.describe_table(TableName=name)
            assert answer["Table"]["TableStatus"] == "CREATING"
    real = await dynamodb_client.describe_table(TableName=name)
    assert real["Table"]["TableStatus"] == "ACTIVE"
    assert answer["Table"]["KeySchema"] == real["Table"]["KeySchema"]
    assert seen == [{"TableName": name}] * 2


async def test_a_rewritten_answer_passes_botocores_crc32_check(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """The proxy recomputes x-amz-crc32 for the body it rewrote: a legacy-mode client with a
    single attempt (which raises ChecksumError on a mismatch) accepts the answer, and a
    standard-mode client (which retries a mismatch) sends DescribeTable only once."""
    from aiobotocore.session import get_session
    from botocore.config import Config

    await dynamodb_client.create_table(
        TableName=dynamodb_table_prefix + "t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    proxy.rewrite("DescribeTable", creating)
    for retries in ({"mode": "legacy", "total_max_attempts": 1}, {"mode": "standard"}):
        async with get_session().create_client(
            "dynamodb",
            endpoint_url=proxy.endpoint,
            region_name=REGION,
            config=Config(retries=retries),
            **DUMMY_CREDENTIALS,
        ) as client:
            answer = await client.describe_table(TableName=dynamodb_table_prefix + "t")
        assert answer["Table"]["TableStatus"] == "CREATING"
    assert proxy.count("DescribeTable") == 2


async def test_a_delay_holds_the_request_back(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """``delay`` forwards the request after the given time, once; the answer is unchanged."""
    async with via(proxy.endpoint, dynamodb_table_prefix) as db:
        await create_table(db, Thing)
        await db.put(Thing("t", 1))
        proxy.delay("GetItem", 0.3)
        started = time.monotonic()
        assert await db.get(Thing, "t", 1) == Thing("t", 1)
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        assert await db.get(Thing, "t", 1) == Thing("t", 1)
        assert time.monotonic() - started < 0.3
    assert proxy.count("GetItem") == 2


async def test_rules_match_their_operation_and_clear_removes_them(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """A rule for GetItem leaves PutItem alone; after ``clear()`` a forever rule stops;
    ``times`` below 1 is refused."""
    with pytest.raises(ValueError):
        proxy.drop("GetItem", times=0)
    proxy.fail("GetItem", code="InternalServerError", status=500, times=None)
    async with via(proxy.endpoint, dynamodb_table_prefix, attempts=1) as db:
        await create_table(db, Thing)
        await db.put(Thing("t", 1))
        with pytest.raises(RequestFailed) as caught:
            await db.get(Thing, "t", 1)
        assert caught.value.code == "InternalServerError"
        proxy.clear()
        assert await db.get(Thing, "t", 1) == Thing("t", 1)
    assert proxy.count("PutItem") == 1 and proxy.count("GetItem") == 2


async def test_stop_closes_the_port_and_ends_the_thread(dynamodb_endpoint: str) -> None:
    """Leaving ``async with`` stops the proxy while a client still holds a keep-alive
    connection to it: quickly, the port then refuses connections, the proxy's thread is gone,
    and stopping again is a no-op."""
    db: Session | None = None
    try:
        async with FaultProxy(dynamodb_endpoint) as proxy:
            port = urlsplit(proxy.endpoint).port
            db = via(proxy.endpoint)
            assert "TableNames" in await (await db.client()).list_tables()
            started = time.monotonic()
        assert time.monotonic() - started < 1
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        assert not [t for t in threading.enumerate() if t.name == "FaultProxy"]
        proxy.stop()
        with pytest.raises(RuntimeError):
            _ = proxy.endpoint
    finally:
        if db is not None:
            await db.close()


def test_one_proxy_serves_consecutive_asyncio_run_calls(
    proxy: FaultProxy, dynamodb_endpoint: str, dynamodb_table_prefix: str
) -> None:
    """A proxy started outside any loop serves two ``asyncio.run`` calls in a row (a client
    per loop), faults included."""
    db = via(proxy.endpoint, dynamodb_table_prefix, attempts=3)

    async def first() -> None:
        await create_table(db, Thing)
        proxy.fail("PutItem")
        await db.put(Thing("t", 1))

    async def second() -> Thing | None:
        proxy.drop("GetItem")
        return await db.get(Thing, "t", 1)

    async def cleanup() -> None:
        await db.close()
        async with via(dynamodb_endpoint, dynamodb_table_prefix) as direct:
            await (await direct.client()).delete_table(TableName=direct.table_name(Thing))

    try:
        asyncio.run(first())
        assert asyncio.run(second()) == Thing("t", 1)
    finally:
        asyncio.run(cleanup())
    assert proxy.count("PutItem") == 2 and proxy.count("GetItem") == 2


async def _two_tables(client: Any, prefix: str) -> tuple[str, str]:
    """Two plain tables keyed by ``k`` (a string), for raw batch requests."""
    names = (prefix + "one", prefix + "two")
    for name in names:
        await client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return names


async def _stored_keys(client: Any, table: str) -> set[str]:
    page = await client.scan(TableName=table, ConsistentRead=True)
    return {item["k"]["S"] for item in page["Items"]}


async def test_split_batch_writes_forwards_the_first_part_of_each_table(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """``split_batch_writes(0.5, times=1)`` forwards the first ceil(n/2) puts of each table
    and returns the others as UnprocessedItems (the client's CRC check passes); the engine
    holds exactly the forwarded ones; the next BatchWriteItem passes untouched."""
    one, two = await _two_tables(dynamodb_client, dynamodb_table_prefix)
    proxy.split_batch_writes(0.5, times=1)
    five = [[{"PutRequest": {"Item": {"k": {"S": f"{t}{i}"}}}} for i in range(5)] for t in "ab"]
    puts = {one: five[0], two: [{"DeleteRequest": {"Key": {"k": {"S": "x"}}}}, *five[1]]}
    async with via(proxy.endpoint, dynamodb_table_prefix, attempts=1) as db:
        client = await db.client()
        answer = await client.batch_write_item(RequestItems=puts)
        assert answer["UnprocessedItems"] == {one: puts[one][3:], two: puts[two][3:]}
        assert await _stored_keys(dynamodb_client, one) == {"a0", "a1", "a2"}
        assert await _stored_keys(dynamodb_client, two) == {"b0", "b1"}
        again = await client.batch_write_item(RequestItems={two: puts[two][3:]})
        assert again["UnprocessedItems"] == {}
    assert await _stored_keys(dynamodb_client, two) == {f"b{i}" for i in range(5)}
    assert proxy.count("BatchWriteItem") == 2


async def test_split_batch_writes_with_nothing_forwarded_is_answered_by_the_proxy(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """With fraction 0 every request comes back unprocessed and nothing reaches the engine;
    a fraction outside 0..1 or a probability of 0 is refused."""
    with pytest.raises(ValueError):
        proxy.split_batch_writes(1.5)
    with pytest.raises(ValueError):
        proxy.split_batch_gets(0.5, probability=0)
    one, _ = await _two_tables(dynamodb_client, dynamodb_table_prefix)
    proxy.split_batch_writes(0.0)
    puts = [{"PutRequest": {"Item": {"k": {"S": str(i)}}}} for i in range(3)]
    async with via(proxy.endpoint, dynamodb_table_prefix, attempts=1) as db:
        answer = await (await db.client()).batch_write_item(RequestItems={one: puts})
    assert answer["UnprocessedItems"] == {one: puts}
    assert await _stored_keys(dynamodb_client, one) == set()


async def test_split_batch_gets_returns_the_rest_as_unprocessed_keys(
    proxy: FaultProxy, dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """``split_batch_gets(0.5)`` reads the first half of the keys and hands the rest back in
    UnprocessedKeys with the request's projection and consistency; reading those returns
    the remaining items."""
    one, _ = await _two_tables(dynamodb_client, dynamodb_table_prefix)
    for i in range(4):
        await dynamodb_client.put_item(TableName=one, Item={"k": {"S": str(i)}, "v": {"N": "1"}})
    proxy.split_batch_gets(0.5, times=1)
    keys = [{"k": {"S": str(i)}} for i in range(4)]
    request = {"Keys": keys, "ProjectionExpression": "k", "ConsistentRead": True}
    async with via(proxy.endpoint, dynamodb_table_prefix, attempts=1) as db:
        client = await db.client()
        answer = await client.batch_get_item(RequestItems={one: request})
        assert sorted(i["k"]["S"] for i in answer["Responses"][one]) == ["0", "1"]
        assert answer["UnprocessedKeys"] == {one: {**request, "Keys": keys[2:]}}
        rest = await client.batch_get_item(RequestItems=answer["UnprocessedKeys"])
    assert sorted(i["k"]["S"] for i in rest["Responses"][one]) == ["2", "3"]
    assert all("v" not in i for i in rest["Responses"][one])
    assert rest["UnprocessedKeys"] == {}


async def test_a_rule_with_a_probability_applies_to_some_requests(
    dynamodb_endpoint: str, dynamodb_table_prefix: str, dynamodb_client: Any
) -> None:
    """A ``fail`` rule with probability 0.5 (seeded) fails some of 40 requests and lets the
    others through; only the failed ones count against its ``times``."""
    async with FaultProxy(dynamodb_endpoint, seed=7) as proxy:
        proxy.fail("ListTables", times=None, probability=0.5)
        proxy.fail("DescribeLimits", times=3, probability=0.5)
        failed = 0
        async with via(proxy.endpoint, dynamodb_table_prefix, attempts=1) as db:
            client = await db.client()
            for _ in range(40):
                try:
                    await client.list_tables()
                except Exception:
                    failed += 1
            limited = 0
            for _ in range(20):
                try:
                    await client.describe_limits()
                except Exception:
                    limited += 1
    assert 5 < failed < 35
    assert limited == 3
