"""Condition, filter and key-condition expressions: ``attr("status") == "open"``.

Expressions are plain immutable trees built with operators::

    (attr("status") == "open") & (attr("total") >= 100) | ~attr("deleted_at").exists()
    attr("address.city").begins_with("Ber")
    size(attr("tags")) > 3

They are compiled against a model when a request is built (``compile.py``; this module is
only the builder and imports nothing back): attribute names resolve from
Python field names to stored names, every name segment becomes an ``ExpressionAttributeNames``
placeholder (so reserved words such as ``status``, ``name`` or ``size``, and names with dots,
dashes or unicode, just work), and every value becomes an ``ExpressionAttributeValues``
placeholder converted with the session's converter *by the field's declared type*, so a
datetime compared with a datetime field is written exactly as the field is stored. Nothing a
caller passes as a value can change the expression text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .._errors import ValidationError

__all__ = [
    "Segment",
    "parse_path",
    "AttributeType",
    "BeginsWith",
    "Between",
    "Compare",
    "Condition",
    "Contains",
    "Exists",
    "In",
    "Logical",
    "Not",
    "Operand",
    "Path",
    "SetValue",
    "Size",
    "attr",
    "size",
]

Segment = str | int
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]|(\.)")


def parse_path(text: str) -> tuple[Segment, ...] | None:
    """``"a.b[2].c"`` -> ``("a", "b", 2, "c")``; None when the text is not a valid path."""
    parts: list[Segment] = []
    pos = 0
    want_name = True
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            return None
        name, index, dot = m.groups()
        if name is not None:
            if not want_name:
                return None
            parts.append(name)
            want_name = False
        elif index is not None:
            if want_name:
                return None
            parts.append(int(index))
        elif dot is not None:
            if want_name:
                return None
            want_name = True
        pos = m.end()
    return None if want_name else tuple(parts)


class Operand:
    """Comparison operators that build conditions (shared by paths and ``size()``)."""

    __slots__ = ()

    def __eq__(self, other: Any) -> Compare:  # type: ignore[override]
        return Compare("==", self, other)

    def __ne__(self, other: Any) -> Compare:  # type: ignore[override]
        return Compare("!=", self, other)

    def __lt__(self, other: Any) -> Compare:
        return Compare("<", self, other)

    def __le__(self, other: Any) -> Compare:
        return Compare("<=", self, other)

    def __gt__(self, other: Any) -> Compare:
        return Compare(">", self, other)

    def __ge__(self, other: Any) -> Compare:
        return Compare(">=", self, other)

    __hash__ = None  # type: ignore[assignment]

    def between(self, low: Any, high: Any) -> Between:
        """``low <= value <= high`` (both ends included)."""
        return Between(self, low, high)


class Path(Operand):
    """A reference to an attribute, or to a nested element of one; made by ``attr()``.

    Comparing a path builds a ``Condition``; paths are therefore not hashable.
    """

    __slots__ = ("parts", "text")

    def __init__(self, text: str | None, parts: tuple[Segment, ...] | None) -> None:
        self.text = text  # a single string, parsed against the model when compiled
        self.parts = parts  # literal segments, when given one by one

    def __repr__(self) -> str:
        if self.parts is None:
            return f"attr({self.text!r})"
        return "attr(" + ", ".join(repr(p) for p in self.parts) + ")"

    def __add__(self, other: Any) -> SetValue:
        """``attr("n") + 5``: a value for ``update(set=...)``, computed by DynamoDB."""
        return SetValue("+", self, other)

    def __sub__(self, other: Any) -> SetValue:
        """``attr("n") - 5``: a value for ``update(set=...)``, computed by DynamoDB."""
        return SetValue("-", self, other)

    def begins_with(self, prefix: Any) -> BeginsWith:
        """The string (or binary) value starts with ``prefix``."""
        return BeginsWith(self, prefix)

    def contains(self, value: Any) -> Contains:
        """A string contains a substring, or a set or list contains an element."""
        return Contains(self, value)

    def is_in(self, values: Iterable[Any]) -> In:
        """The value equals one of ``values`` (1 to 100 of them)."""
        return In(self, tuple(values))

    def exists(self) -> Exists:
        """The attribute is present in the item."""
        return Exists(self, True)

    def not_exists(self) -> Exists:
        """The attribute is absent from the item (or no item exists)."""
        return Exists(self, False)

    def attribute_type(self, type_code: str) -> AttributeType:
        """The attribute is stored as ``type_code``: S, SS, N, NS, B, BS, BOOL, NULL, L or M."""
        return AttributeType(self, type_code)


def attr(*names: str | int) -> Path:
    """A reference to an attribute by its Python field name (or stored name), for conditions,
    filters, key conditions and updates::

        attr("status") == "open"
        attr("address.city").begins_with("Ber")      # nested attribute
        attr("lines[0].qty") > 1                      # list element
        attr("first.name", "given")                   # segments taken literally

    A single string names a field when it is one (so a field stored as ``"first.name"`` works
    as is), else it is read as a path of ``.`` and ``[n]`` steps. Several arguments are taken as
    literal segments (strings for names, ints for list indexes).
    """
    if not names:
        raise ValidationError("attr() needs an attribute name")
    for n in names:
        if isinstance(n, bool) or not isinstance(n, (str, int)) or n == "":
            raise ValidationError(
                f"attr() takes non-empty attribute names and list indexes, got {n!r}"
            )
    if len(names) == 1 and isinstance(names[0], str):
        return Path(names[0], None)
    if isinstance(names[0], int):
        raise ValidationError(f"attr() must start with an attribute name, got {names[0]!r}")
    return Path(None, tuple(names))


class Size(Operand):
    """``size(attr("tags"))``: the length of a string, binary, set, list or map."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        if not isinstance(path, Path):
            raise ValidationError(f"size() takes an attr(...), got {path!r}")
        self.path = path

    def __repr__(self) -> str:
        return f"size({self.path!r})"


