"""Per-class conversion functions for attrs classes, generated as Python source once per class.

For each class the converter writes a dump function (instance -> {stored name: AttributeValue})
and a load function (item -> instance) that spell out the DynamoDB rules field by field: stored
names, left-out None values and empty sets, TTL as epoch seconds, defaults for absent
attributes and the key checks. Where a field's hook is one of the converter's own codecs (str,
int, float, Decimal, bool, bytes, datetime, date, UUID, an Enum, a nested class, a list of
those, a set), its common case is written inline behind an exact class check, so a typical
field costs no function call; any other value goes to the hook. A hook the user registered is
never written inline: only the converter's own hooks, recognised by identity, are.

The generated functions are the fast path. When one raises, the reference path runs: a loop
over the fields that calls every hook, and either returns the same result (for a stored form
the fast path does not spell out, such as ``1E+2`` for an int) or raises a ``Problem`` naming
the field, and the element inside it, that is to blame.

The source builder is ``source.py`` and the inline forms of the codecs are ``inline.py``;
``ItemCodec.source`` holds a class's generated text.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs
import cattrs

from .._errors import DeserializationError, ModelError, ValidationError
from .._model.models import FieldInfo, ModelInfo, fields_of
from .._model.types import is_set_type, optional_inner
from . import codecs as c
from .codecs import NULL, AttributeValue, Problem, as_problem
from .hooks import Shape, Unsupported, dump_hook, load_hook, shape_of, shaped
from .inline import dump_inline, hook_hint, load_inline
from .source import EMPTY_SET, Source, read

__all__ = ["ItemCodec", "attrs_dump_factory", "attrs_load_factory", "item_codec"]

Dump = Callable[[Any], Any]
Load = Callable[[Any, Any], Any]
H = TypeVar("H")
_EMPTY_FACTORIES = (set, frozenset)


# --- what each field needs ---------------------------------------------------------------


@attrs.frozen
class _FieldPlan:
    """One field's hooks and storage rules; the reference path follows it literally."""

    info: FieldInfo
    alias: str  # the ``__init__`` argument
    kw_only: bool
    dump: Dump  # for a value that is stored; None values never reach it unless ``when`` allows
    load: Load  # called with the field's type, as cattrs does
    when: str  # stored "always", when "not_none", "not_empty" (!= an empty set), or "truthy"
    null: bool  # None is stored as NULL
    drop_none: bool  # a hook that returns None leaves the attribute out
    optional: bool  # ``X | None``: absent without a default loads as None
    set_type: bool  # a set: absent without a default loads as an empty set


def _field_plan(conv: cattrs.Converter, f: FieldInfo, a: Any, info: ModelInfo | None) -> _FieldPlan:
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
    set_type = inner is None and is_set_type(base)

    def plan(when: str, null: bool = False, drop_none: bool = False) -> _FieldPlan:
        return _FieldPlan(
            f, a.alias, a.kw_only, dump, load, when, null, drop_none, inner is not None, set_type
        )

    default = f.default
    if inner is not None and (f.store_none or (f.has_default and default is not None)):
        # With a default other than None, a left-out None would load as that default: store
        # NULL so that None round-trips.
        return plan("always", null=True)
    if inner is not None:
        return plan("not_none", drop_none=not f.has_default)
    if set_type:
        factory = _factory(default)
        if factory is not None and factory.factory in _EMPTY_FACTORIES:
            return plan("not_empty")
        return plan("truthy", drop_none=True)
    return plan("always")


def _null_or(load: Load, inner: Any) -> Load:
    # Called with the field's type (``int | None``); ``load`` takes ``inner``.
    def load_optional(av: Any, _: Any) -> Any:
        return None if av == NULL else load(av, inner)

    return load_optional


def _plans(conv: cattrs.Converter, cls: type) -> list[_FieldPlan]:
    info = cls.__dict__.get("__dynamorm__")
    by_name = {a.name: a for a in attrs.fields(cls)}
    plans = []
    for f in fields_of(cls):
        try:
            plans.append(_field_plan(conv, f, by_name[f.name], info))
        except Unsupported as exc:
            raise ModelError(
                f"{cls.__qualname__}.{f.name}: {exc}", model=cls, field=f.name
            ) from None
    return plans


