"""The one walk the item parser and the item serializer share: through AttributeValue maps,
changing only binary values (bytes <-> base64 text), leaving everything else as it is.

Most items hold no binary, map or list value at all; one membership test per attribute finds
that out, and such an item is returned as it is, without a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["convert_item", "convert_value"]

Binary = Callable[[Any], Any]


def convert_item(item: dict[str, Any], binary: Binary) -> dict[str, Any]:
    """``item`` with ``binary`` applied to every B and BS member, at any depth."""
    for value in item.values():
        if "M" in value or "L" in value or "B" in value or "BS" in value:
            break
    else:
        return item
    return {name: convert_value(value, binary) for name, value in item.items()}


def convert_value(value: dict[str, Any], binary: Binary) -> dict[str, Any]:
    """One AttributeValue with ``binary`` applied to its binary values, at any depth."""
    if "M" in value:
        return {"M": convert_item(value["M"], binary)}
    if "L" in value:
        return {"L": [convert_value(each, binary) for each in value["L"]]}
    if "B" in value:
        return {"B": binary(value["B"])}
    if "BS" in value:
        return {"BS": [binary(each) for each in value["BS"]]}
    return value
