"""The table manager against real engines: create / describe / delete for every kind of
model, ensure (and its races), schema mismatches, and the waiter.

Runs on DynamoDB Local and moto, and on dynalite, whose tables really pass through CREATING
and DELETING for half a second (moto and DynamoDB Local make them ACTIVE at once). dynalite
lacks TTL updates, streams, encryption and deletion protection: those tests say so and skip
there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
import pytest

from dynamorm_async import (
    GlobalIndex,
    LocalIndex,
    Provisioned,
    Session,
    TableAlreadyExists,
    TableDescription,
    TableNotFound,
    TableProtected,
    ValidationError,
    model,
)


def lacks(engine: str, feature: str) -> None:
    """Skip on dynalite, which does not implement ``feature``."""
    if engine == "dynalite":
        pytest.skip(f"dynalite has no {feature}")


@model(table="users", hash_key="user_id")
@attrs.define
class User:
    user_id: str
    name: str = ""


@model(table="events", hash_key="stream", range_key="seq")
@attrs.define
class Event:
    stream: str
    seq: int
    kind: str = "x"


@model(
    table="posts",
    hash_key="author",
    range_key="post_id",
    indexes=[
        GlobalIndex("by_topic", hash_key="topic"),
        GlobalIndex("by_day", hash_key="day", range_key="score", projection="KEYS_ONLY"),
        GlobalIndex("by_slug", hash_key="slug", projection=["title", "score"]),
        LocalIndex("by_score", range_key="score"),
        LocalIndex("by_title", range_key="title", projection="KEYS_ONLY"),
    ],
)
@attrs.define
class Post:
    author: str
    post_id: str
    topic: str | None = None
    day: str | None = None
    score: int | None = None
    slug: str | None = None
    title: str | None = None


@model(table="sessions", hash_key="token", ttl="expires_at")
@attrs.define
class Visit:
    token: bytes
    expires_at: datetime | None = None


def keys(desc: TableDescription) -> list[tuple[str, str, str | None]]:
    return [(k.name, k.key_type, k.attribute_type) for k in desc.key_schema]


async def test_create_describe_delete_hash_only(dynamodb_session: Session) -> None:
    """A hash-only model: created on demand, described with its key and ARN, deleted."""
    tables = dynamodb_session.tables
    desc = await tables.create(User)
    assert desc.name == dynamodb_session.table_name(User)
    assert desc.status == "ACTIVE" and desc.usable
    assert keys(desc) == [("user_id", "HASH", "S")]
    assert desc.billing_mode == "PAY_PER_REQUEST" and desc.provisioned is None
    assert desc.global_indexes == () and desc.local_indexes == ()
    assert desc.item_count == 0 and desc.arn
    assert await tables.exists(User)
    await tables.delete(User)
    assert not await tables.exists(User)


async def test_create_hash_and_range(dynamodb_session: Session) -> None:
    """A hash+range model with a number range key."""
    desc = await dynamodb_session.tables.create(Event)
    assert keys(desc) == [("stream", "HASH", "S"), ("seq", "RANGE", "N")]
    assert (await dynamodb_session.tables.describe(Event)) == desc


async def test_create_with_every_kind_of_index(dynamodb_session: Session) -> None:
    """GSIs (hash only, hash+range KEYS_ONLY, INCLUDE) and LSIs come from the model with
    their projections, all ACTIVE when create returns."""
    desc = await dynamodb_session.tables.create(Post)
    gsis = {i.name: i for i in desc.global_indexes}
    lsis = {i.name: i for i in desc.local_indexes}
    assert set(gsis) == {"by_topic", "by_day", "by_slug"}
    assert set(lsis) == {"by_score", "by_title"}
    assert all(i.status == "ACTIVE" for i in gsis.values())
    assert [(k.name, k.key_type) for k in gsis["by_day"].key_schema] == [
        ("day", "HASH"),
        ("score", "RANGE"),
    ]
    assert gsis["by_topic"].projection_type == "ALL"
    assert gsis["by_day"].projection_type == "KEYS_ONLY"
    assert gsis["by_slug"].projection_type == "INCLUDE"
    assert set(gsis["by_slug"].non_key_attributes) == {"title", "score"}
    assert [(k.name, k.key_type) for k in lsis["by_score"].key_schema] == [
        ("author", "HASH"),
        ("score", "RANGE"),
    ]
    assert lsis["by_title"].projection_type == "KEYS_ONLY"
    # Only key and index-key attributes are defined, each once, with its type.
    types = {a["AttributeName"]: a["AttributeType"] for a in desc.raw["AttributeDefinitions"]}
    assert types == {
        "author": "S",
        "post_id": "S",
        "topic": "S",
        "day": "S",
        "score": "N",
        "slug": "S",
        "title": "S",
    }


async def test_create_provisioned_with_per_index_throughput(dynamodb_session: Session) -> None:
    """Provisioned billing for the table, and an index with throughput of its own."""
    desc = await dynamodb_session.tables.create(
        Post,
        billing=Provisioned(read=5, write=4),
        index_billing={"by_topic": Provisioned(read=2, write=1)},
    )
    assert desc.billing_mode == "PROVISIONED"
    assert desc.provisioned == Provisioned(5, 4)
    gsis = {i.name: i for i in desc.global_indexes}
    assert gsis["by_topic"].provisioned == Provisioned(2, 1)
    assert gsis["by_day"].provisioned == Provisioned(5, 4)


async def test_ttl_is_enabled_once_the_table_is_active(
    dynamodb_session: Session, dynamodb_engine: str
) -> None:
    """A model with a TTL attribute gets time to live on it (UpdateTimeToLive)."""
    lacks(dynamodb_engine, "UpdateTimeToLive")
    desc = await dynamodb_session.tables.create(Visit)
    assert desc.ttl_status in ("ENABLED", "ENABLING")
    assert desc.ttl_attribute == "expires_at"
    assert keys(desc) == [("token", "HASH", "B")]


async def test_streams_tags_and_deletion_protection(
    dynamodb_session: Session, dynamodb_engine: str
) -> None:
    """Stream, tags and deletion protection are set; delete() refuses a protected table and
    leaves it as it was."""
    lacks(dynamodb_engine, "streams or deletion protection")
    tables = dynamodb_session.tables
    desc = await tables.create(
        User, stream="NEW_AND_OLD_IMAGES", tags={"team": "orders"}, deletion_protection=True
    )
    assert desc.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert desc.deletion_protection
    with pytest.raises(TableProtected, match="deletion protection") as caught:
        await tables.delete(User)
    assert caught.value.table == desc.name
    assert await tables.exists(User)
    client = await dynamodb_session.client()
    if dynamodb_engine != "dynamodb-local":  # DynamoDB Local takes tags but cannot list them
        tagged = await client.list_tags_of_resource(ResourceArn=desc.arn)
        assert {"Key": "team", "Value": "orders"} in tagged["Tags"]
    # The test fixtures' clean-up drops a protected test table all the same.
    await tables._delete_prefixed(dynamodb_session.table_prefix)
    assert not await tables.exists(User)


async def test_create_of_an_existing_table_raises_table_already_exists(
    dynamodb_session: Session,
) -> None:
    """A second create of the same table is TableAlreadyExists, naming the table."""
    await dynamodb_session.tables.create(User)
    with pytest.raises(TableAlreadyExists) as caught:
        await dynamodb_session.tables.create(User)
    assert caught.value.table == dynamodb_session.table_name(User)


async def test_missing_tables(dynamodb_session: Session) -> None:
    """describe and delete of a missing table raise TableNotFound (delete not with
    missing_ok); exists says False; wait_active refuses to wait for nothing."""
    tables = dynamodb_session.tables
    assert not await tables.exists(User)
    with pytest.raises(TableNotFound):
        await tables.describe(User)
    with pytest.raises(TableNotFound):
        await tables.delete(User)
    await tables.delete(User, missing_ok=True)
    with pytest.raises(TableNotFound):
        await tables.wait_active(User, timeout=5)
    await tables.wait_deleted(User, timeout=5)


async def test_create_without_waiting_then_wait(dynamodb_session: Session) -> None:
    """create(wait=False) returns what CreateTable answered (CREATING on engines that have
    the status); wait_active then returns the ACTIVE table."""
    tables = dynamodb_session.tables
    first = await tables.create(Event, wait=False)
    assert first.status in ("CREATING", "ACTIVE")
    assert first.ttl_status is None
    done = await tables.wait_active(Event, timeout=30)
    assert done.status == "ACTIVE" and done.usable


async def test_table_name_override(dynamodb_session: Session) -> None:
    """table_name= names the physical table outright (the per-test isolation pattern)."""
    name = dynamodb_session.table_prefix + "users_1f2e"
    desc = await dynamodb_session.tables.create(User, table_name=name)
    assert desc.name == name
    assert await dynamodb_session.tables.exists(User, table_name=name)
    assert not await dynamodb_session.tables.exists(User)
    await dynamodb_session.tables.delete(User, table_name=name)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"billing": "PROVISIONED"}, "billing takes Provisioned"),
        ({"index_billing": {"by_topic": Provisioned(1, 1)}}, "needs provisioned billing"),
        ({"billing": Provisioned(1, 1), "index_billing": {"nope": Provisioned(1, 1)}}, "nope"),
        ({"stream": "EVERYTHING"}, "stream takes one of"),
        ({"encryption": "ROT13"}, "encryption takes one of"),
        ({"kms_key": "arn:aws:kms:key"}, "kms_key"),
        ({"encryption": "CUSTOMER_MANAGED"}, "kms_key"),
        ({"tags": {"team": 1}}, "tags"),
        ({"timeout": 0}, "timeout"),
    ],
)
async def test_bad_create_options_are_refused_before_any_request(
    dynamodb_session: Session, options: dict[str, Any], message: str
) -> None:
    """Every option is checked before CreateTable is sent: nothing is created."""
    with pytest.raises(ValidationError, match=message):
        await dynamodb_session.tables.create(Post, **options)
    assert not await dynamodb_session.tables.exists(Post)


def test_provisioned_needs_positive_whole_units() -> None:
    """Provisioned(0, 5) and the like are refused when built."""
    for read, write in ((0, 5), (5, -1), (1.5, 1), (True, 1)):
        with pytest.raises(ValidationError, match="capacity units"):
            Provisioned(read, write)  # type: ignore[arg-type]


async def test_ttl_model_cannot_skip_waiting(dynamodb_session: Session) -> None:
    """TTL can only be enabled on an ACTIVE table: wait=False is refused for such a model."""
    with pytest.raises(ValidationError, match="TTL"):
        await dynamodb_session.tables.create(Visit, wait=False)
    assert not await dynamodb_session.tables.exists(Visit)


async def test_the_table_manager_sends_nothing_until_asked(dynamodb_endpoint: str) -> None:
    """Getting db.tables opens no client and sends no request."""
    db = Session(region="us-east-1", endpoint_url=dynamodb_endpoint)
    assert db.tables is db.tables
    assert db.state == "unopened"
    await db.close()
