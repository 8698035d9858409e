"""Update expressions: SET, REMOVE, ADD and DELETE actions built from ``Session.update``'s
keyword arguments, checked against the model before any request is sent."""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypedDict

from .._errors import ValidationError
from .._model.models import ModelInfo
from .._model.types import is_set_type, optional_inner
from .._wire.codecs import NULL, AttributeValue
from .compile import ExpressionContext, Resolved
from .conditions import Path, SetValue

__all__ = ["UpdateActions", "UpdateBuilder", "add_actions"]

_NUMBERS = (int, float, Decimal)


class UpdateActions(TypedDict, total=False):
    """The actions of an update, as ``Session.update`` and ``Transaction.update`` take them
    by keyword; the one list of them."""

    set: Mapping[Any, Any] | None
    set_if_not_exists: Mapping[Any, Any] | None
    add: Mapping[Any, Any] | None
    delete: Mapping[Any, Any] | None
    remove: Iterable[Any]
    append: Mapping[Any, Any] | None
    prepend: Mapping[Any, Any] | None


_ACTIONS = tuple(UpdateActions.__annotations__)


def add_actions(builder: UpdateBuilder, info: ModelInfo, actions: UpdateActions) -> None:
    """Add the keyword ``actions`` of an update to ``builder``; a keyword that is not an
    action, or an update with no action at all, is a ``ValidationError``."""
    cls = info.cls.__qualname__
    unknown = [k for k in actions if k not in _ACTIONS]
    if unknown:
        raise ValidationError(
            f"{cls}: update takes no argument {unknown[0]}=; its actions are "
            + ", ".join(f"{a}=" for a in _ACTIONS),
            model=info.cls,
        )
    for argument in ("set", "set_if_not_exists", "add", "delete"):
        action = getattr(builder, argument)
        for path, value in _pairs(info, argument, actions.get(argument)):
            action(path, value)
    for argument in ("append", "prepend"):
        for path, values in _pairs(info, argument, actions.get(argument)):
            builder.append(path, values, prepend=argument == "prepend")
    remove = actions.get("remove", ())
    if isinstance(remove, (str, bytes)) or not isinstance(remove, Iterable):
        raise ValidationError(
            f"{cls}: remove takes a list of attribute names, got {remove!r:.60}",
            model=info.cls,
        )
    for path in remove:
        builder.remove(path)
    if builder.empty:
        raise ValidationError(
            f"{cls}: update needs at least one of "
            + ", ".join(f"{a}=" for a in _ACTIONS[:-1])
            + f" or {_ACTIONS[-1]}=",
            model=info.cls,
        )


def _pairs(info: ModelInfo, argument: str, mapping: Any) -> list[tuple[Any, Any]]:
    if mapping is None:
        return []
    if not isinstance(mapping, Mapping):
        raise ValidationError(
            f"{info.cls.__qualname__}: {argument}= takes a mapping of attribute names to "
            f"values, got {type(mapping).__qualname__}",
            model=info.cls,
            value_type=type(mapping),
        )
    return list(mapping.items())


def _is_list_type(tp: Any) -> bool:
    return tp is list or typing.get_origin(tp) in (list, Sequence)


