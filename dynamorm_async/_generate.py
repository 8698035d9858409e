"""Per-class conversion functions for attrs classes, generated once with cattrs' ``gen``.

For each class a dict unstructuring and a dict structuring function are generated, with
per-field overrides for the DynamoDB rules: stored names, left-out None values and empty sets,
TTL as epoch seconds, and a default for attributes that are absent. The generated functions
are the fast path; when one fails, a slower pass over the fields finds which field (and which
element inside it) is to blame, so errors name it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from . import _codecs as c
from ._codecs import NULL, AttributeValue, Problem, as_problem
from ._errors import DeserializationError, ModelError, ValidationError
from ._hooks import Unsupported, dump_hook, load_hook
from ._model import FieldInfo, ModelInfo, fields_of
from ._types import is_set_type, optional_inner

__all__ = ["ItemCodec", "attrs_dump_factory", "attrs_load_factory", "item_codec"]

Dump = Callable[[Any], Any]
Load = Callable[[Any, Any], Any]
_EMPTY_FACTORIES = (set, frozenset)
H = TypeVar("H")


@attrs.frozen
class _FieldPlan:
    info: FieldInfo
    dump: Dump  # for a present value; None values never reach it when ``omit`` is set
    load: Load
    omit: str  # "" (always stored), "default" (left out when equal to the default), "none"


def _field_plan(
    conv: cattrs.Converter, cls: type, f: FieldInfo, info: ModelInfo | None
) -> _FieldPlan:
    tp = f.type
    inner = optional_inner(tp)
    base = inner if inner is not None else tp
    dump: Dump
    load: Load
    if info is not None and info.ttl == f.name:
        dump = c.dump_epoch
        load = c.load_epoch_datetime if base is datetime else c.load_int
        if inner is not None:
            load = _null_or(load, base)
    else:
        dump = dump_hook(conv, base)
        load = load_hook(conv, tp)
    default = f.default
    if inner is not None and (f.store_none or (f.has_default and default is not None)):
        # With a default other than None, a left-out None would load as that default: store
        # NULL so that None round-trips.
        return _FieldPlan(f, _none_as_null(dump), load, "")
    if inner is not None:
        # The generated code skips None when it is the default; otherwise filter afterwards.
        if default is None and f.has_default:
            return _FieldPlan(f, dump, load, "default")
        return _FieldPlan(f, _none_as_missing(dump), load, "none")
    if is_set_type(base):
        if isinstance(default, attrs.Factory) and default.factory in _EMPTY_FACTORIES:  # type: ignore[arg-type]
            return _FieldPlan(f, dump, load, "default")
        return _FieldPlan(f, _empty_as_missing(dump), load, "none")
    return _FieldPlan(f, dump, load, "")


def _null_or(load: Load, inner: Any) -> Load:
    # The generated code passes the field's type (``int | None``); ``load`` takes ``inner``.
    def load_optional(av: Any, _: Any) -> Any:
        return None if av == NULL else load(av, inner)

    return load_optional


def _none_as_null(dump: Dump) -> Dump:
    def dump_nullable(value: Any) -> Any:
        return NULL if value is None else dump(value)

    return dump_nullable


def _none_as_missing(dump: Dump) -> Dump:
    def dump_optional(value: Any) -> Any:
        return None if value is None else dump(value)

    return dump_optional


def _empty_as_missing(dump: Dump) -> Dump:
    def dump_set(value: Any) -> Any:
        return dump(value) if value else None

    return dump_set


def _plans(conv: cattrs.Converter, cls: type) -> list[_FieldPlan]:
    info = cls.__dict__.get("__dynamorm__")
    plans = []
    for f in fields_of(cls):
        try:
            plans.append(_field_plan(conv, cls, f, info))
        except Unsupported as exc:
            raise ModelError(
                f"{cls.__qualname__}.{f.name}: {exc}", model=cls, field=f.name
            ) from None
    return plans


def _make_dump_fields(
    conv: cattrs.Converter, cls: type
) -> tuple[Callable[[Any], dict[str, Any]], Callable[[Any, Exception], Problem]]:
    """(obj -> {stored name: AttributeValue}, the function that explains its failure)."""
    plans = _plans(conv, cls)
    overrides: dict[str, Any] = {
        p.info.name: override(
            rename=p.info.stored_name,
            unstruct_hook=p.dump,
            omit_if_default=p.omit == "default",
            omit=p.omit == "none",
        )
        for p in plans
    }
    generated: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(
        cls, conv, _cattrs_use_linecache=False, **overrides
    )
    # Fields whose None or empty value cannot be compared with a default are added after the
    # generated part, and only when they have something to store.
    late = [(p.info.name, p.info.stored_name, p.dump) for p in plans if p.omit == "none"]
    if late:
        early = generated

        def generated(obj: Any) -> dict[str, Any]:
            item = early(obj)
            for name, stored, dump in late:
                value = dump(getattr(obj, name))
                if value is not None:
                    item[stored] = value
            return item

    def locate(obj: Any, exc: Exception) -> Problem:
        for p in plans:
            value = getattr(obj, p.info.name)
            if value is None and p.omit:
                continue
            try:
                p.dump(value)
            except Exception as inner:
                return as_problem(inner).within(p.info.name)
        return as_problem(exc)

    return generated, locate


def _make_load_fields(
    conv: cattrs.Converter, cls: type
) -> tuple[Callable[[Mapping[str, Any]], Any], Callable[[Mapping[str, Any], Exception], Problem]]:
    """({stored name: AttributeValue} -> instance, the function that explains its failure)."""
    plans = _plans(conv, cls)
    overrides: dict[str, Any] = {
        p.info.name: override(rename=p.info.stored_name, struct_hook=p.load) for p in plans
    }
    generated: Callable[[Any], Any] = make_dict_structure_fn(
        cls, conv, _cattrs_use_linecache=False, **overrides
    )
    # Required optional and set fields may be absent (None and empty sets are not stored).
    fill = {
        p.info.stored_name: NULL
        for p in plans
        if not p.info.has_default
        and (optional_inner(p.info.type) is not None or is_set_type(p.info.type))
    }

    def locate(stored: Mapping[str, Any], exc: Exception) -> Problem:
        for p in plans:
            if p.info.stored_name not in stored:
                if not p.info.has_default:
                    return Problem("the attribute is missing from the stored item").within(
                        p.info.name
                    )
                continue
            try:
                p.load(stored[p.info.stored_name], p.info.type)
            except Exception as inner:
                return as_problem(inner).within(p.info.name)
        return as_problem(exc)

    if fill:
        complete = generated

        def generated(stored: Mapping[str, Any]) -> Any:
            for key in fill:
                if key not in stored:
                    return complete({**fill, **stored})
            return complete(stored)

    return generated, locate


def _guarded(conv: Any, kind: str, cls: type, make: Callable[[], H], lazy: Callable[[], H]) -> H:
    # A class that contains itself (a tree) would recurse forever while generating: the inner
    # reference resolves through cattrs' cache when it is first called instead.
    key = (kind, cls)
    if key in conv._generating:
        return lazy()
    conv._generating.add(key)
    try:
        return make()
    finally:
        conv._generating.discard(key)


def attrs_dump_factory(conv: cattrs.Converter) -> Callable[[type], Dump]:
    """cattrs factory: the dump hook of a nested attrs class (an M attribute)."""

    def factory(cls: type) -> Dump:
        def make() -> Dump:
            dump_fields, locate = _make_dump_fields(conv, cls)

            def dump(obj: Any) -> Any:
                if obj.__class__ is not cls and not isinstance(obj, cls):
                    c.type_error(cls.__qualname__, obj)
                try:
                    return {"M": dump_fields(obj)}
                except Exception as exc:
                    raise locate(obj, exc) from None

            return dump

        return _guarded(
            conv, "dump", cls, make, lambda: lambda obj: conv.get_unstructure_hook(cls)(obj)
        )

    return factory


def attrs_load_factory(conv: cattrs.Converter) -> Callable[[type], Load]:
    """cattrs factory: the load hook of a nested attrs class (an M attribute)."""

    def factory(cls: type) -> Load:
        def make() -> Load:
            load_fields, locate = _make_load_fields(conv, cls)

            def load(av: Any, _: Any) -> Any:
                try:
                    stored = av["M"]
                except (KeyError, TypeError):
                    c.wrong_tag("M (map)", av)
                try:
                    return load_fields(stored)
                except Exception as exc:
                    raise locate(stored, exc) from None

            return load

        return _guarded(
            conv, "load", cls, make, lambda: lambda av, tp: conv.get_structure_hook(cls)(av, tp)
        )

    return factory


@attrs.frozen
class ItemCodec:
    """Whole-item functions for one class: dump (with key checks) and load."""

    dump: Callable[[Any], dict[str, AttributeValue]]
    load: Callable[[Mapping[str, AttributeValue]], Any]


def item_codec(conv: cattrs.Converter, cls: type) -> ItemCodec:
    """Generate the item codec of ``cls``; ``ModelError`` when a field type has no hook.

    The returned functions raise the public errors: ``ValidationError`` on dump and
    ``DeserializationError`` on load.
    """
    dump_fields, locate_dump = _make_dump_fields(conv, cls)
    load_fields, locate_load = _make_load_fields(conv, cls)
    info = cls.__dict__.get("__dynamorm__")
    keys: list[tuple[str, str, str, bool]] = []  # (stored name, tag, field, required)
    if isinstance(info, ModelInfo):
        for index in (None, *info.indexes):
            pair = (
                (info.hash_key, info.range_key)
                if index is None
                else (index.hash_key, index.range_key)
            )
            for k in pair:
                if k is not None and all(k.stored_name != seen[0] for seen in keys):
                    keys.append((k.stored_name, k.attribute_type, k.name, index is None))

    def bad_key(obj: Any, name: str, message: str) -> ValidationError:
        value_type = type(getattr(obj, name))
        return ValidationError(
            f"{cls.__qualname__}.{name}: {message}", model=cls, field=name, value_type=value_type
        )

    def dump(obj: Any) -> dict[str, AttributeValue]:
        try:
            if obj.__class__ is not cls and not isinstance(obj, cls):
                c.type_error(cls.__qualname__, obj)
            try:
                item = dump_fields(obj)
            except Exception as exc:
                raise locate_dump(obj, exc) from None
        except Problem as p:
            raise validation_error(cls, p) from p.__cause__
        for stored, tag, name, required in keys:
            value = item.get(stored)
            if value is None:
                if required:
                    raise bad_key(obj, name, "the key attribute is missing")
            elif value.get(tag) in ("", b"", None):
                raise bad_key(obj, name, f"key attributes must be non-empty {tag} values")
        return item

    def load(item: Mapping[str, AttributeValue]) -> Any:
        try:
            try:
                return load_fields(item)
            except Exception as exc:
                if not isinstance(item, Mapping):
                    raise Problem(
                        f"an item is a mapping of attribute names, got {type(item).__qualname__}"
                    ) from None
                raise locate_load(item, exc) from None
        except Problem as p:
            where = p.where()
            raise DeserializationError(
                f"cannot load {cls.__qualname__}{'.' + where if where else ''} from the stored "
                f"item: {p.message}",
                model=cls,
                field=where or None,
                item=item,
            ) from p.__cause__

    return ItemCodec(dump, load)


def validation_error(cls: type | None, p: Problem) -> ValidationError:
    """The public error for a dump problem, naming the model and the field path."""
    where = p.where()
    owner = cls.__qualname__ if cls is not None else "value"
    return ValidationError(
        f"{owner}{'.' + where if where else ''}: {p.message}",
        model=cls,
        field=where or None,
        value_type=p.value_type,
    )
