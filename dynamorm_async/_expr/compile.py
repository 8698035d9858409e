"""Compiling expressions against a model: names to placeholders, values to AttributeValues.

One ``ExpressionContext`` serves every expression of a request (condition, update,
projection), so placeholders never clash: each distinct stored name gets one ``#n<i>``, each
value its own ``:v<i>``. Paths resolve from Python field names to stored names through the
model (and through nested attrs classes, lists and maps), and values are dumped by the
declared type at the path.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .._errors import ValidationError
from .._model.models import FieldInfo, ModelInfo, fields_of
from .._model.types import is_set_type, strip_optional, type_name
from .._wire import codecs as c
from .._wire.codecs import AttributeValue, Problem
from .._wire.hooks import Unsupported, dump_hook
from .conditions import (
    AttributeType,
    BeginsWith,
    Between,
    Compare,
    Condition,
    Contains,
    Exists,
    In,
    Logical,
    Not,
    Operand,
    Path,
    Segment,
    Size,
    attr,
    parse_path,
)

__all__ = ["ExpressionContext", "Resolved", "compile_condition"]


class Resolved:
    """A path resolved against a model: stored segments, Python path and declared type."""

    __slots__ = ("field", "parts", "python", "type")

    def __init__(
        self,
        parts: tuple[Segment, ...],
        python: str,
        tp: Any,
        field: FieldInfo | None,
    ) -> None:
        self.parts = parts  # stored names and list indexes
        self.python = python  # the path in Python names, for messages
        self.type = tp  # the declared type at the path (optional stripped); None if unknown
        self.field = field  # the attrs field at the end of the path, when there is one


class ExpressionContext:
    """Collects ``ExpressionAttributeNames`` and ``ExpressionAttributeValues`` for one request.

    ``info`` is the model the expressions refer to; values are dumped with ``converter``.
    One context serves every expression of a request (condition, update, projection), so
    placeholders never clash.
    """

    def __init__(self, info: ModelInfo, converter: Any) -> None:
        self.info = info
        self.converter = converter
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValue] = {}
        self._name_ids: dict[str, str] = {}

    # -- names ---------------------------------------------------------------------------

    def name(self, stored: str) -> str:
        """The placeholder for one stored attribute name (the same name, the same one)."""
        placeholder = self._name_ids.get(stored)
        if placeholder is None:
            placeholder = self._name_ids[stored] = f"#n{len(self._name_ids)}"
            self.names[placeholder] = stored
        return placeholder

    def path_text(self, resolved: Resolved) -> str:
        """``#n0.#n1[2]`` for a resolved path."""
        out = ""
        for part in resolved.parts:
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += ("." if out else "") + self.name(part)
        return out

    def resolve(self, path: Path | str) -> Resolved:
        """Resolve a path (or a path string) against the model; ``ValidationError`` for a name
        the model does not have."""
        if isinstance(path, str):
            path = attr(path)
        if not isinstance(path, Path):
            raise ValidationError(
                f"{self.info.cls.__qualname__}: expected an attribute name or attr(...), "
                f"got {path!r}",
                model=self.info.cls,
                value_type=type(path),
            )
        parts = path.parts
        if parts is None:
            text = path.text or ""
            if self._top_field(text) is not None:
                parts = (text,)
            else:
                parts = parse_path(text)
                if parts is None:
                    raise ValidationError(
                        f"{self.info.cls.__qualname__}: {text!r} is neither a field nor a "
                        "path like 'address.city' or 'lines[0].qty'",
                        model=self.info.cls,
                        field=text,
                    )
        return self._walk(parts)

    def _top_field(self, name: str) -> FieldInfo | None:
        for f in self.info.fields:
            if f.name == name:
                return f
        for f in self.info.fields:
            if f.stored_name == name:
                return f
        return None

    def _walk(self, parts: tuple[Segment, ...]) -> Resolved:
        cls = self.info.cls
        first = parts[0]
        assert isinstance(first, str)
        f = self._top_field(first)
        if f is None:
            known = ", ".join(x.name for x in self.info.fields)
            raise ValidationError(
                f"{cls.__qualname__} has no field {first!r} (fields: {known})",
                model=cls,
                field=first,
            )
        stored: list[Segment] = [f.stored_name]
        python = f.name
        tp: Any = strip_optional(f.type)
        field: FieldInfo | None = f
        for part in parts[1:]:
            tp, name, field = _step(cls, python, tp, part)
            stored.append(name)
            python += f"[{part}]" if isinstance(part, int) else f".{part}"
        return Resolved(tuple(stored), python, tp, field)

    # -- values --------------------------------------------------------------------------

    def value(self, value: Any, dump: Callable[[Any], AttributeValue], where: Resolved) -> str:
        """The placeholder for ``value``, dumped with ``dump``; ``ValidationError`` naming the
        attribute when the value does not fit it."""
        try:
            av = dump(value)
        except Problem as p:
            raise self.invalid(where, p.message, p.value_type or type(value)) from p.__cause__
        except Unsupported as exc:
            raise self.invalid(where, str(exc), type(value)) from None
        return self.add_value(av)

    def add_value(self, av: AttributeValue) -> str:
        """The placeholder for an AttributeValue that is already in wire form."""
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = av
        return placeholder

    def dumper(self, tp: Any) -> Callable[[Any], AttributeValue]:
        """The dump function for values of declared type ``tp`` (runtime type when None)."""
        if tp is None:
            return self._dump_any
        hook: Callable[[Any], AttributeValue] = dump_hook(self.converter, tp)
        return hook

    def _dump_any(self, value: Any) -> AttributeValue:
        hook: Callable[[Any], AttributeValue] = dump_hook(self.converter, value.__class__)
        return hook(value)

    def value_dumper(self, resolved: Resolved) -> Callable[[Any], AttributeValue]:
        """How values compared with (or written to) ``resolved`` are dumped: by the field's
        declared type, with the TTL attribute as epoch seconds."""
        ttl = self.info.ttl
        if len(resolved.parts) == 1 and resolved.field is not None and resolved.field.name == ttl:
            return c.dump_epoch
        return self.dumper(resolved.type)

    def operand(self, operand: Operand) -> tuple[str, Resolved]:
        """Text of a path or ``size(path)``, and what values compared with it are."""
        if isinstance(operand, Size):
            resolved = self.resolve(operand.path)
            as_number = Resolved(resolved.parts, f"size({resolved.python})", int, None)
            return f"size({self.path_text(resolved)})", as_number
        assert isinstance(operand, Path)  # the only other Operand
        resolved = self.resolve(operand)
        return self.path_text(resolved), resolved

    def compared(self, value: Any, resolved: Resolved, left: Operand) -> str:
        """A right-hand side: another path, ``size(path)``, or a value of the left's type."""
        if isinstance(value, (Path, Size)):
            return self.operand(value)[0]
        if isinstance(left, Size):
            return self.value(value, c.dump_int, resolved)
        return self.value(value, self.value_dumper(resolved), resolved)

    def invalid(self, where: Resolved, message: str, value_type: type | None) -> ValidationError:
        """A ``ValidationError`` about the attribute at ``where``."""
        cls = self.info.cls
        return ValidationError(
            f"{cls.__qualname__}.{where.python}: {message}",
            model=cls,
            field=where.python,
            value_type=value_type,
        )

    def projection(self, attributes: Any, keys: Iterable[str]) -> str:
        """The ProjectionExpression for ``attributes`` (names or paths), with the stored
        attributes ``keys`` always included (they identify the item, and a page's cursor
        needs them)."""
        cls = self.info.cls
        if isinstance(attributes, (str, bytes)) or not isinstance(attributes, Iterable):
            raise ValidationError(
                f"{cls.__qualname__}: attributes takes a list of attribute names, "
                f"got {attributes!r:.60}",
                model=cls,
            )
        names = list(attributes)
        if not names:
            raise ValidationError(
                f"{cls.__qualname__}: attributes is empty; leave it out to read everything",
                model=cls,
            )
        texts: dict[str, None] = {self.name(k): None for k in keys}
        for name in names:
            texts.setdefault(self.path_text(self.resolve(name)), None)
        return ", ".join(texts)

    def condition(self, condition: Any) -> str:
        """Compile a condition (``ValidationError`` for anything that is not one)."""
        if not isinstance(condition, Condition):
            raise ValidationError(
                f"{self.info.cls.__qualname__}: expected a condition such as "
                f"attr('status') == 'open', got {condition!r}",
                model=self.info.cls,
                value_type=type(condition),
            )
        return compile_condition(self, condition)


