"""Primary keys: from the values a caller passes (``get(Order, "c1", "o9")``) or from a model
instance, to the ``Key`` map DynamoDB takes, checked against the model's key types."""

from __future__ import annotations

from typing import Any

from .._errors import ValidationError
from .._model.models import KeyAttribute, ModelInfo
from .._model.types import strip_optional
from .._wire import codecs as c
from .._wire.codecs import AttributeValue, Problem
from .._wire.hooks import dump_hook

__all__ = [
    "MISSING",
    "Key",
    "dump_key_value",
    "key_from_object",
    "key_from_values",
    "key_of_item",
    "key_values",
]

# "No range key value given", as distinct from None (which is refused as a key value).
MISSING: Any = object()


class Key:
    """A primary key in wire form, plus its Python values for messages and errors."""

    __slots__ = ("item", "values")

    def __init__(self, item: dict[str, AttributeValue], values: dict[str, Any]) -> None:
        self.item = item  # stored name -> AttributeValue, as Key= takes it
        self.values = values  # Python field name -> value, for error messages and attributes

    def __repr__(self) -> str:
        return repr(self.values)


def dump_key_value(info: ModelInfo, conv: Any, key: KeyAttribute, value: Any) -> AttributeValue:
    """One key value as an AttributeValue, by the key field's type; ``ValidationError`` for
    None, a value of the wrong type, or an empty S/B value."""
    f = info.field(key.name)
    cls = info.cls
    if value is None:
        raise ValidationError(
            f"{cls.__qualname__}.{key.name}: a key value is required, got None",
            model=cls,
            field=key.name,
            value_type=type(None),
        )
    # The TTL attribute is stored as epoch seconds, also where it is an index key.
    dump = c.dump_epoch if key.name == info.ttl else dump_hook(conv, strip_optional(f.type))
    try:
        av: AttributeValue = dump(value)
    except Problem as p:
        raise ValidationError(
            f"{cls.__qualname__}.{key.name}: {p.message}",
            model=cls,
            field=key.name,
            value_type=p.value_type or type(value),
        ) from p.__cause__
    if av.get(key.attribute_type) in ("", b"", None):
        raise ValidationError(
            f"{cls.__qualname__}.{key.name}: key attributes must be non-empty "
            f"{key.attribute_type} values, got {value!r:.60}",
            model=cls,
            field=key.name,
            value_type=type(value),
        )
    return av


def key_from_values(info: ModelInfo, conv: Any, hash_value: Any, range_value: Any) -> Key:
    """The key for ``hash_value`` (and ``range_value`` when the table has a range key); for
    an entity of a shared table, ``hash_value`` is a mapping of its key templates' fields."""
    cls = info.cls
    if info.entity is not None:
        if range_value is not MISSING and range_value is not None:
            raise ValidationError(
                f"{cls.__qualname__} is an entity: pass its key as one mapping of fields, "
                f"not a second key value {range_value!r:.60}",
                model=cls,
            )
        return Key(*info.entity.key(hash_value))
    if info.range_key is None and range_value is not MISSING and range_value is not None:
        raise ValidationError(
            f"{cls.__qualname__} has no range key (its key is {info.hash_key.name!r} only), "
            f"but a second key value {range_value!r:.60} was given",
            model=cls,
            value_type=type(range_value),
        )
    item = {info.hash_key.stored_name: dump_key_value(info, conv, info.hash_key, hash_value)}
    values = {info.hash_key.name: hash_value}
    if info.range_key is not None:
        if range_value is MISSING or range_value is None:
            raise ValidationError(
                f"{cls.__qualname__} has a range key {info.range_key.name!r}: pass both key values",
                model=cls,
                field=info.range_key.name,
            )
        item[info.range_key.stored_name] = dump_key_value(info, conv, info.range_key, range_value)
        values[info.range_key.name] = range_value
    return Key(item, values)


def key_from_object(info: ModelInfo, conv: Any, obj: Any) -> Key:
    """The key of a model instance."""
    if info.entity is not None:
        return Key(*info.entity.key_of(obj))
    range_value = getattr(obj, info.range_key.name) if info.range_key is not None else MISSING
    return key_from_values(info, conv, getattr(obj, info.hash_key.name), range_value)


def key_values(info: ModelInfo, obj: Any) -> dict[str, Any]:
    """The key of a model instance as Python values, by field name (for messages)."""
    if info.entity is not None:
        return info.entity.key_of(obj)[1]
    names = [info.hash_key.name] + ([info.range_key.name] if info.range_key else [])
    return {n: getattr(obj, n) for n in names}


def key_of_item(info: ModelInfo, item: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
    """The key attributes of a wire-form item."""
    return {name: item[name] for name in info.key_names() if name in item}
