"""The fast path through botocore: requests serialize and answers parse exactly as botocore
does it, without walking every attribute through its shapes, and what botocore promises
around them (errors, x-amz-crc32 checks, retries) still holds.

The parity tests feed the same requests to botocore's JSON serializer and to ours, and the
same DynamoDB JSON bodies to botocore's parser and to ours; the engine tests compare what a
session's client reads with what a stock aiobotocore client reads from the same table, and
inject damaged answers and throttling with ``FaultProxy``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamorm_async import ConditionFailed, RequestFailed, Session, attr, model
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, FaultProxy

JSON = dict[str, Any]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- parity with botocore's parser, on bodies as DynamoDB sends them -------------------------

_text = st.text(max_size=6)
_scalars = st.one_of(
    st.builds(lambda s: {"S": s}, _text),
    st.builds(lambda n: {"N": str(n)}, st.integers()),
    st.builds(lambda b: {"B": b64(b)}, st.binary(max_size=8)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda ss: {"SS": ss}, st.lists(_text, min_size=1, max_size=3, unique=True)),
    st.builds(
        lambda ns: {"NS": [str(n) for n in ns]},
        st.lists(st.integers(), min_size=1, max_size=3, unique=True),
    ),
    st.builds(
        lambda bs: {"BS": [b64(b) for b in bs]},
        st.lists(st.binary(max_size=6), min_size=1, max_size=3, unique=True),
    ),
)
wire_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.builds(lambda values: {"L": values}, st.lists(inner, max_size=3)),
        st.builds(lambda m: {"M": m}, st.dictionaries(_text, inner, max_size=3)),
    ),
    max_leaves=10,
)
wire_items = st.dictionaries(st.text(min_size=1, max_size=6), wire_values, max_size=5)


def bodies(item: JSON, other: JSON) -> Iterator[tuple[str, JSON]]:
    """One answer body per operation whose output carries items, keys or attribute values."""
    yield "GetItem", {"Item": item}
    yield (
        "Query",
        {"Items": [item, other], "Count": 2, "ScannedCount": 2, "LastEvaluatedKey": other},
    )
    yield "Scan", {"Items": [], "Count": 0, "ScannedCount": 0}
    yield "UpdateItem", {"Attributes": item}
    yield "DeleteItem", {"Attributes": other}
    yield "TransactGetItems", {"Responses": [{"Item": item}, {}]}
    yield (
        "BatchGetItem",
        {
            "Responses": {"t1": [item], "t2": [other, item]},
            "UnprocessedKeys": {"t1": {"Keys": [other], "ProjectionExpression": "#a"}},
        },
    )
    yield (
        "BatchWriteItem",
        {
            "UnprocessedItems": {
                "t1": [{"PutRequest": {"Item": item}}, {"DeleteRequest": {"Key": other}}]
            },
            "ItemCollectionMetrics": {
                "t1": [{"ItemCollectionKey": other, "SizeEstimateRangeGB": [1]}]
            },
        },
    )


# Requests: the same values in their Python form (binary as bytes), as the converter makes them.
_py_scalars = st.one_of(
    st.builds(lambda s: {"S": s}, _text),
    st.builds(lambda n: {"N": str(n)}, st.integers()),
    st.builds(lambda b: {"B": b}, st.binary(max_size=8)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda ss: {"SS": ss}, st.lists(_text, min_size=1, max_size=3, unique=True)),
    st.builds(
        lambda bs: {"BS": bs}, st.lists(st.binary(max_size=6), min_size=1, max_size=3, unique=True)
    ),
)
py_values = st.recursive(
    _py_scalars,
    lambda inner: st.one_of(
        st.builds(lambda values: {"L": values}, st.lists(inner, max_size=3)),
        st.builds(lambda m: {"M": m}, st.dictionaries(_text, inner, max_size=3)),
    ),
    max_leaves=10,
)
py_items = st.dictionaries(st.text(min_size=1, max_size=6), py_values, max_size=5)


def requests(item: JSON, key: JSON) -> Iterator[tuple[str, JSON]]:
    """One request per operation whose input carries items, keys or attribute values."""
    values = {":v": {"S": "x"}, ":w": {"L": [{"B": b"\x00"}]}}
    yield (
        "PutItem",
        {
            "TableName": "t",
            "Item": item,
            "ConditionExpression": "#a = :v",
            "ExpressionAttributeNames": {"#a": "a"},
            "ExpressionAttributeValues": values,
        },
    )
    yield (
        "UpdateItem",
        {
            "TableName": "t",
            "Key": key,
            "UpdateExpression": "SET #a = :w",
            "ExpressionAttributeNames": {"#a": "a"},
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        },
    )
    yield "DeleteItem", {"TableName": "t", "Key": key}
    yield "GetItem", {"TableName": "t", "Key": key, "ConsistentRead": True}
    yield (
        "Query",
        {
            "TableName": "t",
            "KeyConditionExpression": "#a = :v",
            "ExpressionAttributeNames": {"#a": "a"},
            "ExpressionAttributeValues": values,
            "ExclusiveStartKey": key,
            "Limit": 10,
        },
    )
    yield "Scan", {"TableName": "t", "Segment": 1, "TotalSegments": 4, "ExclusiveStartKey": key}
    yield (
        "BatchWriteItem",
        {"RequestItems": {"t": [{"PutRequest": {"Item": item}}, {"DeleteRequest": {"Key": key}}]}},
    )
    yield "BatchGetItem", {"RequestItems": {"t": {"Keys": [key, item], "ConsistentRead": True}}}
    yield (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": item}},
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": key,
                        "ConditionExpression": "#a = :v",
                        "ExpressionAttributeNames": {"#a": "a"},
                        "ExpressionAttributeValues": values,
                    }
                },
            ],
            "ClientRequestToken": "token",
        },
    )
    yield "TransactGetItems", {"TransactItems": [{"Get": {"TableName": "t", "Key": key}}]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=py_items, key=py_items)
def test_requests_serialize_as_botocore_serializes_them(item: JSON, key: JSON) -> None:
    """Byte for byte the same request body as botocore's JSON serializer sends."""
    import botocore.session
    from botocore.serialize import JSONSerializer

    from dynamorm_async._transport.request_serializer import ItemJSONSerializer

    service = botocore.session.get_session().get_service_model("dynamodb")
    for operation, params in requests(item, key):
        model = service.operation_model(operation)
        stock = JSONSerializer().serialize_to_request(params, model)
        ours = ItemJSONSerializer().serialize_to_request(params, model)
        assert ours == stock, operation


