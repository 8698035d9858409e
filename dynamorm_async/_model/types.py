"""Type introspection shared by the model validator and the converter."""

from __future__ import annotations

import enum
import types
import typing
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Union

NoneType = type(None)

_SCALAR_TAGS: dict[type, str] = {
    str: "S",
    int: "N",
    float: "N",
    Decimal: "N",
    bytes: "B",
    datetime: "S",
    date: "S",
    uuid.UUID: "S",
}
_SET_ORIGINS = (set, frozenset, typing.AbstractSet, typing.MutableSet)


def union_args(tp: Any) -> tuple[Any, ...] | None:
    """The members of ``Union[...]`` / ``X | Y``, or None when ``tp`` is not a union."""
    origin = typing.get_origin(tp)
    if origin is Union or (isinstance(tp, types.UnionType)):
        return typing.get_args(tp)
    return None


def optional_inner(tp: Any) -> Any | None:
    """``X`` for ``X | None`` (``Optional[X]``); None when ``tp`` is not optional."""
    args = union_args(tp)
    if args is None or NoneType not in args:
        return None
    rest = tuple(a for a in args if a is not NoneType)
    if len(rest) == 1:
        return rest[0]
    return Union[rest]  # noqa: UP007 - built from a runtime tuple


def strip_optional(tp: Any) -> Any:
    """``X`` for ``X | None``, else ``tp`` itself."""
    inner = optional_inner(tp)
    return tp if inner is None else inner


def is_set_type(tp: Any) -> bool:
    """True for ``set[X]``, ``frozenset[X]`` and their abstract forms."""
    return tp in (set, frozenset) or typing.get_origin(tp) in _SET_ORIGINS


def scalar_tag(tp: Any) -> str | None:
    """The DynamoDB scalar type ("S", "N" or "B") a Python type is stored as, if it is one.

    Only these can be table or index keys. bool is not one (DynamoDB stores it as BOOL).
    """
    if tp in _SCALAR_TAGS:
        return _SCALAR_TAGS[tp]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        tags = {_value_tag(m.value) for m in tp}
        return tags.pop() if len(tags) == 1 else None
    if typing.get_origin(tp) is Literal:
        tags = {_value_tag(v) for v in typing.get_args(tp)}
        return tags.pop() if len(tags) == 1 else None
    return None


def _value_tag(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    return _SCALAR_TAGS.get(type(value))


def type_name(tp: Any) -> str:
    """A readable name for a type annotation, for error messages."""
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__qualname__
    return repr(tp).replace("typing.", "")
