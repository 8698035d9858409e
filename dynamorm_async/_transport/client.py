"""The session's aiobotocore client: opened lazily, once per event loop, closed for sure.

aiobotocore (and aiohttp under it) binds a client to the event loop it was first used on. A
Lambda handler that calls ``asyncio.run`` on every invocation, or a test runner with a loop
per test, therefore needs one client per loop. ``Clients`` keeps one entry per running loop:

- the first request on a loop opens that loop's client under a lock, so 100 coroutines that
  start at once share one client;
- each entry registers a tiny async generator with its loop. ``asyncio.run`` (and
  ``asyncio.Runner``, and pytest-asyncio) finalise a loop's async generators before closing
  it, so the entry's client is closed properly on its own loop when that loop ends, with no
  "Unclosed client session" warnings and no work for the caller;
- ``close()`` closes every entry it can reach and refuses further requests.

Credentials are resolved by the botocore session once and shared by every loop's client: a
Lambda's environment credentials cost nothing per invocation. Refreshable credentials
(container, instance, assume-role, SSO) guard their refresh with an ``asyncio.Lock``, which
binds to the first loop that waits on it and then fails on every other loop; the shared
object gets a lock per loop instead (``_LoopLocks``), so a refresh on one loop serves all.

aiobotocore is imported here only inside functions, so importing the package stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from .._errors import SessionClosed, SessionError, scrub
from .choose import choose, lean_config
from .translate import CREDENTIAL_ERRORS, mro_names, scrub_exception

if TYPE_CHECKING:
    from .._lean.client import LeanClient, LeanTransport

__all__ = ["ClientOptions", "Clients", "default_config"]

# Defaults for Lambda and services: fail fast on a dead connection, retry throttling and
# transient errors with the SDKs' standard backoff, and enough pooled connections for a
# service that runs many requests at once (aiobotocore's default of 10 queues the rest).
# botocore's parameter validation walks every attribute of every request again; the requests
# this library builds are valid by construction (the converter checks every value, the
# session checks names, limits and keys), so it is off unless a caller's config turns it on.
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_POOL_SIZE = 64


def default_config() -> Any:
    """The ``AioConfig`` a session starts from; a caller's ``config=`` is merged over it."""
    from aiobotocore.config import AioConfig

    return AioConfig(
        connect_timeout=DEFAULT_CONNECT_TIMEOUT,
        read_timeout=DEFAULT_READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": DEFAULT_MAX_ATTEMPTS},
        max_pool_connections=DEFAULT_POOL_SIZE,
        tcp_keepalive=True,
        parameter_validation=False,
    )


class ClientOptions:
    """Everything needed to open a client; credentials are kept out of ``repr``."""

    __slots__ = (
        "aioboto3_session",
        "botocore_session",
        "config",
        "credentials",
        "endpoint_url",
        "profile",
        "region",
        "transport",
    )

    def __init__(
        self,
        *,
        region: str | None,
        endpoint_url: str | None,
        config: Any,
        credentials: dict[str, str],
        profile: str | None,
        botocore_session: Any,
        aioboto3_session: Any,
        transport: str = "auto",
    ) -> None:
        self.transport = transport
        self.region = region
        self.endpoint_url = endpoint_url
        self.config = config
        self.credentials = credentials
        self.profile = profile
        self.botocore_session = botocore_session
        self.aioboto3_session = aioboto3_session

    def __repr__(self) -> str:
        return f"ClientOptions(region={self.region!r}, endpoint_url={self.endpoint_url!r})"


class _Entry:
    """The client of one event loop."""

    __slots__ = ("client", "guard", "lock", "loop", "stack")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = asyncio.Lock()
        self.client: Any = None
        self.stack: contextlib.AsyncExitStack | None = None
        self.guard: Any = None

    async def close(self) -> None:
        guard, self.guard = self.guard, None
        if guard is not None:
            await guard.aclose()  # runs _guard's finally: closes the client


