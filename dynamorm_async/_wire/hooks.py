"""cattrs hook factories for the generic types: Literal, Enum, unions, lists, maps and sets.

Each factory builds, once per type, a dump hook (value -> AttributeValue) and a load hook
(AttributeValue, type -> value). Scalars live in ``codecs``; attrs classes in ``generate``.
Hooks whose work the generated per-class code can spell out inline (Enums, optionals, lists,
sets) carry a ``Shape`` saying what they do; a hook without one (a user's) is always called.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import attrs
import cattrs

from .._model.types import NoneType, is_set_type, optional_inner, scalar_tag, type_name, union_args
from . import codecs as c
from .codecs import NULL, AttributeValue, Problem, as_problem

_ANY = (Any, object)
_SCALAR_DUMPS = (c.dump_str, c.dump_int, c.dump_float, c.dump_decimal, c.dump_bytes)
_SCALAR_LOADS = (c.load_str, c.load_int, c.load_float, c.load_decimal, c.load_bytes)
_SIMPLE_UNION_MEMBERS = (str, int, float, Decimal, bool, bytes)


class Unsupported(Exception):
    def __init__(self, tp: Any, why: str = "") -> None:
        super().__init__(f"no way to store type {type_name(tp)}{why}")
        self.tp = tp


@attrs.frozen
class Shape:
    """What a hook made by this module does, for ``_wire.generate`` to write it out inline.

    ``kind`` is "enum" (``tp`` is the Enum), "optional" (``tp`` the inner type, ``hook`` its
    hook), "list" (``tp`` the item type, ``hook`` its hook), "set" (``tp`` the member type,
    ``hook`` its hook, ``frozen`` for frozenset) or "model" (``tp`` an attrs class, ``hook`` the
    generated function that converts its fields and may raise where the full hook would
    explain the failure).
    """

    kind: str
    tp: Any
    hook: Any = None
    frozen: bool = False


F = typing.TypeVar("F", bound=Callable[..., Any])


def shaped(hook: F, shape: Shape) -> F:
    """Mark ``hook`` as doing what ``shape`` says."""
    setattr(hook, "dynamorm_shape", shape)  # noqa: B010 - mypy knows no attributes on functions
    return hook


def shape_of(hook: Any) -> Shape | None:
    """The ``Shape`` of a hook made by this module or ``_wire.generate``; None for any other."""
    shape = getattr(hook, "dynamorm_shape", None)
    return shape if isinstance(shape, Shape) else None


def no_dump(tp: Any) -> Callable[[Any], Any]:
    raise Unsupported(tp, "; register an unstructure hook for it")


def no_load(tp: Any) -> Callable[[Any, Any], Any]:
    raise Unsupported(tp, "; register a structure hook for it")


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _is_sequence(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return origin in (list, tuple, Sequence, typing.MutableSequence, typing.List, typing.Tuple)  # noqa: UP006


def _is_mapping(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return origin in (dict, Mapping, typing.MutableMapping, typing.Dict)  # noqa: UP006


def dump_hook(conv: cattrs.Converter, tp: Any) -> Callable[[Any], Any]:
    """``conv.get_unstructure_hook(tp)``, except for an Enum that mixes in a scalar type.

    cattrs' singledispatch runs before the Enum factory, so ``class Status(str, Enum)`` (or an
    IntEnum) would get the plain str (int) codec, which stores any str (int) unchecked.
    """
    hook = conv.get_unstructure_hook(tp)
    if _is_enum(tp) and any(hook is h for h in _SCALAR_DUMPS):
        return _enum_dump_factory(tp)
    return hook


def load_hook(conv: cattrs.Converter, tp: Any) -> Callable[[Any, Any], Any]:
    """``conv.get_structure_hook(tp)``, with the Enum exception of ``dump_hook``."""
    hook = conv.get_structure_hook(tp)
    if _is_enum(tp) and any(hook is h for h in _SCALAR_LOADS):
        return _enum_load_factory(tp)
    return hook


# --- Literal and Enum ---------------------------------------------------------------------


def _literal_allows(allowed: tuple[Any, ...], value: Any) -> bool:
    # True == 1 and False == 0: a bool matches only a bool literal, and the other way round.
    is_bool = value.__class__ is bool
    return any(a == value and (a.__class__ is bool) is is_bool for a in allowed)


def _literal_dump_factory(tp: Any) -> Callable[[Any], AttributeValue]:
    allowed = typing.get_args(tp)

    def dump(value: Any) -> AttributeValue:
        if not _literal_allows(allowed, value):
            raise Problem(f"expected one of {list(allowed)!r}, got {value!r}", type(value))
        return c.dump_any(value)

    return dump


def _literal_load_factory(tp: Any) -> Callable[[AttributeValue, Any], Any]:
    allowed = typing.get_args(tp)

    def load(av: AttributeValue, _: Any) -> Any:
        value = c.load_any(av)
        if not _literal_allows(allowed, value):
            raise Problem(f"stored value {value!r} is not one of {list(allowed)!r}")
        return value

    return load


def _enum_dump_factory(tp: type[enum.Enum]) -> Callable[[Any], AttributeValue]:
    def dump(value: Any) -> AttributeValue:
        if not isinstance(value, tp):
            try:
                value = tp(value)
            except ValueError:
                c.type_error(f"a {tp.__qualname__} member", value)
        return c.dump_any(value.value)

    return shaped(dump, Shape("enum", tp))


def _enum_load_factory(tp: type[enum.Enum]) -> Callable[[AttributeValue, Any], Any]:
    def load(av: AttributeValue, _: Any) -> Any:
        value = c.load_any(av)
        try:
            return tp(value)
        except ValueError:
            raise Problem(f"stored value {value!r} is not a {tp.__qualname__} value") from None

    return shaped(load, Shape("enum", tp))


# --- unions ---------------------------------------------------------------------------------


def _union_parts(tp: Any) -> tuple[Any | None, tuple[type, ...] | None]:
    """(inner type of an Optional, or the members of a simple scalar union)."""
    inner = optional_inner(tp)
    members = union_args(inner) if inner is not None else union_args(tp)
    if members is None:
        return inner, None
    members = tuple(m for m in members if m is not NoneType)
    if not all(m in _SIMPLE_UNION_MEMBERS for m in members):
        raise Unsupported(
            tp, "; unions may hold str, int, float, Decimal, bool, bytes and None only"
        )
    return inner, members


def _union_dump_factory(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any], Any]]:
    def factory(tp: Any) -> Callable[[Any], Any]:
        inner, members = _union_parts(tp)
        if members is not None:
            allowed = members + ((NoneType,) if inner is not None else ())

            def dump_member(value: Any) -> AttributeValue:
                if not isinstance(value, allowed) or (type(value) is bool and bool not in allowed):
                    c.type_error(type_name(tp), value)
                return c.dump_any(value)

            return dump_member
        dump_inner = dump_hook(conv, inner)

        def dump_optional(value: Any) -> Any:
            return NULL if value is None else dump_inner(value)

        return dump_optional

    return factory


def _union_number_load(members: tuple[type, ...]) -> Callable[[AttributeValue], Any]:
    """How a union loads N: as its number type, so Decimal and big ints stay exact."""
    if Decimal in members:
        return c.load_decimal
    if int in members and float not in members:
        return c.load_int
    if float in members and int not in members:
        return c.load_float
    return c.load_any  # int | float (by the stored text), or no number member at all


def _union_load_factory(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        inner, members = _union_parts(tp)
        if members is not None:
            number = _union_number_load(members)
            nullable = inner is not None

            def load_member(av: AttributeValue, _: Any) -> Any:
                value = number(av) if av.__class__ is dict and "N" in av else c.load_any(av)
                if value is None and nullable:
                    return None
                if not isinstance(value, members) or (
                    value.__class__ is bool and bool not in members
                ):
                    raise Problem(f"expected a stored {type_name(tp)}, found {c.tag_of(av)}")
                return value

            return load_member
        load_inner = load_hook(conv, inner)

        def load_optional(av: AttributeValue, _: Any) -> Any:
            return None if av == NULL else load_inner(av, inner)

        return shaped(load_optional, Shape("optional", inner, load_inner))

    return factory


# --- collections --------------------------------------------------------------------------


def _item_type(tp: Any) -> Any:
    args = typing.get_args(tp)
    return args[0] if args else Any


def _seq_dump_factory(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any], Any]]:
    def factory(tp: Any) -> Callable[[Any], Any]:
        args = typing.get_args(tp)
        hetero = (typing.get_origin(tp) or tp) in (tuple, typing.Tuple) and not (  # noqa: UP006
            len(args) == 2 and args[1] is Ellipsis
        )
        if hetero and args:
            hooks = [dump_hook(conv, a) for a in args]

            def dump_tuple(value: Any) -> AttributeValue:
                if not isinstance(value, (tuple, list)) or len(value) != len(hooks):
                    c.type_error(f"a tuple of {len(hooks)}", value)
                pairs = list(zip(hooks, value, strict=True))
                return {"L": c.dump_list_of(pairs, lambda p: p[0](p[1]))}

            return dump_tuple
        dump_item = dump_hook(conv, _item_type(tp))

        def dump_list(value: Any) -> AttributeValue:
            if value.__class__ is not list and (
                isinstance(value, (str, bytes)) or not isinstance(value, Sequence)
            ):
                c.type_error("a list", value)
            return {"L": c.dump_list_of(value, dump_item)}

        return shaped(dump_list, Shape("list", _item_type(tp), dump_item))

    return factory


def _seq_load_factory(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        origin = typing.get_origin(tp) or tp
        args = typing.get_args(tp)
        is_tuple = origin in (tuple, typing.Tuple)  # noqa: UP006
        if is_tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            hooks = [(load_hook(conv, a), a) for a in args]

            def load_tuple(av: AttributeValue, _: Any) -> Any:
                values = _list_of(av)
                if len(values) != len(hooks):
                    raise Problem(f"stored list has {len(values)} items, expected {len(hooks)}")
                return tuple(
                    _load_each(zip(hooks, values, strict=True), lambda p: p[0][0](p[1], p[0][1]))
                )

            return load_tuple
        item_tp = _item_type(tp)
        load_one = load_hook(conv, item_tp)

        def load_list(av: AttributeValue, _: Any) -> Any:
            out = _load_each(_list_of(av), lambda v: load_one(v, item_tp))
            return tuple(out) if is_tuple else out

        return load_list if is_tuple else shaped(load_list, Shape("list", item_tp, load_one))

    return factory


def _list_of(av: AttributeValue) -> list[Any]:
    try:
        return av["L"]  # type: ignore[no-any-return]
    except (KeyError, TypeError):
        c.wrong_tag("L (list)", av)


def _load_each(values: Any, load: Callable[[Any], Any], keys: list[Any] | None = None) -> list[Any]:
    """Load every value; a failure names its index, or its key when ``keys`` are given."""
    values = list(values)
    try:
        return [load(v) for v in values]
    except Exception as exc:
        for i, v in enumerate(values):
            try:
                load(v)
            except Exception as inner:
                step = f"[{i}]" if keys is None else f"[{keys[i]!r}]"
                raise as_problem(inner).within(step) from None
        raise as_problem(exc) from None


def _map_types(tp: Any) -> tuple[Any, Any]:
    args = typing.get_args(tp)
    key_tp, value_tp = args if len(args) == 2 else (str, Any)
    if key_tp not in (str, Any) and not (_is_enum(key_tp) and scalar_tag(key_tp) == "S"):
        raise Unsupported(tp, "; map keys must be str (or a str-valued Enum)")
    return key_tp, value_tp


def _map_dump_factory(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any], Any]]:
    def factory(tp: Any) -> Callable[[Any], Any]:
        _, value_tp = _map_types(tp)
        dump_value = dump_hook(conv, value_tp)

        def dump_map(value: Any) -> AttributeValue:
            if not isinstance(value, Mapping):
                c.type_error("a mapping", value)
            return {"M": c.dump_map_of(value, dump_value)}

        return dump_map

    return factory


def _map_load_factory(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        key_tp, value_tp = _map_types(tp)
        load_value = load_hook(conv, value_tp)
        make_key = key_tp if _is_enum(key_tp) else None

        def load_map(av: AttributeValue, _: Any) -> Any:
            try:
                stored = av["M"]
            except (KeyError, TypeError):
                c.wrong_tag("M (map)", av)
            keys = list(stored)
            values = _load_each(stored.values(), lambda v: load_value(v, value_tp), keys)
            if make_key is not None:
                keys = [make_key(k) for k in keys]
            return dict(zip(keys, values, strict=True))

        return load_map

    return factory


_SET_FAST_LOAD: dict[Any, Callable[[Any], Any]] = {
    str: str,
    int: int,
    float: float,
    Decimal: Decimal,
    bytes: c.as_bytes,
}


def _set_parts(tp: Any) -> tuple[Any, str]:
    member_tp = _item_type(tp)
    tag = scalar_tag(member_tp)
    if tag is None:
        raise Unsupported(tp, "; set members must be str, bytes or numbers")
    return member_tp, tag + "S"


def _set_dump_factory(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any], Any]]:
    def factory(tp: Any) -> Callable[[Any], Any]:
        member_tp, tag = _set_parts(tp)
        dump_member = dump_hook(conv, member_tp)
        fast_class = member_tp if member_tp in (str, bytes) else None

        def dump_set(value: Any) -> AttributeValue:
            if value.__class__ is set or value.__class__ is frozenset:
                if not value:
                    return NULL
                if fast_class is not None:
                    # A real set of str or bytes is already unique: nothing to convert.
                    for member in value:
                        # Text that is not ASCII goes to the codec (lone surrogates).
                        if member.__class__ is not fast_class or (
                            fast_class is str and not member.isascii()
                        ):
                            break
                    else:
                        return {tag: list(value)}
            elif not value and isinstance(value, (list, tuple)):
                return NULL
            return c.dump_set(value, tag, dump_member)

        return shaped(dump_set, Shape("set", member_tp, dump_member))

    return factory


def _set_load_factory(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        member_tp, tag = _set_parts(tp)
        frozen = (typing.get_origin(tp) or tp) is frozenset
        fast = _SET_FAST_LOAD.get(member_tp)
        load_member = load_hook(conv, member_tp)
        inner = tag[0]

        def load_set(av: AttributeValue, _: Any) -> Any:
            members = av.get(tag) if av.__class__ is dict else None
            if members is None:
                members = c.load_set_members(av, tag)
            if member_tp is str:
                out = set(members)
            elif member_tp is bytes:
                out = set(map(c.as_bytes, members))  # base64 text from DynamoDB JSON too
            elif fast is not None and member_tp is not int:
                out = set(map(fast, members))
            else:
                out = set(_load_each(members, lambda m: load_member({inner: m}, member_tp)))
            return frozenset(out) if frozen else out

        return shaped(load_set, Shape("set", member_tp, load_member, frozen))

    return factory


def install(conv: cattrs.Converter) -> None:
    """Register the generic factories; later registrations take precedence in cattrs."""
    pairs: list[tuple[Callable[[Any], bool], Any, Any]] = [
        (lambda t: t in _ANY, lambda _: c.dump_any, lambda _: c.load_any),
        (_is_sequence, _seq_dump_factory(conv), _seq_load_factory(conv)),
        (_is_mapping, _map_dump_factory(conv), _map_load_factory(conv)),
        (is_set_type, _set_dump_factory(conv), _set_load_factory(conv)),
        (lambda t: union_args(t) is not None, _union_dump_factory(conv), _union_load_factory(conv)),
        (_is_enum, _enum_dump_factory, _enum_load_factory),
        (lambda t: typing.get_origin(t) is Literal, _literal_dump_factory, _literal_load_factory),
    ]
    for predicate, dump_factory, load_factory in pairs:
        conv.register_unstructure_hook_factory(predicate, dump_factory)
        conv.register_structure_hook_factory(predicate, load_factory)
