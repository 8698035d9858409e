"""Key templates: ``"ORDER#{placed_at}#{seq:08d}"`` over an entity's fields.

A template is literal text and slots, each slot one field formatted so that text order is
value order where that can be: datetimes in the library's fixed-width UTC form, dates as
ISO text, UUIDs as their canonical text, ints zero-padded to the given width (``{n:08d}``),
str as it is, Enums by their value. Every value that would break a key is refused before
any request: an empty str, a str holding the first character of the separator that follows
its slot, a negative number or one wider than its width in a padded slot.

Range conditions on a template's fields compile to one key condition that holds every
matching item (``range_bounds``), plus, where text order alone cannot be exact, a filter on
the field itself (stored as an ordinary attribute too), so the result is always exactly
the items asked for.
"""

from __future__ import annotations

import enum
import re
import string
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import attrs

from .._errors import ModelError, ValidationError
from .._expr.conditions import BeginsWith, Between, Compare, Condition, Path, attr
from .._model.models import FieldInfo
from .._model.types import optional_inner
from .._wire import codecs

__all__ = ["Key", "KeyRange", "Slot", "Template", "successor"]

_INT_SPEC = re.compile(r"0(\d+)d|d|")
_MAX_CHAR = 0x10FFFF


@attrs.frozen
class Key:
    """The key templates of an entity: its table's hash key, and its range key (for a table
    that has one). Each is a template over the entity's fields, or constant text::

        Key("USER#{user_id}", "ORDER#{placed_at}#{order_id}")
        Key("USER#{user_id}", "PROFILE")
    """

    hash: str
    range: str | None = None


@attrs.frozen
class Slot:
    """One ``{field:spec}`` of a template."""

    field: str  # the Python field name
    kind: str  # "str", "int", "datetime", "date", "uuid", "enum"
    width: int | None  # ints: the zero-padded width
    separator: str  # the first character of the literal text that follows ("" at the end)
    enum: type | None = None  # an Enum slot's class

    @property
    def ordered(self) -> bool:
        """Whether text order of the formatted values is value order with one width for
        all values (so comparisons on a following slot stay exact)."""
        return self.kind in ("datetime", "date", "uuid") or (
            self.kind == "int" and self.width is not None
        )


