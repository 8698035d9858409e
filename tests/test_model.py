"""Declaring models: what @model accepts, what it derives, and every mistake it refuses."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import attrs
import pytest

from dynamorm_async import GlobalIndex, LocalIndex, ModelError, field, model, model_info


class Kind(enum.Enum):
    A = "a"


@model(
    table="orders",
    hash_key="customer_id",
    range_key="order_id",
    indexes=[
        GlobalIndex("by_status", hash_key="status", range_key="placed_at"),
        LocalIndex("by_total", range_key="total"),
    ],
    ttl="expires_at",
    version="version",
    created_at="created",
    updated_at="updated",
)
@attrs.define
class Order:
    customer_id: str
    order_id: str
    status: str
    placed_at: datetime
    total: int
    expires_at: datetime | None = None
    version: int = 0
    created: datetime | None = None
    updated: datetime | None = None


def test_the_documented_order_model_carries_its_table_and_keys() -> None:
    """The documented Order model defines without error and records table, keys and roles."""
    info = model_info(Order)
    assert info.table == "orders"
    assert (info.hash_key.name, info.hash_key.attribute_type) == ("customer_id", "S")
    assert info.range_key is not None and info.range_key.name == "order_id"
    assert (info.ttl, info.version, info.created_at, info.updated_at) == (
        "expires_at",
        "version",
        "created",
        "updated",
    )


def test_key_schema_and_attribute_definitions_cover_only_keys() -> None:
    """CreateTable inputs: key schema in HASH/RANGE order, definitions for key attributes only."""
    info = model_info(Order)
    assert info.key_schema() == [
        {"AttributeName": "customer_id", "KeyType": "HASH"},
        {"AttributeName": "order_id", "KeyType": "RANGE"},
    ]
    assert info.attribute_definitions() == [
        {"AttributeName": "customer_id", "AttributeType": "S"},
        {"AttributeName": "order_id", "AttributeType": "S"},
        {"AttributeName": "status", "AttributeType": "S"},
        {"AttributeName": "placed_at", "AttributeType": "S"},
        {"AttributeName": "total", "AttributeType": "N"},
    ]


def test_indexes_carry_key_schema_and_projection() -> None:
    """GSI and LSI come with their own key schema and projection in CreateTable's shape."""
    gsi = model_info(Order).index("by_status")
    lsi = model_info(Order).index("by_total")
    assert gsi.kind == "global" and lsi.kind == "local"
    assert gsi.key_schema() == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "placed_at", "KeyType": "RANGE"},
    ]
    assert lsi.key_schema()[0] == {"AttributeName": "customer_id", "KeyType": "HASH"}
    assert gsi.projection() == {"ProjectionType": "ALL"}


def test_projections_keys_only_and_include() -> None:
    """KEYS_ONLY and a list of names (INCLUDE) become the matching Projection."""

    @model(
        table="things",
        hash_key="pk",
        indexes=[
            GlobalIndex("keys", hash_key="a", projection="KEYS_ONLY"),
            GlobalIndex("some", hash_key="b", projection=["c"]),
        ],
    )
    @attrs.define
    class Thing:
        pk: str
        a: str
        b: int
        c: str = ""

    info = model_info(Thing)
    assert info.index("keys").projection() == {"ProjectionType": "KEYS_ONLY"}
    assert info.index("some").projection() == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["c"],
    }


def test_a_plain_class_is_made_an_attrs_class() -> None:
    """@model applies attrs.define to a class that is not an attrs class yet."""

    @model(table="plain", hash_key="pk")
    class Plain:
        pk: str
        n: int = 0

    assert attrs.has(Plain)
    assert Plain("x").n == 0  # type: ignore[call-arg]
    assert model_info(Plain).hash_key.name == "pk"


def test_stored_names_drive_keys_and_definitions() -> None:
    """field(stored_as=...) renames the stored attribute, keys included."""

    @model(table="short", hash_key="user_id", indexes=[GlobalIndex("by_mail", hash_key="email")])
    @attrs.define
    class Short:
        user_id: str = field(stored_as="pk")
        email: str = field(stored_as="e", default="")

    info = model_info(Short)
    assert info.key_schema() == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert {"AttributeName": "e", "AttributeType": "S"} in info.attribute_definitions()


def test_key_types_map_to_s_n_b() -> None:
    """str/int/float/Decimal/bytes/datetime/date/Enum/Literal keys map to S, N or B."""

    @model(
        table="typed",
        hash_key="b",
        range_key="n",
        indexes=[
            GlobalIndex("g_1", hash_key="d", range_key="f"),
            GlobalIndex("g_2", hash_key="k", range_key="day"),
            GlobalIndex("g_3", hash_key="lit", range_key="when"),
        ],
    )
    @attrs.define
    class Typed:
        b: bytes
        n: int
        d: Decimal
        f: float
        k: Kind
        day: date
        lit: Literal["x", "y"]
        when: datetime

    types = {
        d["AttributeName"]: d["AttributeType"] for d in model_info(Typed).attribute_definitions()
    }
    assert types == {
        "b": "B",
        "n": "N",
        "d": "N",
        "f": "N",
        "k": "S",
        "day": "S",
        "lit": "S",
        "when": "S",
    }