def size(path: Path) -> Size:
    """The size of an attribute, to compare with a number: ``size(attr("tags")) > 3``."""
    return Size(path)


class SetValue:
    """``attr("n") + 1`` or ``attr("n") - 1``: a value computed by DynamoDB in an update."""

    __slots__ = ("op", "path", "value")

    def __init__(self, op: str, path: Path, value: Any) -> None:
        self.op = op
        self.path = path
        self.value = value

    def __repr__(self) -> str:
        return f"{self.path!r} {self.op} {self.value!r}"


class Condition:
    """A condition, filter or key condition; combine with ``&``, ``|`` and ``~``.

    Python's ``and``/``or``/``not`` cannot be overloaded, so using a condition as a bool
    raises ``TypeError`` instead of silently dropping half of it.
    """

    __slots__ = ()

    def __and__(self, other: Condition) -> Condition:
        return Logical("AND", _conditions(self, other))

    def __or__(self, other: Condition) -> Condition:
        return Logical("OR", _conditions(self, other))

    def __invert__(self) -> Condition:
        return Not(self)

    def __bool__(self) -> bool:
        raise TypeError(
            "a condition has no truth value: combine conditions with & | ~ "
            "(not and/or/not), and compare them with repr()"
        )


def _conditions(left: Condition, right: Any) -> tuple[Condition, ...]:
    if not isinstance(right, Condition):
        raise ValidationError(
            f"conditions combine with other conditions, got {right!r}; "
            "write (attr('a') == 1) & (attr('b') == 2)"
        )
    return (left, right)


class Logical(Condition):
    """Conditions joined by ``AND`` or ``OR``."""

    __slots__ = ("op", "parts")
    op: str
    parts: tuple[Condition, ...]

    def __init__(self, op: str, parts: tuple[Condition, ...]) -> None:
        flat: list[Condition] = []
        for p in parts:  # (a & b) & c -> AND(a, b, c): shorter text, same meaning
            flat.extend(p.parts if isinstance(p, Logical) and p.op == op else (p,))
        self.op = op
        self.parts = tuple(flat)

    def __repr__(self) -> str:
        joiner = " & " if self.op == "AND" else " | "
        return "(" + joiner.join(repr(p) for p in self.parts) + ")"


class Not(Condition):
    """``~condition``."""

    __slots__ = ("part",)

    def __init__(self, part: Condition) -> None:
        self.part = part

    def __repr__(self) -> str:
        return f"~{self.part!r}"


class Compare(Condition):
    """``path <op> value`` with op one of ``== != < <= > >=``; either side may be a path or
    ``size(path)``."""

    __slots__ = ("left", "op", "right")

    def __init__(self, op: str, left: Operand, right: Any) -> None:
        self.op = op
        self.left = left
        self.right = right

    def __repr__(self) -> str:
        return f"{self.left!r} {self.op} {self.right!r}"


class Between(Condition):
    """``path BETWEEN low AND high``."""

    __slots__ = ("high", "low", "path")

    def __init__(self, path: Operand, low: Any, high: Any) -> None:
        self.path = path
        self.low = low
        self.high = high

    def __repr__(self) -> str:
        return f"{self.path!r}.between({self.low!r}, {self.high!r})"


class BeginsWith(Condition):
    """``begins_with(path, prefix)``."""

    __slots__ = ("path", "prefix")

    def __init__(self, path: Path, prefix: Any) -> None:
        self.path = path
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"{self.path!r}.begins_with({self.prefix!r})"


class Contains(Condition):
    """``contains(path, value)``: substring, set member or list element."""

    __slots__ = ("path", "value")

    def __init__(self, path: Path, value: Any) -> None:
        self.path = path
        self.value = value

    def __repr__(self) -> str:
        return f"{self.path!r}.contains({self.value!r})"


class In(Condition):
    """``path IN (v1, v2, ...)``."""

    __slots__ = ("path", "values")

    def __init__(self, path: Path, values: tuple[Any, ...]) -> None:
        self.path = path
        self.values = values

    def __repr__(self) -> str:
        return f"{self.path!r}.is_in({list(self.values)!r})"


class Exists(Condition):
    """``attribute_exists(path)`` or ``attribute_not_exists(path)``."""

    __slots__ = ("exists", "path")

    def __init__(self, path: Path, exists: bool) -> None:
        self.path = path
        self.exists = exists

    def __repr__(self) -> str:
        return f"{self.path!r}.{'exists' if self.exists else 'not_exists'}()"


class AttributeType(Condition):
    """``attribute_type(path, type_code)``."""

    __slots__ = ("path", "type_code")

    def __init__(self, path: Path, type_code: str) -> None:
        self.path = path
        self.type_code = type_code

    def __repr__(self) -> str:
        return f"{self.path!r}.attribute_type({self.type_code!r})"
