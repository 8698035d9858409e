"""Credentials for the lean transport: given, from the environment (Lambda's), or from the
container endpoint (ECS, EKS Pod Identity, Lambda extensions), refreshed before they expire.

Refreshing follows botocore's windows: within 15 minutes of expiry one request refreshes
while the others go on with the current set (a failed refresh is logged and retried later);
within 10 minutes every request waits for the refresh. The refresh lock is one
``asyncio.Lock`` per event loop, so a session used from a new loop per Lambda invocation, or
from loops in several threads, never waits on a lock bound to another loop; the credentials
themselves are shared.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from urllib.parse import urlsplit

from .errors import CredentialRetrievalError, NoCredentialsError

__all__ = [
    "ADVISORY_REFRESH",
    "MANDATORY_REFRESH",
    "CredentialSource",
    "Credentials",
    "container_loader",
    "missing",
    "from_environment",
]

_log = logging.getLogger("dynamorm_async")

ADVISORY_REFRESH = 15 * 60.0
MANDATORY_REFRESH = 10 * 60.0
_CONTAINER_HOST = "http://169.254.170.2"
# The hosts botocore accepts for a container endpoint over plain HTTP.
_CONTAINER_HOSTS = {"169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost"}
_FETCH_ATTEMPTS = 3
_FETCH_TIMEOUT = 2.0
_FETCH_PAUSE = 1.0


class Credentials:
    """One set of credentials; ``expiry`` in seconds since the epoch, None if they do not
    expire. ``repr`` shows the access key id only."""

    __slots__ = ("access_key", "expiry", "secret_key", "token")

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        token: str | None = None,
        expiry: float | None = None,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token
        self.expiry = expiry

    def __repr__(self) -> str:
        return f"Credentials(access_key={self.access_key!r}, expiry={self.expiry!r})"


def from_environment(environ: Mapping[str, str]) -> Credentials | None:
    """``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``), as botocore's
    environment provider reads them; None when either key is missing."""
    access = environ.get("AWS_ACCESS_KEY_ID")
    secret = environ.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        return None
    token = environ.get("AWS_SESSION_TOKEN") or environ.get("AWS_SECURITY_TOKEN") or None
    return Credentials(access, secret, token)


Loader = Callable[[], Awaitable[Credentials]]


def container_loader(environ: Mapping[str, str]) -> Loader | None:
    """The loader of the container credentials endpoint the environment names, or None.

    Raises ``CredentialRetrievalError`` for a full URI botocore would refuse (plain HTTP to
    a host that is neither loopback nor a container endpoint's address)."""
    relative = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    full = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if relative:
        url = _CONTAINER_HOST + relative
    elif full:
        url = full
        parts = urlsplit(full)
        if parts.scheme != "https" and not _allowed_host(parts.hostname or ""):
            raise CredentialRetrievalError(
                "cannot load AWS credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI must use "
                "https, or http to a loopback or container endpoint address; got host "
                f"{parts.hostname!r}"
            )
    else:
        return None
    token_file = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    token = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")

    async def load() -> Credentials:
        headers = [("Accept", "application/json")]
        auth = token
        if token_file:
            # Read on every refresh: the file is rotated under a running process.
            auth = _read_token(token_file)
        if auth:
            if "\r" in auth or "\n" in auth:
                raise CredentialRetrievalError(
                    "the container authorization token holds a line break"
                )
            headers.append(("Authorization", auth))
        return await _fetch_container(url, headers)

    return load


def missing(reason: str) -> Loader:
    """A loader for when no credentials were found: each request fails, naming why."""

    async def load() -> Credentials:
        raise NoCredentialsError(f"cannot load AWS credentials: {reason}")

    return load


def _read_token(path: str) -> str:
    # A few bytes from a local file: not worth a thread.
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def _allowed_host(host: str) -> bool:
    import ipaddress

    if host in _CONTAINER_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _fetch_container(url: str, headers: list[tuple[str, str]]) -> Credentials:
    from .http import fetch

    problem = ""
    for attempt in range(_FETCH_ATTEMPTS):
        if attempt:
            await asyncio.sleep(_FETCH_PAUSE)
        try:
            response = await fetch(url, headers, timeout=_FETCH_TIMEOUT)
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
            continue
        if response.status != 200:
            problem = f"HTTP {response.status}"
            continue
        try:
            data = json.loads(response.body)
            expiration = data.get("Expiration")
            expiry = _parse_time(expiration) if expiration else None
            return Credentials(
                str(data["AccessKeyId"]), str(data["SecretAccessKey"]), data.get("Token"), expiry
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            what = f"no {exc.args[0]}" if isinstance(exc, KeyError) else type(exc).__name__
            raise CredentialRetrievalError(
                f"cannot load AWS credentials: the container credentials endpoint {url} "
                f"answered without usable credentials ({what})"
            ) from exc
    raise CredentialRetrievalError(
        f"cannot load AWS credentials from the container endpoint {url}: {problem}"
    )


def _parse_time(text: str) -> float:
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text).timestamp()


class CredentialSource:
    """The credentials requests are signed with: a fixed set, or one a loader refreshes
    (a loader that raises ``NoCredentialsError`` when there is nothing to load)."""

    def __init__(self, current: Credentials | None, loader: Loader | None = None) -> None:
        self.current = current
        self._loader = loader
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._guard = threading.Lock()

    async def get(self) -> Credentials:
        """The credentials to sign with now, refreshed first when they expire soon."""
        current = self.current
        if current is not None and (
            current.expiry is None or current.expiry - time.time() > ADVISORY_REFRESH
        ):
            return current
        return await self._refresh(current)

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            with self._guard:
                lock = self._locks.setdefault(loop, asyncio.Lock())
        return lock

    async def _refresh(self, current: Credentials | None) -> Credentials:
        if self._loader is None:
            assert current is not None  # fixed credentials never expire here
            return current
        lock = self._lock()
        mandatory = current is None or (
            current.expiry is not None and current.expiry - time.time() <= MANDATORY_REFRESH
        )
        if not mandatory and lock.locked():
            assert current is not None
            return current  # another request refreshes them; these are still good
        async with lock:
            latest = self.current
            if latest is not None and latest is not current:
                return latest  # refreshed while we waited
            try:
                fresh = await self._loader()
            except Exception:
                if mandatory:
                    raise
                _log.warning(
                    "dynamorm_async: refreshing credentials failed; the current ones are "
                    "used until they are closer to expiry",
                    exc_info=True,
                )
                assert current is not None
                return current
            self.current = fresh
            return fresh