class Template:
    """A parsed key template of an entity class."""

    def __init__(self, text: str, cls: type, fields: Mapping[str, FieldInfo], role: str) -> None:
        self.text = text
        self.cls = cls
        self.role = role
        parts: list[str | Slot] = []
        name = cls.__qualname__

        def fail(message: str) -> ModelError:
            return ModelError(f"{name}: {role} template {text!r}: {message}", model=cls)

        if not isinstance(text, str) or not text:
            raise ModelError(f"{name}: {role} takes a template string, got {text!r}", model=cls)
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise fail(str(exc)) from None
        pending: tuple[str, str, str] | None = None  # (field, spec, kind) awaiting its separator
        for literal, field_name, spec, conversion in parsed:
            if pending is not None:
                if not literal:
                    raise fail(
                        "two fields follow each other without text between them, so their "
                        "values could not be told apart; put a separator such as '#' between"
                    )
                parts.append(_slot(pending, literal[0], fields))
                pending = None
            if literal:
                parts.append(literal)
            if field_name is None:
                continue
            if conversion is not None:
                raise fail(f"{{{field_name}!{conversion}}}: conversions are not supported")
            f = fields.get(field_name)
            if f is None:
                raise fail(f"{field_name!r} is not a field of the class")
            kind = _kind(f.type, role.startswith("index"))
            if kind is None:
                raise fail(
                    f"field {field_name!r} has type {f.type!r}; key templates take str, int, "
                    "datetime, date, UUID or an Enum of str or int (required, not optional, "
                    "except in an index's template)"
                )
            if not _INT_SPEC.fullmatch(spec or "") or (spec and kind not in ("int", "enum")):
                raise fail(
                    f"{{{field_name}:{spec}}}: the only format spec is a zero-padded width for "
                    "an int, like {seq:08d}"
                )
            pending = (field_name, spec or "", kind)
        if pending is not None:
            parts.append(_slot(pending, "", fields))
        self.parts: tuple[str | Slot, ...] = tuple(parts)
        self.slots = tuple(p for p in parts if isinstance(p, Slot))
        self.fields = tuple(s.field for s in self.slots)
        self.optional = {
            s.field for s in self.slots if optional_inner(fields[s.field].type) is not None
        }

    def __repr__(self) -> str:
        return f"Template({self.text!r})"

    # -- formatting ----------------------------------------------------------------------

    def format_value(self, slot: Slot, value: Any) -> str:
        """One slot's value as key text; ``ValidationError`` for a value that would break
        the key."""
        where = f"{self.cls.__qualname__}.{slot.field} in {self.text!r}"
        if slot.enum is not None and not isinstance(value, enum.Enum):
            try:  # a raw value: only one of the Enum's members' values
                value = slot.enum(value)
            except (ValueError, TypeError):
                raise ValidationError(
                    f"{where}: {value!r:.60} is not a value of {slot.enum.__qualname__}",
                    model=self.cls,
                    field=slot.field,
                    value_type=type(value),
                ) from None
        if isinstance(value, enum.Enum) and slot.kind == "enum":
            value = value.value
        if isinstance(value, bool):
            raise ValidationError(
                f"{where}: a key part cannot be a bool", model=self.cls, field=slot.field
            )
        if isinstance(value, str) and slot.kind in ("str", "enum"):
            if not value:
                raise ValidationError(
                    f"{where}: a key part cannot be empty", model=self.cls, field=slot.field
                )
            return self._separated(slot, value, where)
        if isinstance(value, int) and slot.kind in ("int", "enum"):
            if slot.width is None:  # variable width, like a str: must not hold the separator
                return self._separated(slot, str(value), where)
            text = str(value)
            if value < 0 or len(text) > slot.width:
                raise ValidationError(
                    f"{where}: {value} does not fit {slot.width} digits (a padded key part "
                    "takes whole numbers from 0 to 10**width - 1, so that text order is "
                    "number order)",
                    model=self.cls,
                    field=slot.field,
                )
            return text.rjust(slot.width, "0")
        if isinstance(value, datetime) and slot.kind == "datetime":
            try:
                stamp: str = codecs.dump_datetime(value)["S"]
                return stamp
            except codecs.Problem as p:
                raise ValidationError(
                    f"{where}: {p.message}", model=self.cls, field=slot.field
                ) from None
            except (OverflowError, ValueError):  # its UTC time is outside datetime's range
                raise ValidationError(
                    f"{where}: {value!r} is outside the range of UTC datetimes",
                    model=self.cls,
                    field=slot.field,
                ) from None
        if isinstance(value, date) and not isinstance(value, datetime) and slot.kind == "date":
            return value.isoformat()
        if isinstance(value, uuid.UUID) and slot.kind == "uuid":
            return str(value)
        raise ValidationError(
            f"{where}: expected a {slot.kind} value, got {type(value).__qualname__}",
            model=self.cls,
            field=slot.field,
            value_type=type(value),
        )

    def _separated(self, slot: Slot, text: str, where: str) -> str:
        """A variable-width part: it must not hold the separator that follows it, or two
        keys could be the same text."""
        if slot.separator and slot.separator in text:
            raise ValidationError(
                f"{where}: {text!r:.60} holds {slot.separator!r}, the separator that follows "
                "it in the key, so the key could not be told apart from others",
                model=self.cls,
                field=slot.field,
            )
        return text

    def render(self, values: Mapping[str, Any]) -> str | None:
        """The whole key text; None when an optional (index) field is None, so the item
        stays out of that index."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = values.get(part.field)
            if value is None:
                if part.field in self.optional:
                    return None
                raise ValidationError(
                    f"{self.cls.__qualname__}: {part.field!r} is needed for the key {self.text!r}",
                    model=self.cls,
                    field=part.field,
                )
            out.append(self.format_value(part, value))
        return "".join(out)

    def prefix(self, values: Mapping[str, Any]) -> tuple[str, int]:
        """The key text up to the first field ``values`` does not give, and how many fields
        it fixed (the leading ones; a later field given without the ones before it is a
        ``ValidationError``)."""
        out = []
        fixed = 0
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part.field not in values:
                break
            out.append(self.format_value(part, values[part.field]))
            fixed += 1
        later = [f for f in self.fields[fixed:] if f in values]
        if later:
            raise ValidationError(
                f"{self.cls.__qualname__}: {later[0]!r} comes after "
                f"{self.fields[fixed]!r} in {self.text!r}: give the fields from the start of "
                "the key",
                model=self.cls,
                field=later[0],
            )
        return "".join(out), fixed

    def range_bounds(self, fixed: Mapping[str, Any], condition: Condition | None) -> KeyRange:
        """The key condition for the items whose leading fields are ``fixed`` and which meet
        ``condition`` (on the next field), and a filter that makes it exact where needed."""
        prefix, count = self.prefix(fixed)
        if condition is None:
            if count == len(self.slots):
                return KeyRange("eq", prefix)
            return KeyRange("begins", prefix) if prefix else KeyRange(None)
        field_name, op, operands = _parse(condition, self)
        if count == len(self.slots):
            raise ValidationError(
                f"{self.cls.__qualname__}: every field of {self.text!r} is given already; "
                "range= has nothing left to select",
                model=self.cls,
            )
        slot = self.slots[count]
        if field_name != slot.field:
            raise ValidationError(
                f"{self.cls.__qualname__}: range= takes a condition on {slot.field!r}, the "
                f"next field of {self.text!r} after those given; got one on {field_name!r}",
                model=self.cls,
                field=field_name,
            )
        last = slot is self.slots[-1] and self.parts[-1] is slot
        texts = [self.format_value(slot, v) for v in operands]
        if op == "between" and _order(slot, operands[0], texts[0]) > _order(
            slot, operands[1], texts[1]
        ):
            raise ValidationError(
                f"{self.cls.__qualname__}: {slot.field} between({operands[0]!r}, "
                f"{operands[1]!r}) has its low end above its high end",
                model=self.cls,
                field=slot.field,
            )
        exact: Condition = condition  # on the field's own attribute
        if op == "==":
            head = prefix + texts[0]
            return KeyRange("eq", head) if last else KeyRange("begins", head + slot.separator)
        if op == "begins_with":
            if slot.kind != "str":
                raise ValidationError(
                    f"{self.cls.__qualname__}: begins_with takes a str field, and "
                    f"{slot.field!r} is a {slot.kind}",
                    model=self.cls,
                    field=slot.field,
                )
            return KeyRange("begins", prefix + texts[0], attr(slot.field).begins_with(operands[0]))
        if not (slot.ordered or (slot.kind == "str" and last)):
            if slot.kind == "str":  # text order, but a shorter value is followed by more key
                return KeyRange("begins", prefix, exact) if prefix else KeyRange(None, None, exact)
            raise ValidationError(
                f"{self.cls.__qualname__}: {slot.field!r} is formatted so that text order is "
                f"not value order in {self.text!r}, so {op} cannot select it exactly; give "
                "the int a width ({" + slot.field + ":08d})",
                model=self.cls,
                field=slot.field,
            )
        # Every item in scope starts with the prefix: between it and its successor.
        low: str | None = prefix or None
        high = successor(prefix)
        head = prefix + texts[0]
        if op == "<":
            high = head  # holds a value equal to the bound only when last: the filter drops it
        elif op == "<=":
            high = head if last else successor(head)
        elif op in (">", ">="):
            low = head
        else:  # between, both ends included
            low = head
            high = prefix + texts[1] if last else successor(prefix + texts[1])
        return KeyRange("between", low, exact, high)


@attrs.frozen
class KeyRange:
    """A sort-key condition: ``kind`` "eq" or "begins" (on ``low``), "between" (``low`` to
    ``high``, either None for an open end), or None (no condition); ``exact`` a condition on
    the field's own attribute that removes what the key range holds beyond the request."""

    kind: str | None
    low: str | None = None
    exact: Condition | None = None
    high: str | None = None