class Clients:
    """One client per running event loop, for one session: the lean transport's or
    aiobotocore's, chosen when the first one opens (``choose``)."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self.state = "unopened"  # -> "open" on the first client -> "closed" on close()
        # "lean" or "aiobotocore" once chosen; ``why`` says why auto took aiobotocore.
        self.transport: Literal["lean", "aiobotocore"] | None = (
            None if options.transport == "auto" else options.transport  # type: ignore[assignment]
        )
        self.why: str | None = None
        self._lean: LeanTransport | None = None
        self._raw: Clients | None = None  # aiobotocore's, for db.client() on the lean transport
        self._entries: dict[asyncio.AbstractEventLoop, _Entry] = {}
        self._aio_session: Any = None
        self._credentials: Any = None  # what the last client opened signs with
        self._closing: asyncio.Future[None] | None = None

    def secrets(self) -> tuple[str | None, ...]:
        """The credentials requests are signed with, to keep them out of error messages."""
        given = self.options.credentials
        lean = self._lean.credentials.current if self._lean is not None else None
        return (
            given.get("aws_access_key_id"),
            given.get("aws_secret_access_key"),
            given.get("aws_session_token"),
            *_credential_values(self._credentials),
            *((lean.access_key, lean.secret_key, lean.token) if lean is not None else ()),
        )

    async def raw(self) -> Any:
        """The running loop's aiobotocore client, whichever transport requests take."""
        await self.get()  # chooses the transport (and checks the session is open)
        if self.transport == "aiobotocore":
            return await self.get()
        if self._raw is None:
            o = self.options
            self._raw = Clients(
                ClientOptions(
                    region=o.region,
                    endpoint_url=o.endpoint_url,
                    config=o.config,
                    credentials=o.credentials,
                    profile=o.profile,
                    botocore_session=o.botocore_session,
                    aioboto3_session=o.aioboto3_session,
                    transport="aiobotocore",
                )
            )
        return await self._raw.get()

    def _choose(self) -> None:
        """Decide the transport (once) and, for the lean one, set it up."""
        o = self.options
        forced = self.transport == "lean"
        uses = next(
            (
                f"{name}= is given"
                for name, value in (
                    ("botocore_session", o.botocore_session),
                    ("aioboto3_session", o.aioboto3_session),
                    ("profile", o.profile),
                    ("config", None if forced else o.config),
                )
                if value is not None
            ),
            None,
        )
        choice = choose(
            region=o.region,
            endpoint_url=o.endpoint_url,
            credentials=o.credentials,
            profile=o.profile,
            uses_botocore=uses,
            environ=os.environ,
            forced=forced,
        )
        if choice.reason is not None:
            self.transport, self.why = "aiobotocore", choice.reason
            return
        assert choice.credentials is not None
        from .._lean.client import LeanSettings, LeanTransport

        tuning = lean_config(o.config) if o.config is not None else {}
        self._lean = LeanTransport(
            LeanSettings(
                region=choice.region,
                endpoint_url=choice.endpoint_url,
                credentials=choice.credentials,
                ca_bundle=choice.ca_bundle,
                connect_timeout=tuning.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
                read_timeout=tuning.get("read_timeout", DEFAULT_READ_TIMEOUT),
                max_attempts=tuning.get("max_attempts", DEFAULT_MAX_ATTEMPTS),
                pool_size=tuning.get("pool_size", DEFAULT_POOL_SIZE),
            )
        )
        self.transport = "lean"

    def check_open(self) -> None:
        """Raise ``SessionClosed`` when the session was closed."""
        if self.state == "closed":
            raise SessionClosed(
                "this Session is closed; create a new Session to send more requests"
            )

    async def get(self) -> Any:
        """The client for the running loop, opened on first use."""
        self.check_open()
        loop = asyncio.get_running_loop()
        entry = self._entries.get(loop)
        if entry is not None and entry.client is not None:
            return entry.client
        return await self._open(loop)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> Any:
        entry = self._entries.get(loop)
        if entry is None:
            # Entries of loops that ended without finalising their generators (a loop closed
            # by hand) are dropped here; their connections close with their sockets.
            for old in [lp for lp in self._entries if lp.is_closed()]:
                del self._entries[old]
            entry = self._entries[loop] = _Entry(loop)
        async with entry.lock:
            self.check_open()
            if entry.client is None:
                stack = contextlib.AsyncExitStack()
                entry.client = await stack.enter_async_context(self._client_context())
                entry.stack = stack
                entry.guard = _guard(self, entry)
                await entry.guard.asend(None)
                if self.state == "closed":  # close() ran while the client was being opened
                    await entry.close()
                    self.check_open()
                self.state = "open"
        return entry.client

    def _client_context(self) -> _Opening | _LeanOpening:
        if self.transport != "aiobotocore" and self._lean is None:
            self._choose()
        if self._lean is not None:
            return _LeanOpening(self._lean)
        o = self.options
        config = default_config()
        if o.config is not None:
            config = config.merge(o.config)
        kwargs: dict[str, Any] = {"endpoint_url": o.endpoint_url, "config": config}
        if o.region is not None:
            kwargs["region_name"] = o.region
        if o.aioboto3_session is not None:
            aioboto3_session = o.aioboto3_session
            return _Opening(self, lambda: aioboto3_session.client("dynamodb", **kwargs))
        if self._aio_session is None:
            self._aio_session = o.botocore_session or _new_aio_session(o.profile)
        session = self._aio_session
        kwargs.update(o.credentials)
        return _Opening(
            self,
            lambda: session.create_client("dynamodb", **kwargs),
            own=o.botocore_session is None,
        )

    def signs_with(self, credentials: Any) -> None:
        """Note the credentials a new client signs with, and make them work on every loop."""
        if credentials is not None:
            _share_across_loops(credentials)
        self._credentials = credentials

    def forget(self, entry: _Entry) -> None:
        if self._entries.get(entry.loop) is entry:
            del self._entries[entry.loop]

    async def close(self) -> None:
        """Close every client; idempotent, and finishes even when the caller is cancelled."""
        self.state = "closed"
        if self._raw is not None:
            await self._raw.close()
        if self._closing is None or self._closing.get_loop() is not asyncio.get_running_loop():
            if not self._entries:
                return
            self._closing = asyncio.ensure_future(self._close_all())
        await asyncio.shield(self._closing)

    async def _close_all(self) -> None:
        current = asyncio.get_running_loop()
        entries = list(self._entries.values())
        self._entries.clear()
        waits: list[Awaitable[None]] = []
        for entry in entries:
            if entry.loop is current:
                waits.append(entry.close())
            elif entry.loop.is_running() and not entry.loop.is_closed():
                # A loop in another thread: close its client there.
                future = asyncio.run_coroutine_threadsafe(entry.close(), entry.loop)
                waits.append(asyncio.wrap_future(future))
            # A loop that is closed, or stopped and idle, cannot run the close; its client
            # was finalised with the loop (asyncio.run) or goes with its sockets.
        results = await asyncio.gather(*waits, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]


