"""The size of an item as DynamoDB counts it, to refuse items over 400 KB before sending them.

The rules (DynamoDB developer guide, "Item sizes and formats"): attribute names and strings
count their UTF-8 bytes, binary its bytes, a number about one byte per two significant digits
plus one, BOOL and NULL one byte, lists and maps three bytes plus one byte per element on top
of their contents. The figure here never exceeds DynamoDB's own, so an item it accepts is
never refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._errors import ValidationError

__all__ = ["MAX_ITEM_BYTES", "check_item_size", "item_size"]

MAX_ITEM_BYTES = 400 * 1024


def _number_size(text: str) -> int:
    digits = text.lstrip("-").split("e")[0].split("E")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def _text_size(text: str) -> int:
    # isascii() reads a flag of the string: most names and values need no encoding.
    return len(text) if text.isascii() else len(text.encode())


def _value_size(av: Mapping[str, Any]) -> int:
    for tag, value in av.items():
        if tag == "S":
            return _text_size(value)
        if tag == "N":
            return _number_size(value)
        if tag == "B":
            return len(value)
        if tag in ("BOOL", "NULL"):
            return 1
        if tag == "SS":
            return sum(_text_size(v) for v in value)
        if tag == "NS":
            return sum(_number_size(v) for v in value)
        if tag == "BS":
            return sum(len(v) for v in value)
        if tag == "L":
            return 3 + sum(1 + _value_size(v) for v in value)
        if tag == "M":
            return 3 + sum(1 + _text_size(k) + _value_size(v) for k, v in value.items())
    return 0


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """The size in bytes of a wire-form item, as DynamoDB counts it against its 400 KB limit."""
    size = 0
    for name, av in item.items():
        size += _text_size(name) + _value_size(av)
    return size


def check_item_size(
    item: Mapping[str, Mapping[str, Any]],
    what: Callable[[], str],
    *,
    model: type | None = None,
    operation: str | None = None,
    table: str | None = None,
) -> None:
    """``ValidationError`` naming ``what()`` (the model and key; built only then) when
    ``item`` is over 400 KB."""
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise ValidationError(
            f"{what()}: the item is {size} bytes, over DynamoDB's limit of {MAX_ITEM_BYTES} "
            "bytes (400 KB)",
            model=model,
            operation=operation,
            table=table,
        )