class UpdateBuilder:
    """Collects the actions of one UpdateItem and renders its ``UpdateExpression``.

    Every path is resolved against the model and every value is dumped by the declared type
    of the attribute it goes to. Key attributes and the version attribute cannot be changed
    (DynamoDB forbids the former; the session manages the latter), two actions on one path
    (or on a path and a path inside it) are refused, and removing an attribute the model
    needs to load an item is refused.
    """

    def __init__(self, ctx: ExpressionContext) -> None:
        self.ctx = ctx
        self._sets: list[str] = []
        self._removes: list[str] = []
        self._adds: list[str] = []
        self._deletes: list[str] = []
        self._touched: list[Resolved] = []
        self._given: set[str] = set()  # top-level stored names written with a value
        info = ctx.info
        self._protected = {
            k.stored_name: "is a key attribute and cannot be updated" for k in _keys(info)
        }
        if info.version is not None:
            stored = info.field(info.version).stored_name
            self._protected[stored] = "is the version attribute, which the session manages"

    @property
    def empty(self) -> bool:
        """True when no action was added."""
        return not (self._sets or self._removes or self._adds or self._deletes)

    def touches(self, field_name: str) -> bool:
        """True when an action targets the top-level field ``field_name`` (Python name)."""
        stored = self.ctx.info.field(field_name).stored_name
        return any(r.parts[0] == stored for r in self._touched)

    def gives(self, field_name: str) -> bool:
        """True when an action writes a value to the top-level field ``field_name`` (so an
        item the update creates has it)."""
        return self.ctx.info.field(field_name).stored_name in self._given

    def expression(self) -> str:
        """The ``UpdateExpression`` text."""
        clauses = []
        for keyword, actions in (
            ("SET", self._sets),
            ("REMOVE", self._removes),
            ("ADD", self._adds),
            ("DELETE", self._deletes),
        ):
            if actions:
                clauses.append(f"{keyword} " + ", ".join(actions))
        return " ".join(clauses)

    # -- the actions ---------------------------------------------------------------------

    def set(self, path: Path | str, value: Any) -> None:
        """SET path = value (a value, another ``attr()``, or ``attr(...) +/- n``)."""
        where = self._target(path, "set")
        text = self.ctx.path_text(where)
        stored_as = self._top_level_form(where, value)
        if stored_as != "absent":
            self._give(where)
        if isinstance(value, Path):
            self._sets.append(f"{text} = {self.ctx.operand(value)[0]}")
            return
        if isinstance(value, SetValue):
            source, resolved = self.ctx.operand(value.path)
            amount = self.ctx.value(value.value, self.ctx.value_dumper(resolved), resolved)
            self._sets.append(f"{text} = {source} {value.op} {amount}")
            return
        if stored_as == "absent":
            self._removes.append(text)  # stored as absent, exactly as put() would
        elif stored_as == "null":
            self._sets.append(f"{text} = {self.ctx.add_value(NULL)}")  # as put() stores it
        else:
            self._sets.append(f"{text} = {self._value(where, value)}")

    def set_if_not_exists(self, path: Path | str, value: Any) -> None:
        """SET path = if_not_exists(path, value): write only when the attribute is absent."""
        where = self._target(path, "set_if_not_exists")
        self._give(where)
        text = self.ctx.path_text(where)
        self._sets.append(f"{text} = if_not_exists({text}, {self._value(where, value)})")

    def add(self, path: Path | str, value: Any) -> None:
        """ADD: add to a number (an atomic counter) or add elements to a set."""
        where = self._target(path, "add")
        tp = where.type
        if tp in _NUMBERS or (tp is None and isinstance(value, _NUMBERS)):
            if isinstance(value, bool) or not isinstance(value, _NUMBERS):
                raise self.ctx.invalid(
                    where, f"add takes a number, got {type(value).__qualname__}", type(value)
                )
        elif is_set_type(tp) or (tp is None and isinstance(value, (set, frozenset))):
            self._nonempty_set(where, value, "add")
        else:
            raise self.ctx.invalid(
                where, "add works on numbers and sets only; use set= for other types", None
            )
        self._give(where)  # ADD creates an absent number or set
        self._adds.append(f"{self.ctx.path_text(where)} {self._value(where, value)}")

    def delete(self, path: Path | str, value: Any) -> None:
        """DELETE: remove elements from a set."""
        where = self._target(path, "delete")
        if not (is_set_type(where.type) or where.type is None):
            raise self.ctx.invalid(where, "delete removes elements from a set only", None)
        self._nonempty_set(where, value, "delete")
        self._deletes.append(f"{self.ctx.path_text(where)} {self._value(where, value)}")

    def remove(self, path: Path | str) -> None:
        """REMOVE an attribute, or an element of a list or map."""
        where = self._target(path, "remove")
        f = where.field
        if f is not None and f.required and not isinstance(where.parts[-1], int):
            raise self.ctx.invalid(
                where,
                "is required by the model (no default, not optional): removing it would "
                "leave an item that cannot be loaded",
                None,
            )
        self._removes.append(self.ctx.path_text(where))

    def append(self, path: Path | str, values: Iterable[Any], *, prepend: bool = False) -> None:
        """SET path = list_append(path, values), creating the list when it is absent."""
        where = self._target(path, "prepend" if prepend else "append")
        if not (_is_list_type(where.type) or where.type is None):
            raise self.ctx.invalid(where, "append and prepend work on lists only", None)
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise self.ctx.invalid(
                where,
                f"append and prepend take a list of elements, got {type(values).__qualname__}",
                type(values),
            )
        self._give(where)  # list_append over if_not_exists creates an absent list
        items = list(values)
        tp = where.type
        dumped = self.ctx.value(items, self.ctx.dumper(tp if tp is not None else list), where)
        text = self.ctx.path_text(where)
        empty = self.ctx.value([], self.ctx.dumper(list), where)
        current = f"if_not_exists({text}, {empty})"
        pair = f"{dumped}, {current}" if prepend else f"{current}, {dumped}"
        self._sets.append(f"{text} = list_append({pair})")

    def managed(
        self,
        stored: str,
        value: AttributeValue,
        *,
        only_if_absent: bool = False,
        add: bool = False,
    ) -> None:
        """SET (or ADD) an attribute the session maintains (version, timestamps), by stored
        name; ``only_if_absent`` keeps a value that is already stored."""
        text = self.ctx.name(stored)
        placeholder = self.ctx.add_value(value)
        if add:
            self._adds.append(f"{text} {placeholder}")
        elif only_if_absent:
            self._sets.append(f"{text} = if_not_exists({text}, {placeholder})")
        else:
            self._sets.append(f"{text} = {placeholder}")

    def managed_remove(self, stored: str) -> None:
        """REMOVE an attribute the session maintains, by stored name."""
        self._removes.append(self.ctx.name(stored))

    # -- helpers -------------------------------------------------------------------------

    def _target(self, path: Path | str, action: str) -> Resolved:
        where = self.ctx.resolve(path)
        why = self._protected.get(str(where.parts[0]))
        if why is not None:
            raise self.ctx.invalid(where, f"{why} ({action})", None)
        for other in self._touched:
            shorter = min(len(other.parts), len(where.parts))
            if other.parts[:shorter] == where.parts[:shorter]:
                raise self.ctx.invalid(
                    where,
                    f"is updated twice in one request (also as {other.python}); DynamoDB "
                    "refuses overlapping paths",
                    None,
                )
        self._touched.append(where)
        return where

    def _give(self, where: Resolved) -> None:
        if len(where.parts) == 1:
            self._given.add(str(where.parts[0]))

    def _value(self, where: Resolved, value: Any) -> str:
        return self.ctx.value(value, self.ctx.value_dumper(where), where)

    def _top_level_form(self, where: Resolved, value: Any) -> str | None:
        """How ``to_item`` stores ``value`` in a top-level field when that is not by its
        codec: ``"absent"`` (None in an optional field whose absence loads as None, an empty
        set), ``"null"`` (None where absence would load as another default); else None."""
        f = where.field
        if len(where.parts) != 1 or f is None:
            return None
        if value is None and optional_inner(f.type) is not None:
            keeps_null = f.store_none or (f.has_default and f.default is not None)
            return "null" if keeps_null else "absent"
        if is_set_type(where.type) and isinstance(value, (set, frozenset)) and not value:
            return "absent"
        return None

    def _nonempty_set(self, where: Resolved, value: Any, action: str) -> None:
        if not isinstance(value, (set, frozenset)) or not value:
            raise self.ctx.invalid(
                where,
                f"{action} on a set takes a non-empty set, got {value!r:.60}",
                type(value),
            )


def _keys(info: Any) -> list[Any]:
    return [k for k in (info.hash_key, info.range_key) if k is not None]