async def _guard(clients: Clients, entry: _Entry) -> AsyncIterator[None]:
    """Lives as long as the entry; finalised by the loop's shutdown or by ``_Entry.close``."""
    try:
        yield
    finally:
        clients.forget(entry)
        stack, entry.stack, entry.client = entry.stack, None, None
        if stack is not None:
            await stack.aclose()


def _new_aio_session(profile: str | None) -> Any:
    from aiobotocore.session import AioSession

    from .response_parser import install

    session = AioSession(profile=profile) if profile else AioSession()
    # Only botocore sessions created here get the item parser: a caller's own session keeps
    # the parser it was configured with.
    install(session)
    return session


class _LoopLocks:
    """``asyncio.Lock``'s interface (``locked()``, ``async with``) with one lock per event
    loop, for credentials shared by the clients of many loops: coroutines of one loop wait
    for that loop's refresh, and no loop ever waits on a lock bound to another."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._guard = threading.Lock()  # loops in several threads add their locks at once

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            with self._guard:
                lock = self._locks.setdefault(loop, asyncio.Lock())
        return lock

    def locked(self) -> bool:
        return self._lock().locked()

    async def __aenter__(self) -> None:
        await self._lock().acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock().release()


def _share_across_loops(credentials: Any) -> None:
    """Give refreshable credentials a lock per loop in place of their one ``asyncio.Lock``.

    aiobotocore creates that lock in ``_create_lock`` and only ever uses it through
    ``locked()`` and ``async with``, which ``_LoopLocks`` provides. Values stay shared, so a
    refresh on one loop is seen by the others, and a session passed in gets the same fix.
    """
    if isinstance(getattr(credentials, "_refresh_lock", None), asyncio.Lock):
        credentials._refresh_lock = _LoopLocks()


def _credential_values(credentials: Any) -> tuple[str | None, ...]:
    """Access key id, secret and token of resolved credentials, read without a refresh."""
    if credentials is None:
        return ()
    if hasattr(credentials, "_refresh_using"):
        # Refreshable credentials refuse plain attribute access; the set in use is here.
        credentials = getattr(credentials, "_frozen_credentials", None)
        if credentials is None:
            return ()
    return tuple(getattr(credentials, name, None) for name in ("access_key", "secret_key", "token"))


class _LeanOpening:
    """Open the running loop's lean client; close its connections at the end."""

    def __init__(self, transport: LeanTransport) -> None:
        self.transport = transport
        self.client: LeanClient | None = None

    async def __aenter__(self) -> LeanClient:
        self.client = self.transport.client()
        return self.client

    async def __aexit__(self, *exc_info: Any) -> None:
        if self.client is not None:
            await self.client.close()


