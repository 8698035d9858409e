"""``from_item`` that also takes a shared ``Table``: a stream record's image of the shared
table loads as the entity its type attribute names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, overload

from .._errors import DeserializationError
from .._wire.codecs import AttributeValue
from .._wire.convert import Converter
from .._wire.convert import from_item as _from_item
from .table import Table

__all__ = ["from_item"]

T = TypeVar("T")


@overload
def from_item(
    cls: type[T], item: Mapping[str, AttributeValue], *, converter: Converter | None = ...
) -> T: ...


@overload
def from_item(
    cls: Table, item: Mapping[str, AttributeValue], *, converter: Converter | None = ...
) -> Any: ...


def from_item(
    cls: type[T] | Table,
    item: Mapping[str, AttributeValue],
    *,
    converter: Converter | None = None,
) -> Any:
    """A model instance from a DynamoDB item in wire format (for example a stream record's
    ``NewImage``); given a shared ``Table``, the instance of the entity its type attribute
    names::

        order = from_item(Order, record["dynamodb"]["NewImage"])
        user_or_order = from_item(app, record["dynamodb"]["NewImage"])

    An item of a type no entity of the table claims raises ``DeserializationError``.
    """
    if isinstance(cls, Table):
        entity = cls.entity_of(item)
        if entity is None:
            found = item.get(cls.type_attribute)
            raise DeserializationError(
                f"{cls!r} has no entity of type "
                f"{found.get('S') if isinstance(found, Mapping) else None!r} "
                f"(the item's {cls.type_attribute!r}); its entities: " + ", ".join(cls.entities),
                item=item,
            )
        return _from_item(entity, item, converter=converter)
    return _from_item(cls, item, converter=converter)