@pytest.fixture(scope="module")
def dynamodb_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("dynamodb")


def parse_both(body: JSON, shape: Any, *, status: int = 200) -> tuple[Any, Any]:
    from aiobotocore.parsers import AioResponseParserFactory

    from dynamorm_async._transport.response_parser import ItemResponseParserFactory

    raw = json.dumps(body).encode()

    async def parse(factory: Any) -> Any:
        response = {"status_code": status, "headers": {}, "body": raw, "context": {}}
        return await factory.create_parser("json").parse(response, shape)

    async def both() -> tuple[Any, Any]:
        return (
            await parse(AioResponseParserFactory()),
            await parse(ItemResponseParserFactory()),
        )

    return asyncio.run(both())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=wire_items, other=wire_items)
def test_answers_parse_as_botocore_parses_them(item: JSON, other: JSON) -> None:
    """Every output shape that carries items: the same value, binary decoded to bytes."""
    import botocore.session

    service = botocore.session.get_session().get_service_model("dynamodb")
    for operation, body in bodies(item, other):
        shape = service.operation_model(operation).output_shape
        stock, ours = parse_both(body, shape)
        assert ours == stock, operation


@settings(max_examples=30, deadline=None)
@given(item=wire_items)
def test_modeled_errors_parse_as_botocore_parses_them(item: JSON) -> None:
    """The items inside errors (a failed condition's stored item, a cancelled transaction's
    reasons) parse the same too."""
    import botocore.session

    service = botocore.session.get_session().get_service_model("dynamodb")
    prefix = "com.amazonaws.dynamodb.v20120810#"
    cases = {
        "ConditionalCheckFailedException": {
            "message": "The conditional request failed",
            "Item": item,
        },
        "TransactionCanceledException": {
            "message": "Transaction cancelled",
            "CancellationReasons": [
                {"Code": "None"},
                {"Code": "ConditionalCheckFailed", "Item": item},
            ],
        },
    }
    for code, fields in cases.items():
        body = {"__type": prefix + code, **fields}
        stock, ours = parse_both(body, None, status=400)
        assert ours == stock
        assert ours["Error"]["Code"] == code
        shape = service.shape_for_error_code(code)
        stock, ours = parse_both(body, shape, status=400)
        assert ours == stock


