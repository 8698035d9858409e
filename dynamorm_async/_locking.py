"""Optimistic locking: the version condition of a write, and telling a lost race
(``VersionConflict``) from any other failed condition.

A model with ``version="..."`` keeps an int that counts its writes. Version 0 means "never
stored": writing such an object requires that no item has its key. Otherwise the stored
version must equal the one in memory, and the write stores it plus one.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._compile import ExpressionContext
from ._errors import ConditionFailed, ModelError, ValidationError, VersionConflict
from ._model import ModelInfo
from ._translate import Context

__all__ = ["check_mutable", "classify_failure", "version_condition", "version_of"]

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
    placeholder = f":v{len(ctx.values)}"
    ctx.values[placeholder] = {"N": str(expected)}
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
    if expected is not None:
        actual: int | None = None
        if raw is not None and info.version is not None:
            av = raw.get(info.field(info.version).stored_name)
            actual = int(av["N"]) if isinstance(av, dict) and "N" in av else None
        if (raw is None and expected != 0) or (raw is not None and actual != expected):
            found = "no stored item" if raw is None else f"version {actual}"
            return VersionConflict(
                f"{where} failed: version conflict: the object in memory has version "
                f"{expected}, the table has {found}; reload the item and try again",
                expected=expected,
                actual=actual,
                item=stored,
                **context,
            )
    if raw is None and must_exist:
        return ConditionFailed(
            f"{where} failed: no item with this key exists (pass upsert=True to create it)",
            item=None,
            **context,
        )
    return ConditionFailed(str(err), item=stored, **context)