def test_an_optional_index_key_makes_a_sparse_index() -> None:
    """Index keys may be optional (items without them stay out of the index)."""

    @model(table="sparse", hash_key="pk", indexes=[GlobalIndex("flagged", hash_key="flag")])
    @attrs.define
    class Sparse:
        pk: str
        flag: str | None = None

    assert model_info(Sparse).index("flagged").hash_key.attribute_type == "S"


def _define(**options: object) -> None:
    @attrs.define
    class Thing:
        pk: str
        sk: str = ""
        other: str = ""
        n: int = 0
        flag: bool = False
        tags: list[str] = attrs.Factory(list)
        when: datetime | None = None
        maybe: str | None = None

    model(**options)(Thing)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "field_name", "words"),
    [
        ({"table": "t_x", "hash_key": "nope"}, "nope", "not a field"),
        ({"table": "t_x", "hash_key": "pk", "range_key": "missing"}, "missing", "not a field"),
        ({"table": "t_x", "hash_key": "flag"}, "flag", "S, N or B"),
        ({"table": "t_x", "hash_key": "tags"}, "tags", "S, N or B"),
        ({"table": "t_x", "hash_key": "maybe"}, "maybe", "cannot be optional"),
        ({"table": "t_x", "hash_key": "pk", "range_key": "pk"}, "pk", "same field"),
        (
            {"table": "t_x", "hash_key": "pk", "indexes": [LocalIndex("by_n", range_key="n")]},
            "n",
            "needs a table with a range key",
        ),
        (
            {
                "table": "t_x",
                "hash_key": "pk",
                "indexes": [GlobalIndex("dup", hash_key="sk"), GlobalIndex("dup", hash_key="n")],
            },
            None,
            "two indexes are named 'dup'",
        ),
        (
            {"table": "t_x", "hash_key": "pk", "indexes": [GlobalIndex("g_x", hash_key="flag")]},
            "flag",
            "S, N or B",
        ),
        (
            {"table": "t_x", "hash_key": "pk", "indexes": [GlobalIndex("g_x", hash_key="zzz")]},
            "zzz",
            "not a field",
        ),
        (
            {
                "table": "t_x",
                "hash_key": "pk",
                "indexes": [GlobalIndex("g_x", hash_key="sk", projection="SOME")],
            },
            None,
            "projection",
        ),
        ({"table": "t_x", "hash_key": "pk", "ttl": "other"}, "other", "datetime or int"),
        ({"table": "t_x", "hash_key": "pk", "ttl": "nothing"}, "nothing", "not a field"),
        ({"table": "t_x", "hash_key": "pk", "version": "other"}, "other", "must be int"),
        ({"table": "t_x", "hash_key": "pk", "version": "flag"}, "flag", "must be int"),
        ({"table": "t_x", "hash_key": "pk", "version": "pk"}, "pk", "cannot be a key"),
        ({"table": "t_x", "hash_key": "pk", "created_at": "n"}, "n", "must be datetime"),
        ({"table": "t_x", "hash_key": "pk", "updated_at": "gone"}, "gone", "not a field"),
        ({"table": "x", "hash_key": "pk"}, None, "table must be a name"),
        (
            {"table": "t_x", "hash_key": "pk", "indexes": ["by_x"]},
            None,
            "GlobalIndex or LocalIndex",
        ),
    ],
)
def test_model_mistakes_raise_model_error_naming_class_and_field(
    options: dict[str, object], field_name: str | None, words: str
) -> None:
    """Each declaration mistake raises ModelError with the class, the field and the reason."""
    with pytest.raises(ModelError) as caught:
        _define(**options)
    assert "Thing" in str(caught.value)
    assert words in str(caught.value)
    assert caught.value.field == field_name


def test_two_fields_with_one_stored_name_are_refused() -> None:
    """Two fields stored under the same attribute name would overwrite each other."""
    with pytest.raises(ModelError, match="both stored as 'x'"):

        @model(table="clash", hash_key="pk")
        @attrs.define
        class Clash:
            pk: str
            a: str = field(stored_as="x", default="")
            b: str = field(stored_as="x", default="")


def test_model_info_of_a_plain_class_is_a_clear_error() -> None:
    """Asking for the model of an undecorated class names the class and the fix."""

    @attrs.define
    class NotAModel:
        x: int

    with pytest.raises(ModelError, match="decorate it with @model"):
        model_info(NotAModel)


def test_unknown_index_lookup_lists_known_indexes() -> None:
    """model_info(...).index() on a wrong name lists the indexes that exist."""
    with pytest.raises(ModelError, match="by_status, by_total"):
        model_info(Order).index("by_nothing")


def test_unresolvable_annotation_is_a_model_error() -> None:
    """A forward reference that cannot be resolved is reported at definition, not at first use."""
    with pytest.raises(ModelError, match="cannot resolve"):

        @model(table="broken", hash_key="pk")
        @attrs.define
        class Broken:
            pk: str
            other: NoSuchType  # type: ignore[name-defined]  # noqa: F821
