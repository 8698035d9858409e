"""Types shared by the converter tests: enums of each kind, the TTL models, one-field models."""

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from dynamorm_async import model


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Priority(enum.Enum):
    LOW = 1
    HIGH = 2


class Kind(str, enum.Enum):
    BOOK = "book"
    FILM = "film"


class Level(enum.IntEnum):
    ONE = 1
    TWO = 2


@model(table="sessions", hash_key="pk", ttl="expires")
@attrs.define
class Session:
    pk: str
    expires: datetime


@model(table="counters", hash_key="pk", ttl="expires")
@attrs.define
class Counter:
    pk: str
    expires: int | None = None


_SINGLES: dict[Any, type] = {}


def single(tp: Any) -> type:
    """A model ``Single(pk: str, v: tp)``, one per type (``v`` has no default)."""
    if tp not in _SINGLES:
        cls = attrs.make_class("Single", {"pk": attrs.field(type=str), "v": attrs.field(type=tp)})
        _SINGLES[tp] = model(table="single", hash_key="pk")(cls)
    return _SINGLES[tp]


@attrs.define
class Spot:
    x: int
    y: int


@model(table="hooked", hash_key="pk")
@attrs.define
class Hooked:
    """Fields of every type the generated code writes inline, all with user hooks."""

    pk: str
    count: int
    amount: Decimal
    when: datetime
    color: Color
    spot: Spot
    names: list[str]
    counts: list[int]
    maybe: int | None = None
