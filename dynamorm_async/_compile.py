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

from . import _codecs as c
from ._codecs import AttributeValue, Problem
from ._errors import ValidationError
from ._expressions import Condition, Operand, Path, Segment, Size, attr, parse_path
from ._hooks import Unsupported, dump_hook
from ._model import FieldInfo, ModelInfo, fields_of
from ._types import strip_optional, type_name

__all__ = ["ExpressionContext", "Resolved"]


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
        return condition.compile(self)


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