# --- dump ------------------------------------------------------------------------------------


def _dump_value(src: Source, p: _FieldPlan, v: str) -> str:
    """The expression for the AttributeValue of a present value ``v``."""
    name = p.info.name
    inline = dump_inline(src, p.dump, v, f"t_{name}")
    hook = src.ref(p.dump, hook_hint(p.dump, f"dump_{name}"))
    if inline is None:
        return f"{hook}({v})"
    guard, av = inline
    return f"{av} if {guard} else {hook}({v})"


def _dump_body(src: Source, plans: list[_FieldPlan], depth: int) -> None:
    """Statements that read ``obj``'s fields and leave the item in ``item``."""
    for p in plans:
        src.add(f"v_{p.info.name} = {read('obj', p.info.name)}", depth)
    always = [p for p in plans if p.when == "always"]
    src.add("item = {", depth)
    for p in always:
        v = f"v_{p.info.name}"
        value = _dump_value(src, p, v)
        if p.null:
            value = f"NULL if {v} is None else " + (f"({value})" if " if " in value else value)
        src.add(f"{_text(p.info.stored_name)}: {value},", depth + 1)
    src.add("}", depth)
    for p in plans:
        if p.when == "always":
            continue
        v = f"v_{p.info.name}"
        condition = {
            "not_none": f"{v} is not None",
            "not_empty": f"{v} != EMPTY_SET",  # what cattrs' omit_if_default compares with
            "truthy": v,
        }[p.when]
        src.add(f"if {condition}:", depth)
        value = _dump_value(src, p, v)
        if p.drop_none and dump_inline(src, p.dump, v, f"t_{p.info.name}") is None:
            src.add(f"a_{p.info.name} = {value}", depth + 1)
            src.add(f"if a_{p.info.name} is not None:", depth + 1)
            src.add(f"item[{_text(p.info.stored_name)}] = a_{p.info.name}", depth + 2)
        else:
            src.add(f"item[{_text(p.info.stored_name)}] = {value}", depth + 1)


def _dump_slowly(cls: type, plans: list[_FieldPlan]) -> Callable[[Any], dict[str, Any]]:
    """The reference dump: every hook called, a failure named by its field."""

    def dump_fields(obj: Any) -> dict[str, Any]:
        item: dict[str, Any] = {}
        for p in plans:
            value = getattr(obj, p.info.name)
            if value is None and (p.null or p.optional):
                if p.null:
                    item[p.info.stored_name] = NULL
                continue
            if (p.when == "not_empty" and value == EMPTY_SET) or (p.when == "truthy" and not value):
                continue
            try:
                av = p.dump(value)
            except Exception as exc:
                problem = as_problem(exc).within(p.info.name)
                raise problem from problem.__cause__
            if av is not None or not p.drop_none:
                item[p.info.stored_name] = av
        return item

    return dump_fields


def _make_dump_fields(conv: cattrs.Converter, cls: type) -> tuple[Dump, Dump, str]:
    """(generated obj -> fields, reference obj -> fields, the generated source)."""
    plans = _plans(conv, cls)
    src = Source()
    name = src.reserve(f"dump_fields_{cls.__name__}")
    src.add(f"def {name}(obj):")
    _dump_body(src, plans, 1)
    src.add("return item", 1)
    namespace, text = src.compile("dump", cls)
    return namespace[name], _dump_slowly(cls, plans), text


def _text(value: str) -> str:
    """A string literal, in double quotes when that needs no escapes (like the rest)."""
    text = repr(value)
    return f'"{text[1:-1]}"' if text[0] == "'" and '"' not in value else text


# --- load -------------------------------------------------------------------------------------


