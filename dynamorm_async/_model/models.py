"""Declaring models: ``@model``, indexes, ``field()`` and the validated ``ModelInfo``.

A model is an attrs class plus a ``ModelInfo`` stored on it as ``__dynamorm__``. Everything the
converter, the session and the table manager need (stored names, key schema, attribute
definitions, indexes) is worked out and checked once, when the class is defined, so that a
mistake surfaces as a ``ModelError`` at import time rather than as a failed request later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar, Union

import attrs

from .._errors import ModelError
from .types import NoneType, is_set_type, optional_inner, scalar_tag, strip_optional, type_name

__all__ = [
    "EntityKeys",
    "FieldInfo",
    "GlobalIndex",
    "KeyAttribute",
    "LocalIndex",
    "ModelInfo",
    "field",
    "fields_of",
    "is_table_name",
    "model",
    "model_info",
    "special_field",
]

T = TypeVar("T")
Projection = Union[Literal["ALL", "KEYS_ONLY"], Sequence[str]]  # noqa: UP007 - runtime alias
_META_KEY = "dynamorm"


def _check_projection(projection: Any) -> tuple[str, tuple[str, ...]]:
    if projection in ("ALL", "KEYS_ONLY"):
        return projection, ()
    if isinstance(projection, str) or not isinstance(projection, Sequence):
        raise ModelError(
            f'projection must be "ALL", "KEYS_ONLY" or a list of attribute names, '
            f"got {projection!r}"
        )
    names = tuple(projection)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ModelError(f"an INCLUDE projection needs attribute names, got {projection!r}")
    return "INCLUDE", names


@attrs.frozen
class GlobalIndex:
    """A global secondary index: its own hash key and optional range key.

    ``projection`` is ``"ALL"`` (default), ``"KEYS_ONLY"`` or a list of attribute names
    (an INCLUDE projection)::

        GlobalIndex("by_status", hash_key="status", range_key="placed_at")
    """

    name: str
    hash_key: str
    range_key: str | None = None
    projection: Projection = "ALL"


@attrs.frozen
class LocalIndex:
    """A local secondary index: the table's hash key with another range key.

    Only possible on a table that has a range key itself::

        LocalIndex("by_total", range_key="total", projection="KEYS_ONLY")
    """

    name: str
    range_key: str
    projection: Projection = "ALL"


@attrs.frozen
class _FieldOptions:
    stored_as: str | None
    store_none: bool


def field(*, stored_as: str | None = None, store_none: bool = False, **kwargs: Any) -> Any:
    """``attrs.field`` with DynamoDB options.

    ``stored_as`` is the attribute name in the table when it differs from the Python name
    (short names save bytes; legacy tables have their own names). ``store_none=True`` writes
    ``None`` as a NULL attribute instead of leaving the attribute out. Every other keyword
    goes to ``attrs.field``::

        @model(table="users", hash_key="user_id")
        @attrs.define
        class User:
            user_id: str = field(stored_as="pk")
            nickname: str | None = field(default=None, store_none=True)
    """
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata[_META_KEY] = _FieldOptions(stored_as, store_none)
    return attrs.field(metadata=metadata, **kwargs)


@attrs.frozen
class FieldInfo:
    """One attribute of a model: Python name, stored name and annotated type."""

    name: str
    stored_name: str
    type: Any
    store_none: bool
    has_default: bool
    default: Any = None

    @property
    def required(self) -> bool:
        """True when the attribute must be stored for an item to load: no default, not
        optional and not a set (a missing set loads as an empty one)."""
        return not (
            self.has_default or optional_inner(self.type) is not None or is_set_type(self.type)
        )


@attrs.frozen
class KeyAttribute:
    """A key attribute: its Python name, stored name and DynamoDB scalar type (S, N or B)."""

    name: str
    stored_name: str
    attribute_type: str


@attrs.frozen
class IndexInfo:
    """A validated secondary index, with its keys resolved to stored names."""

    name: str
    kind: Literal["global", "local"]
    hash_key: KeyAttribute
    range_key: KeyAttribute | None
    projection_type: str
    non_key_attributes: tuple[str, ...]

    def key_schema(self) -> list[dict[str, str]]:
        """The index's ``KeySchema`` as CreateTable takes it."""
        return _key_schema(self.hash_key, self.range_key)

    def projection(self) -> dict[str, Any]:
        """The index's ``Projection`` as CreateTable takes it."""
        out: dict[str, Any] = {"ProjectionType": self.projection_type}
        if self.non_key_attributes:
            out["NonKeyAttributes"] = list(self.non_key_attributes)
        return out


