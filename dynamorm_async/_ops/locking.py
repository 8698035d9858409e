"""Optimistic locking: the version condition of a write, and telling a lost race
(``VersionConflict``) from any other failed condition.

A model with ``version="..."`` keeps an int that counts its checked writes. Version 0 means
"not stored with a version": a new object, or an item another client (or an unconditional
batch write of an earlier release) stored with version 0 or without the attribute. Writing
such an object requires that the stored item, if any, has no version or version 0, so the
first checked write adopts an unversioned item, and a new object never overwrites an item
that has a version. Otherwise the stored version must equal the one in memory. Every checked
write stores the version plus one, so a stored version is never 0 again.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._errors import ConditionFailed, ModelError, ValidationError, VersionConflict
from .._expr.compile import ExpressionContext
from .._model.models import ModelInfo
from .._transport.translate import Context

__all__ = [
    "MISSING_NOTE",
    "check_mutable",
    "classify_failure",
    "conflict_note",
    "never_zero",
    "stored_version",
    "version_condition",
    "version_of",
]

_mutable_checked: set[type] = set()
_ZERO = {"N": "0"}


def version_of(info: ModelInfo, obj: Any) -> int | None:
    """The object's version (None for a model without one); ``ValidationError`` if it is not
    an int >= 0."""
    if info.version is None:
        return None
    value = getattr(obj, info.version)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(
            f"{info.cls.__qualname__}.{info.version}: the version must be an int >= 0 "
            f"(0 for an item never stored), got {value!r:.60}",
            model=info.cls,
            field=info.version,
            value_type=type(value),
        )
    return value


def version_condition(info: ModelInfo, ctx: ExpressionContext, expected: int) -> str:
    """The condition that the stored item has version ``expected``; for 0, that there is no
    item, or one without a version attribute or with version 0 (which it adopts)."""
    assert info.version is not None
    name = ctx.name(info.field(info.version).stored_name)
    placeholder = ctx.add_value({"N": str(expected)})
    if expected == 0:
        return f"attribute_not_exists({name}) OR {name} = {placeholder}"
    return f"{name} = {placeholder}"


def never_zero(info: ModelInfo | None, item: dict[str, Any]) -> None:
    """Store version 0 as 1 in an item an unconditional write (a batch write, a copy) is about
    to send: a stored version is never 0, so checked writes can tell an item with a version
    from a new object."""
    if info is not None and info.version is not None:
        name = info.field(info.version).stored_name
        if item.get(name) == _ZERO:
            item[name] = {"N": "1"}


def check_mutable(info: ModelInfo, obj: Any, name: str) -> None:
    """Refuse a frozen class up front: put() writes version and timestamps back into the
    object, which must not fail after the item was written."""
    cls = info.cls
    if cls in _mutable_checked:
        return
    try:
        setattr(obj, name, getattr(obj, name))
    except attrs.exceptions.FrozenInstanceError:
        raise ModelError(
            f"{cls.__qualname__} is frozen, but declares version/created_at/updated_at "
            "attributes, which the session updates in place on put(); use a mutable attrs "
            "class",
            model=cls,
            field=name,
        ) from None
    _mutable_checked.add(cls)


def stored_version(info: ModelInfo, raw: Any) -> int | None:
    """The version of a stored item in wire form (None when there is no item or no version)."""
    if raw is None or info.version is None:
        return None
    av = raw.get(info.field(info.version).stored_name)
    return int(av["N"]) if isinstance(av, dict) and "N" in av else None


def conflict_note(info: ModelInfo, raw: Any, expected: int | None) -> str | None:
    """``"version conflict: ..."`` when a write that expected version ``expected`` failed
    because the stored item ``raw`` (wire form, None when absent) has another version; None
    when the version was not the reason (or not checked: ``expected`` None). The note says
    what to do, and advises a reload only where reloading gives an object that can be
    written."""
    if expected is None:
        return None
    assert info.version is not None  # an expected version comes from a versioned model
    if raw is None:
        if expected == 0:
            return None
        return (
            f"version conflict: the object in memory has version {expected}, but the item was "
            "deleted since it was read; put a new object (version 0) to store it again"
        )
    if info.field(info.version).stored_name not in raw:
        if expected == 0:
            return None  # adoptable: the condition failed for another reason
        found = "an item without a version attribute"
    else:
        actual = stored_version(info, raw)
        if actual == expected or (expected == 0 and actual == 0):
            return None
        found = f"version {actual}"
    return (
        f"version conflict: the object in memory has version {expected}, the table has "
        f"{found}; reload the item and try again"
    )


# Why an update without upsert failed when no item was returned.
MISSING_NOTE = "no item with this key exists (pass upsert=True to create it)"


def classify_failure(
    err: ConditionFailed,
    info: ModelInfo,
    stored: Any,
    expected: int | None,
    *,
    must_exist: bool = False,
) -> ConditionFailed:
    """The error to raise for a failed write: ``VersionConflict`` when the stored version is
    not ``expected``; a ``ConditionFailed`` saying so when an item that must exist does not;
    else ``ConditionFailed``. ``stored`` is the returned item, loaded when it loads."""
    raw = err.item
    context: dict[str, Any] = {
        "code": err.code,
        "operation": err.operation,
        "table": err.table,
        "key": err.key,
    }
    where = Context(err.operation or "", err.table, err.key).describe()
    note = conflict_note(info, raw, expected)
    if note is not None:
        assert expected is not None  # conflict_note is None without an expected version
        return VersionConflict(
            f"{where} failed: {note}",
            expected=expected,
            actual=stored_version(info, raw),
            item=stored,
            **context,
        )
    if raw is None and must_exist:
        return ConditionFailed(f"{where} failed: {MISSING_NOTE}", item=None, **context)
    return ConditionFailed(str(err), item=stored, **context)