def _load_field(src: Source, p: _FieldPlan, depth: int) -> None:
    """Statements that leave the field's value in ``v_<name>`` (or in ``kw`` when absent
    values must be left to the class's own default)."""
    f = p.info
    v, a, t = f"v_{f.name}", f"a_{f.name}", f"t_{f.name}"
    key = _text(f.stored_name)
    shape = shape_of(p.load)
    hook = src.ref(p.load, hook_hint(p.load, f"load_{f.name}"))
    field_type = src.ref(f.type, f"type_{f.name}")

    def present(av: str) -> str:
        if shape is not None and shape.kind == "optional":
            inner = load_inline(src, shape.hook, shape.tp, av, t)
            if inner is not None:
                return f"None if {av} == NULL else {inner}"
        inline = load_inline(src, p.load, f.type, av, t)
        return inline if inline is not None else f"{hook}({av}, {field_type})"

    if not f.has_default and not p.optional and not p.set_type:
        src.add(f"{v} = {present(f'm[{key}]')}", depth)
        return
    default = f.default
    factory = _factory(default)
    if factory is not None and factory.takes_self:
        src.add(f"{a} = m.get({key}, ABSENT)", depth)
        src.add(f"if {a} is not ABSENT:", depth)
        src.add(f"kw[{_text(p.alias)}] = {present(a)}", depth + 1)
        return
    if factory is not None:
        absent = f"{src.ref(factory.factory, f'factory_{f.name}')}()"
    elif f.has_default:
        absent = "None" if default is None else src.ref(default, f"default_{f.name}")
    elif shape is not None and shape.kind == "optional":
        absent = "None"
    elif shape is not None and shape.kind == "set":
        absent = "frozenset()" if shape.frozen else "set()"
    else:
        absent = f"{hook}(NULL, {field_type})"  # what an absent optional or set loads as
    if absent == "None" and shape is not None and shape.kind == "optional":
        src.add(f"{a} = m.get({key}, NULL)", depth)
        src.add(f"{v} = {present(a)}", depth)
        return
    value = present(a)
    if " if " in value:
        value = f"({value})"
    src.add(f"{a} = m.get({key}, ABSENT)", depth)
    src.add(f"{v} = {absent} if {a} is ABSENT else {value}", depth)


def _load_body(src: Source, cls: type, plans: list[_FieldPlan], depth: int) -> None:
    """Statements that read the item ``m`` and return the instance."""
    if any(_omitted_when_absent(p) for p in plans):
        src.add("kw = {}", depth)
    for p in plans:
        _load_field(src, p, depth)
    positional: list[str] = []
    named: list[str] = []
    by_name = False  # once an argument may be left out, the later ones are passed by name
    for p in plans:
        if _omitted_when_absent(p):
            by_name = True
            continue
        v = f"v_{p.info.name}"
        if p.kw_only or by_name:
            named.append(
                f"**{{{_text(p.alias)}: {v}}}" if keyword.iskeyword(p.alias) else f"{p.alias}={v}"
            )
        else:
            positional.append(v)
    if any(_omitted_when_absent(p) for p in plans):
        named.append("**kw")
    args = positional + named
    src.add(f"return {src.ref(cls, cls.__name__)}(", depth)
    for arg in args:
        src.add(f"{arg},", depth + 1)
    src.add(")", depth)


def _omitted_when_absent(p: _FieldPlan) -> bool:
    factory = _factory(p.info.default)
    return factory is not None and bool(factory.takes_self)


def _factory(default: Any) -> Any:
    """The ``attrs.Factory`` a field defaults to, or None."""
    return default if isinstance(default, attrs.Factory) else None  # type: ignore[arg-type]


def _load_slowly(cls: type, plans: list[_FieldPlan], what: str) -> Callable[[Any], Any]:
    """The reference load: every hook called, a failure named by its field."""

    def load_fields(stored: Any) -> Any:
        if not isinstance(stored, Mapping):
            raise Problem(
                f"{what} is a mapping of attribute names, got {type(stored).__qualname__}"
            )
        args: dict[str, Any] = {}
        for p in plans:
            f = p.info
            if f.stored_name in stored:
                av = stored[f.stored_name]
            elif f.has_default:
                continue
            elif p.optional or p.set_type:
                av = NULL  # None and empty sets are not stored
            else:
                raise Problem("the attribute is missing from the stored item").within(f.name)
            try:
                args[p.alias] = p.load(av, f.type)
            except Exception as exc:
                problem = as_problem(exc).within(f.name)
                raise problem from problem.__cause__
        try:
            return cls(**args)
        except Exception as exc:
            problem = as_problem(exc)
            raise problem from problem.__cause__

    return load_fields


