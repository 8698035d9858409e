"""Inline forms of the converter's own codecs, for the generated conversion functions.

Each form is exact: where its guard holds, the expression is what the codec returns;
elsewhere the generated code calls the codec. A codec is recognised by identity, so a hook
the user registered is never written inline. The scalar codecs are tables from hook to
template; the shaped hooks (Enum, nested class, list, set) are built from their parts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import codecs as c
from .hooks import shape_of
from .source import Source

__all__ = ["dump_inline", "hook_hint", "load_inline"]

# hook -> (guard, AttributeValue) templates over the value ``{v}`` and a spare local ``{t}``.
_DUMPS: dict[Any, tuple[str, str]] = {
    # Text that is not ASCII goes to the codec, which refuses lone surrogates.
    c.dump_str: ("{v}.__class__ is str and {v}.isascii()", '{{"S": {v}}}'),
    c.dump_int: ("{v}.__class__ is int and N_LOW < {v} < N_HIGH", '{{"N": str({v})}}'),
    c.dump_float: ("{v}.__class__ is float and 1e-130 <= abs({v}) < 1e126", '{{"N": repr({v})}}'),
    # Zero is stored as "0", and long or exponent forms need the digit and range checks.
    c.dump_decimal: (
        "{v}.__class__ is Decimal and {v}.is_finite() and {v} "
        'and len({t} := str({v})) <= 38 and "E" not in {t}',
        '{{"N": {t}}}',
    ),
    c.dump_bool: ("{v}.__class__ is bool", '{{"BOOL": {v}}}'),
    c.dump_bytes: ("{v}.__class__ is bytes", '{{"B": {v}}}'),
    c.dump_datetime: ("{v}.__class__ is datetime and {v}.tzinfo is UTC", '{{"S": utc_text({v})}}'),
    c.dump_date: ("{v}.__class__ is date", '{{"S": {v}.isoformat()}}'),
    c.dump_uuid: ("{v}.__class__ is UUID", '{{"S": str({v})}}'),
}

# hook -> (the declared type it must be called with, or None for any; expression template
# over the AttributeValue ``{av}``, a spare local ``{t}`` and the hook itself, ``{hook}``).
_LOADS: dict[Any, tuple[Any, str]] = {
    c.load_str: (str, '{av}["S"]'),
    c.load_int: (int, 'int({av}["N"])'),
    c.load_float: (None, 'float({av}["N"])'),
    # Decimal() takes numbers too; a stored N that is not text goes to the codec.
    c.load_decimal: (None, 'Decimal({t}) if ({t} := {av}["N"]).__class__ is str else {hook}({av})'),
    c.load_bool: (None, 'bool({av}["BOOL"])'),
    c.load_bytes: (None, 'bytes({av}["B"])'),
    # Text this library wrote parses straight to UTC; the codec handles other spellings.
    c.load_datetime: (
        None,
        '{t} if ({t} := fromisoformat({av}["S"])).tzinfo is UTC else {hook}({av})',
    ),
    c.load_date: (None, 'date.fromisoformat({av}["S"])'),
    c.load_uuid: (None, 'UUID({av}["S"])'),
}


def dump_inline(
    src: Source, hook: Any, v: str, t: str, nested: bool = False
) -> tuple[str, str] | None:
    """(guard, AttributeValue expression) standing for ``hook(v)``; None: call the hook."""
    scalar = _DUMPS.get(hook)
    if scalar is not None:
        guard, av = scalar
        return guard.format(v=v, t=t), av.format(v=v, t=t)
    shape = shape_of(hook)
    if shape is None:
        return None
    if shape.kind == "enum":
        enum_name = src.ref(shape.tp, shape.tp.__name__)
        tag = _enum_tag(shape.tp)
        if tag == "S":
            return f"{v}.__class__ is {enum_name}", f'{{"S": {v}._value_}}'
        if tag == "N":
            return f"{v}.__class__ is {enum_name}", f'{{"N": str({v}._value_)}}'
        return None
    if shape.kind == "model":
        cls_name = src.ref(shape.tp, shape.tp.__name__)
        fields = src.ref(shape.hook, f"dump_fields_{shape.tp.__name__}")
        return f"{v}.__class__ is {cls_name}", f'{{"M": {fields}({v})}}'
    if shape.kind == "list" and not nested:
        item = dump_inline(src, shape.hook, "x", t, nested=True)
        if item is None:
            return None
        item_guard, item_av = item
        fallback = src.ref(shape.hook, hook_hint(shape.hook, "dump_item"))
        return (
            f"{v}.__class__ is list",
            f'{{"L": [{item_av} if {item_guard} else {fallback}(x) for x in {v}]}}',
        )
    return None


def load_inline(
    src: Source, hook: Any, tp: Any, av: str, t: str, nested: bool = False
) -> str | None:
    """An expression that raises or equals ``hook(av, tp)``; None: call the hook."""
    scalar = _LOADS.get(hook)
    if scalar is not None:
        required, template = scalar
        if required is not None and tp is not required:
            return None
        ref = src.ref(hook, hook.__name__) if "{hook}" in template else ""
        return template.format(av=av, t=t, hook=ref)
    shape = shape_of(hook)
    if shape is None:
        return None
    if shape.kind == "enum":
        # A dict lookup is the Enum's own first step; a value it misses (one ``_missing_``
        # accepts, say) raises KeyError and the reference path calls the Enum.
        tag = _enum_tag(shape.tp)
        if tag is None:
            return None
        members = src.ref({m._value_: m for m in shape.tp}, f"{shape.tp.__name__}_by_value")
        return f'{members}[{av}["S"]]' if tag == "S" else f'{members}[int({av}["N"])]'
    if shape.kind == "model":
        fields = src.ref(shape.hook, f"load_fields_{shape.tp.__name__}")
        return f'{fields}({av}["M"])'
    if shape.kind == "list" and not nested:
        item = load_inline(src, shape.hook, shape.tp, "x", t, nested=True)
        return None if item is None else f'[{item} for x in {av}["L"]]'
    if shape.kind == "set":
        # What the set codec itself does for these member types (``hooks._set_load_factory``).
        make = "frozenset" if shape.frozen else "set"
        if shape.tp is str:
            return f'{make}({av}["SS"])'
        if shape.tp is bytes:
            # bytes() refuses base64 text (DynamoDB JSON): the codec decodes it.
            return f'{make}(map(bytes, {av}["BS"]))'
        if shape.tp in (float, Decimal) or (shape.tp is int and shape.hook is c.load_int):
            return f'{make}(map({shape.tp.__name__}, {av}["NS"]))'
    return None


def hook_hint(hook: Any, hint: str) -> str:
    """The global name for ``hook`` in generated code: the converter's own codecs keep their
    names (dump_str, load_int, ...); any other hook is named by ``hint``."""
    name = getattr(hook, "__name__", "")
    return name if getattr(c, name, None) is hook else hint


def _enum_tag(tp: Any) -> str | None:
    """ "S" when every member's value is a str, "N" when an int DynamoDB can hold."""
    values = [m._value_ for m in tp]
    if values and all(v.__class__ is str for v in values):
        return "S"
    if values and all(v.__class__ is int and -c._MAX_INT < v < c._MAX_INT for v in values):
        return "N"
    return None
