"""Real round trips: every supported type is written to a DynamoDB engine and read back.

The item goes through ``to_item``, PutItem over HTTP, GetItem, and ``from_item``; the loaded
model must equal the one written. This catches what pure tests cannot: what the engine
accepts, and the form in which it returns what it stored (numbers, sets, binary).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

import attrs
import pytest
from models import Address

from dynamorm_async import GlobalIndex, field, from_item, model, model_info, to_item


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@model(
    table="everything",
    hash_key="pk",
    range_key="sk",
    indexes=[GlobalIndex("by_when", hash_key="kind", range_key="when")],
    ttl="expires",
)
@attrs.define
class Everything:
    pk: str
    sk: int
    kind: str = "thing"
    text: str = ""
    number: int = 0
    real: float = 0.0
    exact: Decimal = Decimal(0)
    flag: bool = False
    blob: bytes = b""
    when: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)
    day: date = date(2026, 1, 1)
    ident: uuid.UUID = uuid.UUID(int=0)  # noqa: RUF009 - immutable
    colour: Colour = Colour.RED
    level: Level = Level.LOW
    mode: Literal["a", "b"] = "a"
    words: set[str] = attrs.Factory(set)
    counts: set[int] = attrs.Factory(set)
    ratios: set[Decimal] = attrs.Factory(set)
    blobs: set[bytes] = attrs.Factory(set)
    items: list[int] = attrs.Factory(list)
    pair: tuple[int, str] = (0, "")
    scores: dict[str, float] = attrs.Factory(dict)
    address: Address | None = None
    addresses: list[Address] = attrs.Factory(list)
    payload: dict[str, Any] = attrs.Factory(dict)
    note: str | None = None
    nullable: str | None = field(default=None, store_none=True)
    renamed: str = field(default="", stored_as="r")
    expires: datetime | None = None


async def _roundtrip(
    client: Any, prefix: str, obj: Everything
) -> tuple[Everything, dict[str, Any]]:
    info = model_info(Everything)
    table = prefix + info.table
    tables = (await client.list_tables())["TableNames"]
    if table not in tables:
        await client.create_table(
            TableName=table,
            KeySchema=info.key_schema(),
            AttributeDefinitions=info.attribute_definitions(),
            GlobalSecondaryIndexes=[
                {"IndexName": i.name, "KeySchema": i.key_schema(), "Projection": i.projection()}
                for i in info.indexes
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    item = to_item(obj)
    await client.put_item(TableName=table, Item=item)
    key = {name: item[name] for name in info.key_names()}
    got = await client.get_item(TableName=table, Key=key, ConsistentRead=True)
    return from_item(Everything, got["Item"]), got["Item"]


CASES: dict[str, Everything] = {
    "defaults": Everything("p", 1),
    "strings": Everything("p", 2, text="héllo wörld ✓ 日本語 🎉", renamed="short"),
    "empty_string": Everything("p", 3, text="", note=""),
    "ints": Everything("p", 4, number=-(10**38 - 1), items=[0, -1, 10**38 - 1]),
    "int_38_digits": Everything("p", 5, number=12345678901234567890123456789012345678),
    "big_magnitude": Everything("p", 6, number=10**125, exact=Decimal("9.9E+125")),
    "floats": Everything("p", 7, real=0.1, scores={"a": 1e-100, "b": -2.5e100, "c": 1 / 3}),
    "decimals": Everything(
        "p", 8, exact=Decimal("-1234567890.1234567890123456789012345678"), ratios={Decimal("0.5")}
    ),
    "tiny_decimal": Everything("p", 9, exact=Decimal("1E-130")),
    "bool_binary": Everything("p", 10, flag=True, blob=bytes(range(256)), blobs={b"\x00", b"x"}),
    "dates": Everything(
        "p",
        11,
        when=datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=5))),
        day=date(1999, 12, 31),
        expires=datetime(2031, 1, 1, tzinfo=timezone.utc),
    ),
    "enums_uuid": Everything(
        "p", 12, colour=Colour.GREEN, level=Level.HIGH, mode="b", ident=uuid.uuid4()
    ),
    "sets": Everything("p", 13, words={"a", "b", "ü"}, counts={1, -2, 3}),
    "nested": Everything(
        "p",
        14,
        address=Address("1 Main St", "Springfield"),
        addresses=[Address("a", "b", "0001"), Address("c", "d")],
        pair=(7, "seven"),
    ),
    "json_payload": Everything(
        "p", 15, payload={"list": [1, "two", None, True, {"deep": [1.5, {"x": "y"}]}], "n": 3}
    ),
    "nullable": Everything("p", 16, nullable=None),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_every_type_roundtrips_through_dynamodb(
    dynamodb_client: Any, dynamodb_table_prefix: str, case: str
) -> None:
    """Writing a model and reading it back gives an equal model, for each supported type."""
    obj = CASES[case]
    loaded, _ = await _roundtrip(dynamodb_client, dynamodb_table_prefix, obj)
    if obj.when.utcoffset() != timedelta(0):
        # Stored in UTC: the same instant, shown in UTC.
        obj = attrs.evolve(obj, when=obj.when.astimezone(timezone.utc))
    assert loaded == obj


async def test_none_is_left_out_and_store_none_writes_null(
    dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """A None attribute is not stored at all, except a store_none field, stored as NULL."""
    _, raw = await _roundtrip(dynamodb_client, dynamodb_table_prefix, Everything("p", 20))
    assert "note" not in raw and "address" not in raw and "words" not in raw
    assert raw["nullable"] == {"NULL": True}


async def test_ttl_is_stored_as_epoch_seconds(
    dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """The model's TTL attribute is an N of epoch seconds, as DynamoDB's TTL requires."""
    expires = datetime(2031, 1, 1, tzinfo=timezone.utc)
    loaded, raw = await _roundtrip(
        dynamodb_client, dynamodb_table_prefix, Everything("p", 21, expires=expires)
    )
    assert raw["expires"] == {"N": str(int(expires.timestamp()))}
    assert loaded.expires == expires


async def test_item_near_the_400_kb_limit_roundtrips(
    dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """An item of about 390 KB (text and binary) is stored and read back intact."""
    obj = Everything("p", 22, text="x" * 200_000, blob=bytes(range(256)) * 740)
    loaded, _ = await _roundtrip(dynamodb_client, dynamodb_table_prefix, obj)
    assert loaded == obj


async def test_datetimes_sort_in_the_index_as_text(
    dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """Stored datetimes are fixed-width UTC text, so a range-key query returns them in time
    order, whatever offset and sub-second part they were written with."""
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)
    moments = [
        base,
        base + timedelta(microseconds=1),
        (base + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-7))),
        base + timedelta(days=400),
    ]
    for i, moment in enumerate(reversed(moments)):
        await _roundtrip(
            dynamodb_client, dynamodb_table_prefix, Everything("sorted", 100 + i, when=moment)
        )
    table = dynamodb_table_prefix + "everything"
    page = await dynamodb_client.query(
        TableName=table,
        IndexName="by_when",
        KeyConditionExpression="#k = :k",
        ExpressionAttributeNames={"#k": "kind"},
        ExpressionAttributeValues={":k": {"S": "thing"}},
    )
    whens = [from_item(Everything, item).when for item in page["Items"]]
    assert whens == sorted(whens)
    assert len(whens) == len(moments)


@pytest.mark.server_validation("moto accepts numbers of 39 significant digits")
async def test_the_engine_refuses_what_the_converter_refuses(
    dynamodb_client: Any, dynamodb_table_prefix: str
) -> None:
    """The converter's 38-digit limit is DynamoDB's own: the engine rejects a 39-digit number
    sent around the converter, so refusing it before the request loses nothing valid."""
    from botocore.exceptions import ClientError

    await _roundtrip(dynamodb_client, dynamodb_table_prefix, Everything("p", 30))
    item = to_item(Everything("p", 31))
    item["number"] = {"N": "1" * 39}
    with pytest.raises(ClientError) as caught:
        await dynamodb_client.put_item(TableName=dynamodb_table_prefix + "everything", Item=item)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