def _step(cls: type, python: str, tp: Any, part: Segment) -> tuple[Any, Segment, FieldInfo | None]:
    """One step into a nested value: (type after the step, stored segment, field)."""

    def fail(why: str) -> ValidationError:
        return ValidationError(
            f"{cls.__qualname__}.{python}: {why}", model=cls, field=python, value_type=None
        )

    if tp is None or tp in (Any, object):
        return None, part, None  # Any: nothing is known below, any step is fine
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if isinstance(part, int):
        if origin in (list, Sequence) or tp in (list,):
            return (strip_optional(args[0]) if args else None), part, None
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return strip_optional(args[0]), part, None
            if part < len(args):
                return strip_optional(args[part]), part, None
            raise fail(f"index {part} is past the end of {type_name(tp)}")
        raise fail(f"{type_name(tp)} has no elements to index with [{part}]")
    if isinstance(tp, type) and hasattr(tp, "__attrs_attrs__"):
        for f in fields_of(tp):
            if part in (f.name, f.stored_name):
                return strip_optional(f.type), f.stored_name, f
        raise fail(f"{tp.__qualname__} has no field {part!r}")
    if origin in (dict, typing.Mapping) or tp is dict:
        return (strip_optional(args[1]) if len(args) == 2 else None), part, None
    raise fail(f"{type_name(tp)} has no attribute {part!r}")