def _make_load_fields(
    conv: cattrs.Converter, cls: type, what: str
) -> tuple[Callable[[Any], Any], Callable[[Any], Any], str]:
    """(generated fields -> instance, reference fields -> instance, the generated source)."""
    plans = _plans(conv, cls)
    src = Source()
    name = src.reserve(f"load_fields_{cls.__name__}")
    src.add(f"def {name}(m):")
    _load_body(src, cls, plans, 1)
    namespace, text = src.compile("load", cls)
    return namespace[name], _load_slowly(cls, plans, what), text


# --- hooks for nested classes and item codecs ---------------------------------------------------


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
            fast, slow, _ = _make_dump_fields(conv, cls)

            def dump(obj: Any) -> Any:
                if obj.__class__ is not cls and not isinstance(obj, cls):
                    c.type_error(cls.__qualname__, obj)
                try:
                    return {"M": fast(obj)}
                except Exception:
                    pass
                return {"M": slow(obj)}  # the same map, or the field to blame

            return shaped(dump, Shape("model", cls, fast))

        return _guarded(
            conv, "dump", cls, make, lambda: lambda obj: conv.get_unstructure_hook(cls)(obj)
        )

    return factory


def attrs_load_factory(conv: cattrs.Converter) -> Callable[[type], Load]:
    """cattrs factory: the load hook of a nested attrs class (an M attribute)."""

    def factory(cls: type) -> Load:
        def make() -> Load:
            fast, slow, _ = _make_load_fields(conv, cls, "a stored map")

            def load(av: Any, _: Any) -> Any:
                try:
                    stored = av["M"]
                except (KeyError, TypeError):
                    c.wrong_tag("M (map)", av)
                try:
                    return fast(stored)
                except Exception:
                    pass
                return slow(stored)  # the same instance, or the field to blame

            return shaped(load, Shape("model", cls, fast))

        return _guarded(
            conv, "load", cls, make, lambda: lambda av, tp: conv.get_structure_hook(cls)(av, tp)
        )

    return factory


@attrs.frozen
class ItemCodec:
    """Whole-item functions for one class: dump (with key checks) and load, and the source
    generated for them."""

    dump: Callable[[Any], dict[str, AttributeValue]]
    load: Callable[[Mapping[str, AttributeValue]], Any]
    source: str


def item_codec(conv: cattrs.Converter, cls: type) -> ItemCodec:
    """Generate the item codec of ``cls``; ``ModelError`` when a field type has no hook.

    The returned functions raise the public errors: ``ValidationError`` on dump and
    ``DeserializationError`` on load.
    """
    plans = _plans(conv, cls)
    keys = _keys(cls)
    check_keys = _key_checker(cls, keys)
    dump_slowly = _dump_slowly(cls, plans)
    load_slowly = _load_slowly(cls, plans, "an item")

    def dump_failed(obj: Any) -> dict[str, AttributeValue]:
        try:
            item = dump_slowly(obj)
        except Problem as p:
            raise validation_error(cls, p) from p.__cause__
        check_keys(obj, item)
        return item

    def load_failed(item: Mapping[str, AttributeValue]) -> Any:
        try:
            return load_slowly(item)
        except Problem as p:
            where = p.where()
            raise DeserializationError(
                f"cannot load {cls.__qualname__}{'.' + where if where else ''} from the stored "
                f"item: {p.message}",
                model=cls,
                field=where or None,
                item=item,
            ) from p.__cause__

    src = Source()
    src.ref(check_keys, "check_keys")
    src.ref(dump_failed, "dump_failed")
    src.ref(load_failed, "load_failed")
    dump_name, load_name = src.reserve(f"dump_{cls.__name__}"), src.reserve(f"load_{cls.__name__}")
    src.add(f"def {dump_name}(obj):")
    src.add("try:", 1)
    _dump_body(src, plans, 2)
    src.add("except Exception:", 1)
    src.add("pass", 2)
    src.add("else:", 1)
    guard = _keys_guard(src, plans, keys)
    if guard is None:
        src.add("check_keys(obj, item)", 2)
    elif guard != "True":
        src.add(f"if not ({guard}):", 2)
        src.add("check_keys(obj, item)", 3)
    src.add("return item", 2)
    src.add("# The reference path: the same item, or an error naming the field.", 1)
    src.add("return dump_failed(obj)", 1)
    src.add("")
    src.add("")
    src.add(f"def {load_name}(m):")
    src.add("try:", 1)
    _load_body(src, cls, plans, 2)
    src.add("except Exception:", 1)
    src.add("pass", 2)
    src.add("# The reference path: the same instance, or an error naming the field.", 1)
    src.add("return load_failed(m)", 1)
    namespace, text = src.compile("item codec", cls)
    return ItemCodec(namespace[dump_name], namespace[load_name], text)