def _key_schema(hash_key: KeyAttribute, range_key: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key.stored_name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.stored_name, "KeyType": "RANGE"})
    return schema


class EntityKeys(Protocol):
    """What an entity of a shared table (``Table.entity``) adds to its ``ModelInfo``: key
    attributes made from templates over its fields, and a type attribute. The single-table
    layer implements it; the layers below call it through this protocol."""

    type_attribute: str
    type_name: str

    def complete(self, obj: Any, item: dict[str, Any]) -> None:
        """Add the key attributes and the type attribute to ``obj``'s dumped item."""

    def key(self, values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the Key map, the field values) for a mapping of the key templates' fields."""

    def key_of(self, obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """``key`` for an instance."""

    def update_keys(
        self,
        key_values: Mapping[str, Any],
        actions: Mapping[str, Any],
        upsert: bool,
        dump: Callable[[str, Any], Any],
    ) -> tuple[dict[str, Any], list[str]]:
        """What an update of the item with ``key_values`` must also SET (stored name ->
        AttributeValue) and REMOVE, for ``actions``: the index keys whose fields it
        changes; with ``upsert``, the type and the key fields too. ``dump(field, value)``
        dumps a field's value."""


@attrs.frozen
class ModelInfo:
    """What ``@model`` knows about a class: table, keys, indexes and special attributes.

    Read it with ``model_info(Order)``. The key schema and attribute definitions are exactly
    what CreateTable needs; attribute definitions cover key and index-key attributes only.
    """

    cls: type
    table: str
    hash_key: KeyAttribute
    range_key: KeyAttribute | None
    indexes: tuple[IndexInfo, ...]
    fields: tuple[FieldInfo, ...]
    ttl: str | None
    version: str | None
    created_at: str | None
    updated_at: str | None
    entity: EntityKeys | None = None  # set for an entity of a shared table

    def field(self, name: str) -> FieldInfo:
        """The field called ``name`` (its Python name); ``ModelError`` if there is none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise ModelError(f"{self.cls.__qualname__} has no field {name!r}", model=self.cls)

    def key_schema(self) -> list[dict[str, str]]:
        """The table's ``KeySchema`` as CreateTable takes it."""
        return _key_schema(self.hash_key, self.range_key)

    def attribute_definitions(self) -> list[dict[str, str]]:
        """``AttributeDefinitions`` for the table and index keys, each attribute once."""
        keys = [self.hash_key, self.range_key]
        for index in self.indexes:
            keys += [index.hash_key, index.range_key]
        seen: dict[str, str] = {}
        for key in keys:
            if key is not None:
                seen.setdefault(key.stored_name, key.attribute_type)
        return [{"AttributeName": n, "AttributeType": t} for n, t in seen.items()]

    def key_names(self) -> tuple[str, ...]:
        """Stored names of the table's key attributes (hash first)."""
        if self.range_key is None:
            return (self.hash_key.stored_name,)
        return (self.hash_key.stored_name, self.range_key.stored_name)

    def index(self, name: str) -> IndexInfo:
        """The index called ``name``; ``ModelError`` naming the known indexes if missing."""
        for index in self.indexes:
            if index.name == name:
                return index
        known = ", ".join(i.name for i in self.indexes) or "none"
        raise ModelError(
            f"{self.cls.__qualname__} has no index {name!r} (indexes: {known})", model=self.cls
        )


_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def is_table_name(name: Any) -> bool:
    """True for a valid DynamoDB table (or index) name: 3 to 255 of ``A-Za-z0-9_.-``."""
    return isinstance(name, str) and _TABLE_NAME.fullmatch(name) is not None


def model_info(cls: type) -> ModelInfo:
    """The ``ModelInfo`` of a class decorated with ``@model``; ``ModelError`` otherwise."""
    info = cls.__dict__.get("__dynamorm__") if isinstance(cls, type) else None
    if not isinstance(info, ModelInfo):
        raise ModelError(f"{cls!r} is not a model: decorate it with @model(...)", model=cls)
    return info


def model(
    *,
    table: str,
    hash_key: str,
    range_key: str | None = None,
    indexes: Sequence[GlobalIndex | LocalIndex] = (),
    ttl: str | None = None,
    version: str | None = None,
    created_at: str | None = None,
    updated_at: str | None = None,
) -> Callable[[type[T]], type[T]]:
    """Declare an attrs class as a DynamoDB model.

    Names are Python field names (stored names follow ``field(stored_as=...)``). ``ttl`` is a
    datetime or int field stored as epoch seconds (N, also where it is an index key);
    ``version`` an int field used for optimistic locking; ``created_at``/``updated_at``
    datetime fields the session sets on write. A class that is not an attrs class yet (a plain
    subclass of one included) is made one with ``attrs.define``::

        @model(table="orders", hash_key="customer_id", range_key="order_id",
               indexes=[GlobalIndex("by_status", hash_key="status")])
        @attrs.define
        class Order:
            customer_id: str
            order_id: str
            status: str

    Every mistake raises ``ModelError`` naming the class and the field.
    """

    def decorate(cls: type[T]) -> type[T]:
        if not isinstance(cls, type):
            raise ModelError(f"@model decorates a class, got {cls!r}")
        # attrs.has() also answers True for a plain subclass of an attrs class, whose own
        # annotations attrs never saw: such a class is made an attrs class too, so that the
        # fields it adds are stored.
        if "__attrs_attrs__" not in cls.__dict__:
            cls = attrs.define(cls)
        info = _build_info(
            cls, table, hash_key, range_key, indexes, ttl, version, created_at, updated_at
        )
        # Stored on the class itself (not inherited lookups) so subclasses must opt in.
        type.__setattr__(cls, "__dynamorm__", info)
        return cls

    return decorate


def _build_info(
    cls: type,
    table: str,
    hash_key: str,
    range_key: str | None,
    indexes: Sequence[GlobalIndex | LocalIndex],
    ttl: str | None,
    version: str | None,
    created_at: str | None,
    updated_at: str | None,
) -> ModelInfo:
    name = cls.__qualname__

    def fail(message: str, field_name: str | None = None) -> ModelError:
        return ModelError(f"{name}: {message}", model=cls, field=field_name)

    if not is_table_name(table):
        raise fail(
            f"table must be a name of 3 to 255 letters, digits, '_', '-' or '.', got {table!r}"
        )
    try:
        attrs.resolve_types(cls)
    except Exception as exc:
        raise fail(f"cannot resolve the field annotations ({exc})") from exc

    fields = _fields(cls, fail)
    by_name = {f.name: f for f in fields}
    stored: dict[str, str] = {}
    for f in fields:
        if f.stored_name in stored:
            raise fail(
                f"fields {stored[f.stored_name]!r} and {f.name!r} are both stored as "
                f"{f.stored_name!r}",
                f.name,
            )
        stored[f.stored_name] = f.name

    def key(role: str, field_name: Any, *, sparse: bool = False) -> KeyAttribute:
        if not isinstance(field_name, str):
            raise fail(f"{role} must be a field name, got {field_name!r}")
        f = by_name.get(field_name)
        if f is None:
            raise fail(f"{role} {field_name!r} is not a field of the class", field_name)
        tp = f.type
        inner = optional_inner(tp)
        if inner is not None:
            if not sparse:
                raise fail(f"{role} {field_name!r} cannot be optional (keys are required)", f.name)
            if f.has_default and f.default is not None:
                # None is stored as NULL where absence would load as the default, and NULL
                # cannot be an index key: such an item could never be written.
                raise fail(
                    f"{role} {field_name!r} is optional with a default other than None, so "
                    "None would be stored as NULL, which an index key cannot be; give it the "
                    "default None (an item without the attribute stays out of the index)",
                    f.name,
                )
            tp = inner
        # The TTL attribute is stored as epoch seconds, whatever its Python type.
        tag = "N" if field_name == ttl and tp in (datetime, int) else scalar_tag(tp)
        if tag is None:
            raise fail(
                f"{role} {field_name!r} has type {type_name(f.type)}; keys must be stored as "
                "S, N or B (str, int, float, Decimal, bytes, datetime, date, UUID, or an Enum "
                "or Literal of one of those)",
                f.name,
            )
        return KeyAttribute(f.name, f.stored_name, tag)

    table_hash = key("hash_key", hash_key)
    table_range = key("range_key", range_key) if range_key is not None else None
    if table_range is not None and table_range.name == table_hash.name:
        raise fail(f"hash_key and range_key are the same field {hash_key!r}", hash_key)

    index_infos: list[IndexInfo] = []
    for index in indexes:
        if not isinstance(index, (GlobalIndex, LocalIndex)):
            raise fail(f"indexes take GlobalIndex or LocalIndex, got {index!r}")
        if any(i.name == index.name for i in index_infos):
            raise fail(f"two indexes are named {index.name!r}")
        if not isinstance(index.name, str) or not 3 <= len(index.name) <= 255:
            raise fail(f"index name must be 3 to 255 characters, got {index.name!r}")
        try:
            projection_type, non_key = _check_projection(index.projection)
        except ModelError as exc:
            raise fail(f"index {index.name!r}: {exc}") from None
        where = f"index {index.name!r} "
        unknown = [n for n in non_key if n not in by_name]
        if unknown:
            raise fail(
                f"{where}projects {', '.join(map(repr, unknown))}, which "
                f"{'is not a field' if len(unknown) == 1 else 'are not fields'} of the class",
                unknown[0],
            )
        non_key = tuple(by_name[n].stored_name for n in non_key)
        if isinstance(index, GlobalIndex):
            ih = key(where + "hash_key", index.hash_key, sparse=True)
            ir = (
                key(where + "range_key", index.range_key, sparse=True)
                if index.range_key is not None
                else None
            )
            kind: Literal["global", "local"] = "global"
        else:
            if table_range is None:
                raise fail(
                    f"local index {index.name!r} needs a table with a range key; "
                    "declare range_key= on the model",
                    index.range_key,
                )
            ih = table_hash
            ir = key(where + "range_key", index.range_key, sparse=True)
            kind = "local"
        if ir is not None and ir.name == ih.name:
            raise fail(f"{where}uses {ih.name!r} as both hash and range key", ih.name)
        index_infos.append(IndexInfo(index.name, kind, ih, ir, projection_type, non_key))

    def special(role: str, field_name: str | None, allowed: tuple[type, ...]) -> str | None:
        return special_field(fail, by_name, role, field_name, allowed)

    key_fields = {table_hash.name} | ({table_range.name} if table_range else set())
    for role, field_name in (("version", version), ("ttl", ttl)):
        if field_name is not None and field_name in key_fields:
            raise fail(f"the {role} field {field_name!r} cannot be a key", field_name)

    return ModelInfo(
        cls=cls,
        table=table,
        hash_key=table_hash,
        range_key=table_range,
        indexes=tuple(index_infos),
        fields=fields,
        ttl=special("ttl", ttl, (datetime, int)),
        version=special("version", version, (int,)),
        created_at=special("created_at", created_at, (datetime,)),
        updated_at=special("updated_at", updated_at, (datetime,)),
    )


def special_field(
    fail: Callable[..., ModelError],
    by_name: Mapping[str, FieldInfo],
    role: str,
    field_name: str | None,
    allowed: tuple[type, ...],
) -> str | None:
    """``field_name`` checked as the ``role`` field (version, ttl, created_at, updated_at):
    a field of the class of one of the ``allowed`` types; ``fail(message, field)`` makes the
    error."""
    if field_name is None:
        return None
    f = by_name.get(field_name)
    if f is None:
        raise fail(f"{role} {field_name!r} is not a field of the class", field_name)
    tp = f.type if role == "version" else strip_optional(f.type)
    if tp not in allowed or tp is bool:
        wanted = " or ".join(t.__name__ for t in allowed)
        raise fail(
            f"{role} field {field_name!r} must be {wanted}, not {type_name(f.type)}", field_name
        )
    return field_name


def fields_of(cls: type) -> tuple[FieldInfo, ...]:
    """The stored fields of a model or of any attrs class (nested classes have no @model)."""
    info = cls.__dict__.get("__dynamorm__")
    if isinstance(info, ModelInfo):
        return info.fields

    def fail(message: str, field_name: str | None = None) -> ModelError:
        return ModelError(f"{cls.__qualname__}: {message}", model=cls, field=field_name)

    try:
        attrs.resolve_types(cls)
    except Exception as exc:
        raise fail(f"cannot resolve the field annotations ({exc})") from exc
    return _fields(cls, fail)


def _fields(cls: type, fail: Callable[..., ModelError]) -> tuple[FieldInfo, ...]:
    # Fields with init=False are derived, not stored (cattrs skips them the same way).
    return tuple(_field_info(a, fail) for a in attrs.fields(cls) if a.init)


def _field_info(a: attrs.Attribute[Any], fail: Callable[..., ModelError]) -> FieldInfo:
    options = a.metadata.get(_META_KEY)
    stored = a.name
    store_none = False
    if isinstance(options, _FieldOptions):
        store_none = options.store_none
        if options.stored_as is not None:
            stored = options.stored_as
    try:
        valid = isinstance(stored, str) and 0 < len(stored.encode()) <= 255
    except UnicodeEncodeError:  # a lone surrogate: not valid UTF-8, so not storable
        valid = False
    if not valid:
        raise fail(f"field {a.name!r} has an invalid stored name {stored!r}", a.name)
    if a.type is None:
        raise fail(f"field {a.name!r} has no type annotation", a.name)
    if a.type is NoneType:
        raise fail(f"field {a.name!r} is annotated None and cannot be stored", a.name)
    has_default = a.default is not attrs.NOTHING
    if has_default and is_set_type(strip_optional(a.type)) and not _empty_set_default(a.default):
        # DynamoDB cannot store an empty set, and removes a set whose last member is deleted:
        # an emptied set is stored as absent, which would load back as this default.
        raise fail(
            f"field {a.name!r}: a set field's default must be empty (attrs.field(factory=set)) "
            "or None, because DynamoDB cannot store an empty set: a set the application "
            "empties would be stored as absent and load back as the default",
            a.name,
        )
    return FieldInfo(
        a.name, stored, a.type, store_none, has_default, a.default if has_default else None
    )


def _empty_set_default(default: Any) -> bool:
    """True for a default that makes an empty set (or None): absence loads back equal."""
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        if default.factory in (set, frozenset):
            return True
        if default.takes_self:
            return False
        default = default.factory()
    return default is None or (isinstance(default, (set, frozenset)) and not default)