def test_binary_values_become_bytes_at_any_depth(dynamodb_model: Any) -> None:
    item = {
        "b": {"B": b64(b"\x00\xff")},
        "bs": {"BS": [b64(b"a"), b64(b"b")]},
        "deep": {"L": [{"M": {"x": {"L": [{"B": b64(b"deep")}]}}}]},
        "s": {"S": "text"},
    }
    shape = dynamodb_model.operation_model("GetItem").output_shape
    stock, ours = parse_both({"Item": item}, shape)
    assert ours["Item"] == {
        "b": {"B": b"\x00\xff"},
        "bs": {"BS": [b"a", b"b"]},
        "deep": {"L": [{"M": {"x": {"L": [{"B": b"deep"}]}}}]},
        "s": {"S": "text"},
    }
    assert ours == stock


# -- against the engine ----------------------------------------------------------------------


@model(table="blobs", hash_key="owner", range_key="n")
@attrs.define
class Blob:
    owner: str
    n: int
    data: bytes
    chunks: set[bytes] = attrs.Factory(set)
    parts: list[bytes] = attrs.Factory(list)
    named: dict[str, bytes] = attrs.Factory(dict)
    note: str = "plain"


BLOBS = [
    Blob("o", 1, b"\x00\x01", {b"a", b"b"}, [b"x", b""], {"k": b"\xff"}),
    Blob("o", 2, b"two"),
    Blob("o", 3, bytes(range(256)), {b"\x00"}, [b"p" * 300], {"a": b"1", "b": b"2"}, "three"),
]


@pytest_asyncio.fixture
async def blobs(dynamodb_session: Session) -> Session:
    await dynamodb_session.tables.create(Blob)
    await dynamodb_session.batch_write(put=BLOBS)
    return dynamodb_session


@pytest_asyncio.fixture
async def stock_client(dynamodb_endpoint: str) -> AsyncIterator[Any]:
    """A plain aiobotocore client, with botocore's own parser and parameter validation."""
    from aiobotocore.session import AioSession

    async with AioSession().create_client(
        "dynamodb", endpoint_url=dynamodb_endpoint, region_name=REGION, **DUMMY_CREDENTIALS
    ) as client:
        yield client


def without_metadata(response: JSON) -> JSON:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


async def test_a_session_reads_what_botocore_reads(blobs: Session, stock_client: Any) -> None:
    """The session's client (item parser) and a stock client return the same answers for every
    read, binary values included; and the models load from them."""
    ours = await blobs.client()
    table = blobs.table_name(Blob)
    key = {"owner": {"S": "o"}, "n": {"N": "3"}}
    calls: list[tuple[str, JSON]] = [
        ("get_item", {"TableName": table, "Key": key, "ConsistentRead": True}),
        (
            "query",
            {
                "TableName": table,
                "KeyConditionExpression": "#o = :o",
                "ExpressionAttributeNames": {"#o": "owner"},
                "ExpressionAttributeValues": {":o": {"S": "o"}},
                "ConsistentRead": True,
            },
        ),
        ("scan", {"TableName": table, "ConsistentRead": True}),
        ("batch_get_item", {"RequestItems": {table: {"Keys": [key], "ConsistentRead": True}}}),
        ("transact_get_items", {"TransactItems": [{"Get": {"TableName": table, "Key": key}}]}),
    ]
    for method, params in calls:
        mine = await getattr(ours, method)(**params)
        theirs = await getattr(stock_client, method)(**params)
        assert without_metadata(mine) == without_metadata(theirs), method
    assert [b async for b in blobs.query(Blob, "o")] == BLOBS
    assert await blobs.get(Blob, "o", 3) == BLOBS[2]
    assert await blobs.batch_get(Blob, [("o", 1), ("o", 2)]) == BLOBS[:2]


async def test_a_failed_condition_still_carries_the_stored_item(blobs: Session) -> None:
    """Modeled error fields (the stored item of a failed condition) come through the parser."""
    with pytest.raises(ConditionFailed) as caught:
        await blobs.put(Blob("o", 1, b"new"), condition=attr("note") == "other")
    assert caught.value.item == BLOBS[0]
    assert caught.value.code == "ConditionalCheckFailedException"


