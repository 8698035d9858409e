"""AWS Signature Version 4 for DynamoDB's JSON protocol, with the standard library only.

The canonical request follows botocore's ``SigV4Auth`` byte for byte (a property test signs
random requests with both): header names lowercased, values stripped with inner runs of
spaces collapsed, headers sorted, the path URI-encoded except ``/`` and ``~``, an empty query.
The signing key depends on the secret, the day and the region only, so it is derived once a
day (four HMACs) and each request costs two SHA-256 digests and one HMAC.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

__all__ = ["SERVICE", "Signer", "canonical_path"]

SERVICE = "dynamodb"
_ALGORITHM = "AWS4-HMAC-SHA256"
# botocore leaves these out of the signature: proxies and SDKs add or change them.
_UNSIGNED = frozenset({"expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"})


@functools.lru_cache(maxsize=64)
def canonical_path(path: str) -> str:
    """The path as SigV4 signs it: dot segments and empty segments removed (RFC 3986
    5.2.4, as botocore's ``remove_dot_segments``), then URI-encoded except ``/`` and ``~``."""
    if not path:
        return "/"
    parts: list[str] = []
    for part in path.split("/"):
        if part and part != ".":
            if part == "..":
                if parts:
                    parts.pop()
            else:
                parts.append(part)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and parts else ""
    return quote(first + "/".join(parts) + last, safe="/~")


class Signer:
    """Signs requests for one region; the signing key of the day is cached per secret."""

    __slots__ = ("_key", "region", "service")

    def __init__(self, region: str, service: str = SERVICE) -> None:
        self.region = region
        self.service = service
        self._key: tuple[str, str, bytes] | None = None  # (secret, day, key)

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached = self._key
        if cached is not None and cached[0] == secret and cached[1] == day:
            return cached[2]
        key = _hmac(("AWS4" + secret).encode(), day)
        for part in (self.region, self.service, "aws4_request"):
            key = _hmac(key, part)
        self._key = (secret, day, key)
        return key

    def authorization(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        amz_date: str,
        access_key: str,
        secret_key: str,
    ) -> str:
        """The ``Authorization`` header for a request whose headers (``X-Amz-Date`` and the
        session token among them) are ``headers``; ``path`` as sent (it is encoded here)."""
        signed: dict[str, str] = {}
        for name, value in headers.items():
            lowered = name.lower()
            if lowered in _UNSIGNED:
                continue
            value = " ".join(value.split())
            signed[lowered] = f"{signed[lowered]},{value}" if lowered in signed else value
        names = sorted(signed)
        canonical_headers = "".join(f"{n}:{signed[n]}\n" for n in names)
        return self._sign(
            method, path, canonical_headers, ";".join(names), body, amz_date, access_key, secret_key
        )

    def json_request(
        self,
        path: str,
        host: str,
        target: str,
        content_type: str,
        body: bytes,
        amz_date: str,
        access_key: str,
        secret_key: str,
        token: str | None,
    ) -> str:
        """``authorization`` for the headers every DynamoDB request has (``Content-Type``,
        ``Host``, ``X-Amz-Date``, ``X-Amz-Security-Token`` if any, ``X-Amz-Target``), the
        canonical form written directly: these values hold no spaces to collapse (tested
        equal to ``authorization``)."""
        if token:
            canonical_headers = (
                f"content-type:{content_type}\nhost:{host}\nx-amz-date:{amz_date}\n"
                f"x-amz-security-token:{token}\nx-amz-target:{target}\n"
            )
            signed_names = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
        else:
            canonical_headers = (
                f"content-type:{content_type}\nhost:{host}\nx-amz-date:{amz_date}\n"
                f"x-amz-target:{target}\n"
            )
            signed_names = "content-type;host;x-amz-date;x-amz-target"
        return self._sign(
            "POST", path, canonical_headers, signed_names, body, amz_date, access_key, secret_key
        )

    def _sign(
        self,
        method: str,
        path: str,
        canonical_headers: str,
        signed_names: str,
        body: bytes,
        amz_date: str,
        access_key: str,
        secret_key: str,
    ) -> str:
        canonical = (
            f"{method}\n{canonical_path(path)}\n\n{canonical_headers}\n{signed_names}\n"
            f"{hashlib.sha256(body).hexdigest()}"
        )
        day = amz_date[:8]
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = (
            f"{_ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.new(
            self._signing_key(secret_key, day), to_sign.encode(), hashlib.sha256
        ).hexdigest()
        return (
            f"{_ALGORITHM} Credential={access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()