class _Opening:
    """Open a client, turning configuration errors (region, credentials) into
    ``SessionError``, and share its credentials across loops.

    A class, not an ``asynccontextmanager``: a loop's shutdown finalises every async
    generator at once, and a generator-based context would be closed by the loop while
    ``_guard`` is still exiting it.
    """

    def __init__(self, clients: Clients, create: Callable[[], Any], *, own: bool = False) -> None:
        self.clients = clients
        self.create = create
        self.own = own  # a client of a botocore session the Session created itself
        self.context: Any = None

    async def __aenter__(self) -> Any:
        from botocore.exceptions import InvalidRegionError, NoRegionError

        try:
            self.context = self.create()
            client = await self.context.__aenter__()
        except NoRegionError as exc:
            raise SessionError(
                "no AWS region: pass Session(region=...), set AWS_DEFAULT_REGION or give the "
                "profile a region"
            ) from exc
        except InvalidRegionError as exc:
            region = exc.kwargs.get("region_name")
            raise SessionError(
                f"{region!r} is not an AWS region name (such as 'eu-west-1'): check "
                "Session(region=...), AWS_REGION / AWS_DEFAULT_REGION and the profile's region"
            ) from exc
        except Exception as exc:
            # Opening a client resolves the credentials: a credentials endpoint that cannot
            # be reached or answers nonsense, a profile that does not exist, bad settings.
            secrets = self.clients.secrets()
            scrub_exception(exc, secrets)
            detail = scrub(f"{type(exc).__name__}: {exc}", secrets)
            if mro_names(exc) & set(CREDENTIAL_ERRORS):
                raise SessionError(f"cannot load AWS credentials: {detail}") from exc
            raise SessionError(
                "cannot open a DynamoDB client (resolving its region, credentials and "
                f"configuration): {detail}"
            ) from exc
        # The credentials this client signs with, as botocore resolved them for it (the
        # session's cached object, or the ones given), read without resolving them again.
        get_credentials = getattr(client, "_get_credentials", None)
        self.clients.signs_with(get_credentials() if get_credentials is not None else None)
        if self.own:
            from .request_serializer import install

            install(client)
        return client

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.context.__aexit__(*exc_info)