@pytest.fixture
def proxy(dynamodb_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(dynamodb_endpoint) as running:
        yield running


@pytest_asyncio.fixture
async def via_proxy(
    proxy: FaultProxy, blobs: Session, dynamodb_table_prefix: str
) -> AsyncIterator[Session]:
    session = Session(
        region=REGION,
        endpoint_url=proxy.endpoint,
        table_prefix=dynamodb_table_prefix,
        **DUMMY_CREDENTIALS,
    )
    try:
        yield session
    finally:
        await session.close()


async def test_a_damaged_answer_is_retried(via_proxy: Session, proxy: FaultProxy) -> None:
    """botocore's x-amz-crc32 check still runs: a damaged answer is retried, the good one read."""
    proxy.corrupt("GetItem", times=1)
    assert await via_proxy.get(Blob, "o", 3) == BLOBS[2]
    assert proxy.count("GetItem") == 2
    proxy.corrupt("Query", times=2)
    assert [b async for b in via_proxy.query(Blob, "o")] == BLOBS
    assert proxy.count("Query") == 3


async def test_an_answer_damaged_on_every_attempt_is_refused(
    proxy: FaultProxy, blobs: Session, dynamodb_table_prefix: str
) -> None:
    """botocore returns the last damaged answer once its retries run out; the session refuses
    it rather than hand over wrong data. (Three attempts: each retry waits a backoff.)"""
    from botocore.config import Config

    session = Session(
        region=REGION,
        endpoint_url=proxy.endpoint,
        table_prefix=dynamodb_table_prefix,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
        **DUMMY_CREDENTIALS,
    )
    try:
        proxy.corrupt("GetItem", times=None)
        with pytest.raises(RequestFailed, match=r"x-amz-crc32 .* any of the 3 attempts") as caught:
            await session.get(Blob, "o", 1)
        assert caught.value.code == "ChecksumError"
        assert caught.value.operation == "GetItem"
        assert caught.value.key == {"owner": "o", "n": 1}
        assert proxy.count("GetItem") == 3
        proxy.clear()
        assert await session.get(Blob, "o", 1) == BLOBS[0]
    finally:
        await session.close()


async def test_throttling_is_still_retried(via_proxy: Session, proxy: FaultProxy) -> None:
    proxy.fail("GetItem", times=2)
    assert await via_proxy.get(Blob, "o", 2) == BLOBS[1]
    assert proxy.count("GetItem") == 3


@pytest.mark.server_validation("moto accepts a string for ConsistentRead")
async def test_parameter_validation_is_off_unless_asked_for(
    blobs: Session, dynamodb_endpoint: str
) -> None:
    """The session's requests are valid by construction, so botocore's second walk over them
    is off by default (a malformed raw request reaches DynamoDB, which refuses it); a caller's
    config turns it back on (botocore refuses it before sending)."""
    from botocore.config import Config
    from botocore.exceptions import ClientError, ParamValidationError

    strict = Session(
        region=REGION,
        endpoint_url=dynamodb_endpoint,
        config=Config(parameter_validation=True),
        **DUMMY_CREDENTIALS,
    )
    bad = {"TableName": blobs.table_name(Blob), "Key": {"owner": {"S": "o"}, "n": {"N": "1"}}}
    bad["ConsistentRead"] = "yes"
    try:
        from dynamorm_async._transport.request_serializer import ItemJSONSerializer

        assert type((await blobs.client())._serializer) is ItemJSONSerializer
        assert type((await strict.client())._serializer) is not ItemJSONSerializer
        with pytest.raises(ClientError):
            await (await blobs.client()).get_item(**bad)
        with pytest.raises(ParamValidationError):
            await (await strict.client()).get_item(**bad)
    finally:
        await strict.close()


async def test_a_callers_botocore_session_keeps_its_parser(
    blobs: Session, dynamodb_endpoint: str, dynamodb_table_prefix: str
) -> None:
    """``Session(botocore_session=...)`` leaves the caller's session as it was configured, and
    reads the same models."""
    from aiobotocore.parsers import AioResponseParserFactory
    from aiobotocore.session import AioSession

    own = AioSession()
    session = Session(
        region=REGION,
        endpoint_url=dynamodb_endpoint,
        table_prefix=dynamodb_table_prefix,
        botocore_session=own,
        **DUMMY_CREDENTIALS,
    )
    try:
        assert await session.get(Blob, "o", 1) == BLOBS[0]
        assert type(own.get_component("response_parser_factory")) is AioResponseParserFactory
    finally:
        await session.close()