def _order(slot: Slot, value: Any, text: str) -> Any:
    """What orders a bound: the text for ordered and str slots, else the value itself."""
    if slot.ordered or slot.kind == "str":
        return text
    return value.value if isinstance(value, enum.Enum) else value


def successor(text: str) -> str | None:
    """The smallest string above every string that starts with ``text`` (None when there is
    none): its last character one code point up (surrogates skipped)."""
    while text:
        last = ord(text[-1])
        if last < _MAX_CHAR:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:
                nxt = 0xE000
            return text[:-1] + chr(nxt)
        text = text[:-1]
    return None


_OPS = {"==", "<", "<=", ">", ">="}


def _parse(condition: Condition, template: Template) -> tuple[str, str, list[Any]]:
    """(field, operator, operands) of a range condition; ``ValidationError`` otherwise."""
    allowed = (
        f"range= takes one condition on a field of {template.text!r}: ==, <, <=, >, >=, "
        ".between() or .begins_with()"
    )
    if isinstance(condition, Compare) and condition.op in _OPS:
        path, op, operands = condition.left, condition.op, [condition.right]
    elif isinstance(condition, Between):
        path, op, operands = condition.path, "between", [condition.low, condition.high]
    elif isinstance(condition, BeginsWith):
        path, op, operands = condition.path, "begins_with", [condition.prefix]
    else:
        raise ValidationError(
            f"{template.cls.__qualname__}: {allowed}, got {condition!r}", model=template.cls
        )
    if not isinstance(path, Path) or any(isinstance(v, Path) for v in operands):
        raise ValidationError(
            f"{template.cls.__qualname__}: {allowed}, got {condition!r}", model=template.cls
        )
    name = path.text if path.parts is None else ".".join(str(p) for p in path.parts)
    if name not in template.fields:
        raise ValidationError(
            f"{template.cls.__qualname__}: range= takes a field of {template.text!r} "
            f"({', '.join(template.fields) or 'none'}), got {name!r}",
            model=template.cls,
            field=name,
        )
    return name, op, operands


def _slot(pending: tuple[str, str, str], separator: str, fields: Mapping[str, FieldInfo]) -> Slot:
    name, spec, kind = pending
    tp = fields[name].type
    tp = optional_inner(tp) or tp
    return Slot(name, kind, _width(spec), separator, tp if kind == "enum" else None)


def _width(spec: str) -> int | None:
    match = _INT_SPEC.fullmatch(spec)
    return int(match.group(1)) if match and match.group(1) else None


def _kind(tp: Any, optional_allowed: bool) -> str | None:
    inner = optional_inner(tp)
    if inner is not None:
        if not optional_allowed:
            return None
        tp = inner
    if tp is str:
        return "str"
    if tp is int:
        return "int"
    if tp is datetime:
        return "datetime"
    if tp is date:
        return "date"
    if tp is uuid.UUID:
        return "uuid"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        kinds = {type(m.value) for m in tp}
        return "enum" if kinds <= {str} or kinds <= {int} else None
    return None
