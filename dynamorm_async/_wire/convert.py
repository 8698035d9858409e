"""The DynamoDB preset for cattrs: attrs instances <-> DynamoDB's AttributeValue wire format.

Items go straight between attrs instances and ``{"S": ...}`` / ``{"N": ...}`` / ``{"M": ...}``
maps, with no detour through boto3's TypeSerializer. One dump and one load function is
generated per class (``_wire.generate``) and cached; it writes the converter's own codecs inline,
so a typical attribute costs no function call, and calls every other hook, including any you
register. ``Converter.generated_source(cls)`` shows the code.

Rules (``configure_converter``):

- str -> S; int, float, Decimal -> N; bytes -> B; bool -> BOOL; None -> NULL.
- N holds at most 38 significant digits within 1E-130..1E+126; NaN, infinities and larger
  numbers are refused. int and Decimal round-trip exactly; float is written from its shortest
  repr and read back as float.
- set[str] / set[bytes] / set[int | float | Decimal] -> SS / BS / NS. An empty set is left out
  of the item (DynamoDB cannot store one); inside a list or map it is stored as NULL.
- list, tuple -> L; dict[str, X] -> M; nested attrs classes -> M.
- ``X | None``: a None attribute is left out of the item (unless ``field(store_none=True)``);
  inside a list or map, or when the field's default is not None, it is NULL. A missing
  attribute loads as the field's default, or as None / an empty set for optional and set
  fields without one.
- Enum -> its value; Literal -> its value, checked; UUID -> S.
- datetime -> S, fixed-width ISO-8601 in UTC (``2026-01-02T03:04:05.000000+00:00``), so
  stored times sort as text. Naive datetimes are refused. date -> S (``2026-01-02``).
- The model's TTL attribute -> N, epoch seconds, as DynamoDB's time-to-live requires.
- Attributes the model does not know are ignored on load.

Register hooks for your own types the cattrs way (hooks speak AttributeValues), or with
``register_type`` (hooks speak a type the converter already knows)::

    conv = make_converter()
    conv.register_type(Money, str, dump=lambda m: f"{m.amount}:{m.currency}", load=Money.parse)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import attrs
import cattrs

from .._errors import DeserializationError, ModelError, ValidationError
from .._model.models import EntityKeys, ModelInfo
from .._model.types import NoneType, type_name
from . import codecs as c
from . import hooks as _hooks
from .codecs import AttributeValue, Problem
from .generate import (
    ItemCodec,
    attrs_dump_factory,
    attrs_load_factory,
    item_codec,
    validation_error,
)
from .hooks import Unsupported

__all__ = [
    "Converter",
    "configure_converter",
    "default_converter",
    "from_item",
    "make_converter",
    "to_item",
]

T = TypeVar("T")


class Converter(cattrs.Converter):
    """A cattrs converter configured for DynamoDB's AttributeValue format.

    ``dump_item``/``load_item`` convert whole items; every other cattrs API works as usual
    (``register_unstructure_hook``, ``register_structure_hook``, ...), with hooks that produce
    and take AttributeValues::

        conv = make_converter()
        conv.register_unstructure_hook(Point, lambda p: {"S": f"{p.x},{p.y}"})
        conv.register_structure_hook(Point, lambda av, _: Point(*map(int, av["S"].split(","))))
    """

    def __init__(self) -> None:
        self._generating: set[tuple[str, type]] = set()
        self._items: dict[type, ItemCodec] = {}
        # The codecs' functions by class, looked up once per item.
        self._dumps: dict[type, Callable[[Any], dict[str, AttributeValue]]] = {}
        self._loads: dict[type, Callable[[Mapping[str, AttributeValue]], Any]] = {}
        super().__init__(
            detailed_validation=False,
            unstructure_fallback_factory=_hooks.no_dump,
            structure_fallback_factory=_hooks.no_load,
        )
        configure_converter(self)

    def dump_item(self, obj: Any) -> dict[str, AttributeValue]:
        """The item (attribute name -> AttributeValue) for an attrs instance.

        Raises ``ValidationError`` naming the model, the field and the value's type when a
        value cannot be stored; nothing is returned half-built.
        """
        dump = self._dumps.get(obj.__class__)
        if dump is None:
            if not attrs.has(obj.__class__):
                raise ValidationError(
                    f"to_item takes an attrs model instance, got {type(obj).__qualname__}",
                    value_type=type(obj),
                )
            self._codec(obj.__class__)
            dump = self._dumps[obj.__class__]
        return dump(obj)

    def load_item(self, cls: type[T], item: Mapping[str, AttributeValue]) -> T:
        """An instance of ``cls`` from an item as DynamoDB returns it.

        Raises ``DeserializationError`` naming the field when the stored data does not fit.
        """
        load = self._loads.get(cls)
        if load is None:
            if not attrs.has(cls):
                raise DeserializationError(f"{cls!r} is not an attrs class", item=item)
            self._codec(cls)
            load = self._loads[cls]
        return load(item)  # type: ignore[no-any-return]

    def _codec(self, cls: type) -> ItemCodec:
        try:
            codec = self._items[cls] = item_codec(self, cls)
        except Unsupported as exc:
            raise ModelError(f"{cls.__qualname__}: {exc}", model=cls) from None
        info = cls.__dict__.get("__dynamorm__")
        entity = info.entity if isinstance(info, ModelInfo) else None
        if entity is None:
            self._dumps[cls] = codec.dump
            self._loads[cls] = codec.load
        else:  # an entity of a shared table: its keys and type go with every item
            self._dumps[cls], self._loads[cls] = _entity_codec(cls, entity, codec)
        return codec

    def _forget_codecs(self) -> None:
        # Generated item codecs depend on every hook: any registration invalidates them.
        self._items.clear()
        self._dumps.clear()
        self._loads.clear()

    def generated_source(self, cls: type) -> str:
        """The Python source generated to dump and load items of ``cls``, for reading while
        debugging (tracebacks through it show its lines too)."""
        if not attrs.has(cls):
            raise ModelError(f"{cls!r} is not an attrs class", model=cls)
        codec = self._items.get(cls) or self._codec(cls)
        return codec.source

    def dump_value(self, value: Any, tp: Any = None) -> AttributeValue:
        """One value as an AttributeValue, by declared type ``tp`` or by its runtime type."""
        try:
            av: AttributeValue = self._hook(True, tp if tp is not None else value.__class__)(value)
        except Problem as p:
            raise validation_error(None, p) from p.__cause__
        return av

    def load_value(self, av: AttributeValue, tp: Any) -> Any:
        """One AttributeValue loaded as type ``tp``."""
        try:
            return self._hook(False, tp)(av, tp)
        except Problem as p:
            raise DeserializationError(f"cannot load {type_name(tp)}: {p.message}") from None

    def _hook(self, dump: bool, tp: Any) -> Callable[..., Any]:
        try:
            return _hooks.dump_hook(self, tp) if dump else _hooks.load_hook(self, tp)
        except Unsupported as exc:
            raise ModelError(str(exc)) from None

    def register_type(
        self,
        cls: type[T],
        stored_as: Any,
        *,
        dump: Callable[[T], Any],
        load: Callable[[Any], T],
    ) -> None:
        """Store ``cls`` as a type the converter knows, through your two functions.

        ``dump`` turns an instance into a ``stored_as`` value and ``load`` turns it back::

            conv.register_type(Money, str, dump=str, load=Money.parse)
        """
        dump_stored = _hooks.dump_hook(self, stored_as)
        load_stored = _hooks.load_hook(self, stored_as)

        def dump_hook(value: T) -> AttributeValue:
            if not isinstance(value, cls):
                c.type_error(cls.__qualname__, value)
            return dump_stored(dump(value))  # type: ignore[no-any-return]

        def load_hook(av: AttributeValue, _: Any) -> T:
            return load(load_stored(av, stored_as))

        self.register_unstructure_hook(cls, dump_hook)
        self.register_structure_hook(cls, load_hook)

    def register_unstructure_hook(self, *args: Any, **kwargs: Any) -> Any:
        self._forget_codecs()
        return super().register_unstructure_hook(*args, **kwargs)

    def register_structure_hook(self, *args: Any, **kwargs: Any) -> Any:
        self._forget_codecs()
        return super().register_structure_hook(*args, **kwargs)

    def register_unstructure_hook_func(self, *args: Any, **kwargs: Any) -> Any:
        self._forget_codecs()
        return super().register_unstructure_hook_func(*args, **kwargs)

    def register_structure_hook_func(self, *args: Any, **kwargs: Any) -> Any:
        self._forget_codecs()
        return super().register_structure_hook_func(*args, **kwargs)

    def register_unstructure_hook_factory(self, *args: Any, **kwargs: Any) -> Any:
        self._forget_codecs()
        return super().register_unstructure_hook_factory(*args, **kwargs)

    def register_structure_hook_factory(self, *args: Any, **kwargs: Any) -> Any:
        self._forget_codecs()
        return super().register_structure_hook_factory(*args, **kwargs)


def _entity_codec(
    cls: type, entity: EntityKeys, codec: ItemCodec
) -> tuple[Callable[[Any], dict[str, AttributeValue]], Callable[[Mapping[str, Any]], Any]]:
    """The dump and load of an entity: keys and type added; an item of another type (or of
    none) refused, so it never loads as this entity even when its fields would fit."""
    dump_fields, load_fields = codec.dump, codec.load
    attribute, expected = entity.type_attribute, {"S": entity.type_name}

    def dump(obj: Any) -> dict[str, AttributeValue]:
        item = dump_fields(obj)
        entity.complete(obj, item)
        return item

    def load(item: Mapping[str, Any]) -> Any:
        found = item.get(attribute)
        if found != expected:
            stored = found.get("S") if isinstance(found, Mapping) else None
            raise DeserializationError(
                f"{cls.__qualname__}: the item is "
                + (f"a {stored!r}" if stored else f"of no type (no {attribute!r} attribute)")
                + f", not a {entity.type_name!r}",
                model=cls,
                item=item,
            )
        return load_fields(item)

    return dump, load


def make_converter() -> Converter:
    """A new DynamoDB converter, independent of the default one used by ``to_item``."""
    return Converter()


def configure_converter(conv: cattrs.Converter) -> None:
    """Install the DynamoDB rules (see the module docstring) on a cattrs ``Converter``."""
    for tp, dump, load in (
        (str, c.dump_str, c.load_str),
        (bytes, c.dump_bytes, c.load_bytes),
        (bool, c.dump_bool, c.load_bool),
        (int, c.dump_int, c.load_int),
        (float, c.dump_float, c.load_float),
        (Decimal, c.dump_decimal, c.load_decimal),
        (datetime, c.dump_datetime, c.load_datetime),
        (date, c.dump_date, c.load_date),
        (UUID, c.dump_uuid, c.load_uuid),
        (NoneType, c.dump_none, c.load_none),
    ):
        conv.register_unstructure_hook(tp, dump)
        conv.register_structure_hook(tp, load)
    _hooks.install(conv)
    conv.register_unstructure_hook_factory(attrs.has, attrs_dump_factory(conv))
    conv.register_structure_hook_factory(attrs.has, attrs_load_factory(conv))


_default: Converter | None = None


def default_converter() -> Converter:
    """The converter ``to_item``/``from_item`` (and sessions, unless given another) use."""
    global _default
    if _default is None:
        _default = Converter()
    return _default


def to_item(obj: Any, *, converter: Converter | None = None) -> dict[str, AttributeValue]:
    """An attrs instance as a DynamoDB item in wire format::

    >>> to_item(Order(customer_id="c1", order_id="o1", status="open", ...))
    {'customer_id': {'S': 'c1'}, 'order_id': {'S': 'o1'}, 'status': {'S': 'open'}, ...}
    """
    return (converter or _default or default_converter()).dump_item(obj)


def from_item(
    cls: type[T], item: Mapping[str, AttributeValue], *, converter: Converter | None = None
) -> T:
    """A model instance from a DynamoDB item in wire format (for example a stream record's
    ``NewImage``)::

        order = from_item(Order, record["dynamodb"]["NewImage"])
    """
    return (converter or _default or default_converter()).load_item(cls, item)
