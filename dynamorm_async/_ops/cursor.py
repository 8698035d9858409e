"""Opaque, URL-safe pagination cursors that round-trip DynamoDB's ``LastEvaluatedKey``.

A cursor is ``<payload>.<tag>``, both base64url without padding. The payload is the key in
JSON (binary values base64-encoded, numbers kept as the exact text DynamoDB returned) and how
many items the pages before it held (so a ``limit`` holds across pages); the tag is a
BLAKE2b MAC over the payload and over what the cursor is *for*: everything that shapes the
results (operation, table, index, partition or scan segment, range condition, filter,
projection, direction and limit; see ``cursor_scope``). A cursor from any other query, or one
edited by hand, is refused with a ``ValidationError`` instead of silently skipping or
repeating items.

Without a key the tag detects edits and misuse but anyone who reads this code can forge one;
pass ``Session(cursor_key=...)`` (the same secret on every instance of a service) to make
cursors unforgeable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from .._errors import ValidationError
from .._wire.codecs import AttributeValue

__all__ = ["cursor_scope", "decode_cursor", "encode_cursor", "key_from_json", "key_to_json"]

_VERSION = 2
# Request parameters that do not change which items come in which order.
_UNSHAPING = ("Limit", "ExclusiveStartKey", "ConsistentRead", "Select", "ReturnConsumedCapacity")
_UNKEYED = b"dynamorm_async cursor v1"  # still binds cursors to their query, see above
_TAG_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(key: bytes | None, scope: str, payload: str) -> str:
    mac = hashlib.blake2b(digest_size=_TAG_BYTES, key=key or _UNKEYED)
    mac.update(scope.encode())
    mac.update(b"\0")
    mac.update(payload.encode())
    return _b64(mac.digest())


def key_to_json(av: Mapping[str, Any]) -> dict[str, Any]:
    """A key attribute value in JSON form (binary as base64url)."""
    ((tag, value),) = av.items()
    if tag == "B":
        return {"B": _b64(bytes(value))}
    return {tag: value}


def key_from_json(av: Any) -> AttributeValue:
    """The key attribute value ``key_to_json`` made; ``ValueError`` for anything else."""
    if not isinstance(av, dict) or len(av) != 1:
        raise ValueError("not an attribute value")
    ((tag, value),) = av.items()
    if tag == "B" and isinstance(value, str):
        return {"B": _unb64(value)}
    if tag in ("S", "N") and isinstance(value, str):
        return {tag: value}
    raise ValueError(f"unexpected key attribute type {tag!r}")


def cursor_scope(operation: str, params: Mapping[str, Any], limit: int | None) -> str:
    """What a cursor is bound to: the request's parameters that shape its results (names,
    values, conditions, index, segment, direction, projection) and the read's ``limit``."""
    shaping = {k: v for k, v in params.items() if k not in _UNSHAPING}
    return json.dumps([operation, shaping, limit], sort_keys=True, default=repr)


def encode_cursor(
    last_key: Mapping[str, Any], scope: str, key: bytes | None, offset: int = 0
) -> str:
    """The cursor for ``last_key`` (a ``LastEvaluatedKey``), bound to ``scope``; ``offset``
    is how many items the pages up to it held."""
    body = {
        "v": _VERSION,
        "k": {name: key_to_json(av) for name, av in sorted(last_key.items())},
        "n": offset,
    }
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_tag(key, scope, payload)}"


def decode_cursor(
    cursor: Any, scope: str, key: bytes | None
) -> tuple[dict[str, AttributeValue], int]:
    """The ``ExclusiveStartKey`` in ``cursor`` and its offset; ``ValidationError`` when the
    cursor is not one of ours for this very query (edited, truncated, or from a read with
    another table, index, partition, condition, filter, projection, direction or limit)."""
    if not isinstance(cursor, str) or cursor.count(".") != 1:
        raise ValidationError(f"invalid cursor {cursor!r:.60}: not a cursor from page()")
    payload, tag = cursor.split(".")
    if not hmac.compare_digest(tag, _tag(key, scope, payload)):
        raise ValidationError(
            "invalid cursor: it was changed, or it belongs to another read (another table, "
            "index, partition, scan segment, range condition, filter, projection, direction "
            "or limit): cursors only continue the query that made them"
        )
    try:
        body = json.loads(_unb64(payload))
        if body.get("v") != _VERSION:
            raise ValueError(f"cursor version {body.get('v')!r}")
        offset = body["n"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset {offset!r}")
        return {str(name): key_from_json(av) for name, av in body["k"].items()}, offset
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise ValidationError(f"invalid cursor: {exc}") from None
