"""What one copy is asked to do: its tables (``CopyTables``) and its options
(``CopyOptions``), checked once by ``copy()`` and passed along as they are."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._errors import ValidationError
from .._model.models import ModelInfo
from .._throughput.budget import Budget

__all__ = ["CopyOptions", "CopyTables", "wire_mark"]

# How the copy writes: batches (nobody else writes the target meanwhile), or one checked
# request per source item (conditional PutItem, or a transaction when a key changes).
BATCH = "batch"
CHECKED = "checked"


@attrs.frozen
class CopyTables:
    """The two tables of a copy (one, in place) and what is known of them."""

    source: str
    target: str
    source_info: ModelInfo | None
    target_info: ModelInfo | None
    source_keys: tuple[str, ...]  # the live source table's key names
    target_keys: tuple[str, ...]  # the live target table's (or, in a dry run, the model's)

    @property
    def in_place(self) -> bool:
        return self.source == self.target

    @property
    def version(self) -> str | None:
        """The stored name of the version attribute of an in-place rewrite's items: the
        source model's (None when there is no model, or it has no version)."""
        return _version_name(self.source_info)

    @property
    def target_version(self) -> str | None:
        """The stored name of the target model's version attribute, if it has one."""
        return _version_name(self.target_info)

    def source_key(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The source table's key of a scanned item (for failure reports)."""
        return {n: item[n] for n in self.source_keys if n in item}


def _version_name(info: ModelInfo | None) -> str | None:
    if info is None or info.version is None:
        return None
    return info.field(info.version).stored_name


@attrs.frozen
class CopyOptions:
    """Everything a copy was asked beyond its tables; see ``TableManager.copy``."""

    transform: Callable[[Any], Any] | None = None
    raw: bool = False
    on_error: str = "raise"
    dry_run: bool = False
    concurrency: int = 8
    max_attempts: int = 10
    page_size: int = 500
    deadline: float | None = None
    on_progress: Callable[[Any], Any] | None = None
    on_checkpoint: Callable[[Any], Any] | None = None
    mark: Mapping[str, Mapping[str, str]] | None = None  # wire form
    writes: str = BATCH
    budget: Budget | None = None


def wire_mark(mark: Any, target_keys: tuple[str, ...]) -> dict[str, dict[str, str]] | None:
    """``mark`` (attribute name -> str or int) in wire form; ``ValidationError`` naming what
    is wrong with it."""
    if mark is None:
        return None
    if not isinstance(mark, Mapping) or not mark:
        raise ValidationError(
            f"mark takes a dict of attribute names to str or int values, got {mark!r:.80}"
        )
    out: dict[str, dict[str, str]] = {}
    for name, value in mark.items():
        if not isinstance(name, str) or not name:
            raise ValidationError(f"mark: attribute names are non-empty str, got {name!r:.60}")
        if name in target_keys:
            raise ValidationError(f"mark: {name!r} is a key attribute; name another attribute")
        if isinstance(value, str) and value:
            out[name] = {"S": value}
        elif isinstance(value, int) and not isinstance(value, bool):
            out[name] = {"N": str(value)}
        else:
            raise ValidationError(
                f"mark: the value of {name!r} must be a non-empty str or an int, got {value!r:.60}"
            )
    return out