# -- conditions: one compiler per node type ------------------------------------------------

_ATTRIBUTE_TYPES = ("S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M")
_COMPARISONS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_MAX_IN = 100


def compile_condition(ctx: ExpressionContext, condition: Condition) -> str:
    """The expression text of ``condition``; its names and values are added to ``ctx``."""
    compiler = _COMPILERS.get(type(condition))
    if compiler is None:  # a Condition subclass of the caller's: there is no text for it
        raise ValidationError(
            f"{type(condition).__qualname__} is not a condition the library can compile; "
            "build conditions with attr(...) and size(...)",
            value_type=type(condition),
        )
    return compiler(ctx, condition)


def _logical(ctx: ExpressionContext, node: Logical) -> str:
    # DynamoDB refuses redundant parentheses ("((a = b))"), so no text is wrapped twice:
    # compiled conditions carry no outer parentheses, and a group is wrapped once here.
    return f" {node.op} ".join(
        f"({compile_condition(ctx, p)})" if isinstance(p, Logical) else compile_condition(ctx, p)
        for p in node.parts
    )


def _not(ctx: ExpressionContext, node: Not) -> str:
    return f"NOT ({compile_condition(ctx, node.part)})"


def _compare(ctx: ExpressionContext, node: Compare) -> str:
    left, resolved = ctx.operand(node.left)
    right = ctx.compared(node.right, resolved, node.left)
    return f"{left} {_COMPARISONS[node.op]} {right}"


def _between(ctx: ExpressionContext, node: Between) -> str:
    text, resolved = ctx.operand(node.path)
    low = ctx.compared(node.low, resolved, node.path)
    high = ctx.compared(node.high, resolved, node.path)
    return f"{text} BETWEEN {low} AND {high}"


def _begins_with(ctx: ExpressionContext, node: BeginsWith) -> str:
    text, resolved = ctx.operand(node.path)
    if not isinstance(node.prefix, (str, bytes)):
        raise ctx.invalid(
            resolved,
            f"begins_with takes a str or bytes prefix, got {type(node.prefix).__qualname__}",
            type(node.prefix),
        )
    kind = str if isinstance(node.prefix, str) else bytes
    value = ctx.value(node.prefix, ctx.dumper(kind), resolved)
    return f"begins_with({text}, {value})"


def _contains(ctx: ExpressionContext, node: Contains) -> str:
    text, resolved = ctx.operand(node.path)
    if isinstance(node.value, Path):  # DynamoDB takes another attribute as the operand
        return f"contains({text}, {ctx.operand(node.value)[0]})"
    value = ctx.value(node.value, ctx.dumper(_element_type(resolved.type)), resolved)
    return f"contains({text}, {value})"


def _in(ctx: ExpressionContext, node: In) -> str:
    text, resolved = ctx.operand(node.path)
    if not 1 <= len(node.values) <= _MAX_IN:
        raise ctx.invalid(
            resolved, f"is_in takes 1 to {_MAX_IN} values, got {len(node.values)}", None
        )
    values = ", ".join(ctx.compared(v, resolved, node.path) for v in node.values)
    return f"{text} IN ({values})"


def _exists(ctx: ExpressionContext, node: Exists) -> str:
    text, _ = ctx.operand(node.path)
    return f"attribute_{'exists' if node.exists else 'not_exists'}({text})"


def _attribute_type(ctx: ExpressionContext, node: AttributeType) -> str:
    text, resolved = ctx.operand(node.path)
    if node.type_code not in _ATTRIBUTE_TYPES:
        raise ctx.invalid(
            resolved,
            f"attribute_type takes one of {', '.join(_ATTRIBUTE_TYPES)}, got {node.type_code!r}",
            None,
        )
    return f"attribute_type({text}, {ctx.value(node.type_code, c.dump_str, resolved)})"


def _element_type(tp: Any) -> Any:
    """What ``contains`` looks for in a value of type ``tp`` (None when unknown)."""
    if tp is None:
        return None
    if tp in (str, bytes):
        return tp
    args = typing.get_args(tp)
    if (is_set_type(tp) or typing.get_origin(tp) in (list, Sequence)) and args:
        return args[0]
    return None


_COMPILERS: dict[type, Callable[[ExpressionContext, Any], str]] = {
    Logical: _logical,
    Not: _not,
    Compare: _compare,
    Between: _between,
    BeginsWith: _begins_with,
    Contains: _contains,
    In: _in,
    Exists: _exists,
    AttributeType: _attribute_type,
}
