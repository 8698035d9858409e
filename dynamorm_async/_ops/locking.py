"""Optimistic locking: the version condition of a write, and telling a lost race
(``VersionConflict``) from any other failed condition.

A model with ``version="..."`` keeps an int that counts its writes. Version 0 means "never
stored": writing such an object requires that no item has its key. Otherwise the stored
version must equal the one in memory, and the write stores it plus one.
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
    "stored_version",
    "version_condition",
    "version_of",
]

_mutable_checked: set[type] = set()


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
    """The condition that the stored item has version ``expected`` (absent for 0)."""
    assert info.version is not None
    if expected == 0:
        return f"attribute_not_exists({ctx.name(info.hash_key.stored_name)})"
    placeholder = ctx.add_value({"N": str(expected)})
    return f"{ctx.name(info.field(info.version).stored_name)} = {placeholder}"


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
    when the version was not the reason (or not checked: ``expected`` None)."""
    if expected is None:
        return None
    actual = stored_version(info, raw)
    if (raw is None and expected != 0) or (raw is not None and actual != expected):
        found = "no stored item" if raw is None else f"version {actual}"
        return (
            f"version conflict: the object in memory has version {expected}, the table has {found}"
        )
    return None


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
            f"{where} failed: {note}; reload the item and try again",
            expected=expected,
            actual=stored_version(info, raw),
            item=stored,
            **context,
        )
    if raw is None and must_exist:
        return ConditionFailed(f"{where} failed: {MISSING_NOTE}", item=None, **context)
    return ConditionFailed(str(err), item=stored, **context)