def _keys(cls: type) -> list[tuple[str, str, str, bool]]:
    """(stored name, tag, field, required) of every table and index key, each once."""
    info = cls.__dict__.get("__dynamorm__")
    keys: list[tuple[str, str, str, bool]] = []
    # An entity's keys are made from templates (checked as they are made), not fields.
    if isinstance(info, ModelInfo) and info.entity is None:
        for index in (None, *info.indexes):
            pair = (
                (info.hash_key, info.range_key)
                if index is None
                else (index.hash_key, index.range_key)
            )
            for k in pair:
                if k is not None and all(k.stored_name != seen[0] for seen in keys):
                    keys.append((k.stored_name, k.attribute_type, k.name, index is None))
    return keys


def _key_checker(cls: type, keys: list[tuple[str, str, str, bool]]) -> Callable[[Any, Any], None]:
    def bad_key(obj: Any, name: str, message: str) -> ValidationError:
        value_type = type(getattr(obj, name))
        return ValidationError(
            f"{cls.__qualname__}.{name}: {message}", model=cls, field=name, value_type=value_type
        )

    def check_keys(obj: Any, item: dict[str, AttributeValue]) -> None:
        for stored, tag, name, required in keys:
            value = item.get(stored)
            if value is None:
                if required:
                    raise bad_key(obj, name, "the key attribute is missing")
            elif value.get(tag) in ("", b"", None):
                raise bad_key(obj, name, f"key attributes must be non-empty {tag} values")

    return check_keys


# The converter's codecs that store keys, with the tag they store and whether an empty Python
# value (``""``, ``b""``) stores an empty one.
_KEY_CODECS: dict[Any, tuple[str, bool]] = {
    c.dump_str: ("S", True),
    c.dump_bytes: ("B", True),
    c.dump_int: ("N", False),
    c.dump_float: ("N", False),
    c.dump_decimal: ("N", False),
    c.dump_datetime: ("S", False),
    c.dump_date: ("S", False),
    c.dump_uuid: ("S", False),
}


def _keys_guard(
    src: Source, plans: list[_FieldPlan], keys: list[tuple[str, str, str, bool]]
) -> str | None:
    """A condition under which every key is stored and non-empty, so that the key check can
    be skipped; None when there is none (the check always runs)."""
    by_name = {p.info.name: p for p in plans}
    parts: list[str] = []
    for _, tag, name, _ in keys:
        p = by_name[name]
        codec = _KEY_CODECS.get(p.dump)
        inline = dump_inline(src, p.dump, f"v_{name}", f"t_{name}")
        if codec is None or inline is None or codec[0] != tag or p.null:
            return None
        part = inline[0] + (f" and v_{name}" if codec[1] else "")
        if p.optional:  # a sparse index key, left out when None
            part = f"(v_{name} is None or ({part}))"
        parts.append(part)
    return " and ".join(parts) if parts else "True"


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
