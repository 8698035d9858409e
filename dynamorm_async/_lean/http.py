"""HTTP/1.1 for the lean transport: h11 over asyncio streams, keep-alive connections pooled
per event loop, the session's connect and read timeouts.

h11 (python-hyper) is the protocol state machine httpcore and httpx are built on; driving it
over ``asyncio.open_connection`` ourselves costs less to import and per request than a full
client (``benchmarks/http_stack`` measures the candidates). Failures are raised as the lean
transport's ``TransportFailure`` subclasses, named as botocore names them.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import h11

from .errors import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

if TYPE_CHECKING:
    import ssl

__all__ = ["Endpoint", "Pool", "Response", "fetch"]

_READ_SIZE = 65536
Headers = list[tuple[bytes, bytes]]


class Endpoint:
    """Where requests go: scheme, host, port and the path prefix of ``endpoint_url``."""

    __slots__ = ("host", "host_bytes", "host_header", "path", "path_bytes", "port", "scheme", "url")

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname
        default = 443 if parts.scheme == "https" else 80
        self.port = parts.port or default
        # As botocore signs it: the port only when it is not the scheme's default.
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if self.port == default else f"{host}:{self.port}"
        self.path = parts.path or "/"
        self.host_bytes = self.host_header.encode()
        self.path_bytes = self.path.encode()


class Response:
    """A whole HTTP answer: status, headers (names lowercased) and body."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body


class _Connection:
    __slots__ = ("h11", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    def usable(self) -> bool:
        """False once the server closed it (an idle keep-alive timeout) or it broke."""
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Keep-alive connections to one endpoint, for the event loop it is used on."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        connect_timeout: float,
        read_timeout: float,
        size: int,
        ca_bundle: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.ca_bundle = ca_bundle  # AWS_CA_BUNDLE, as botocore takes it
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(size)
        self._ssl: ssl.SSLContext | None = None
        self.closed = False

    async def request(self, method: bytes, path: bytes, headers: Headers, body: bytes) -> Response:
        """Send one request and read its whole answer, on a pooled connection."""
        async with self._slots:
            connection = None
            while self._idle:
                candidate = self._idle.pop()
                if candidate.usable():
                    connection = candidate
                    break
                candidate.close()
            if connection is None:
                connection = await self._connect()
            try:
                response = await self._exchange(connection, method, path, headers, body)
            except BaseException:
                connection.close()
                raise
            state = connection.h11
            if state.our_state is h11.DONE and state.their_state is h11.DONE and not self.closed:
                state.start_next_cycle()
                self._idle.append(connection)
            else:
                connection.close()
            return response

    async def _connect(self) -> _Connection:
        endpoint = self.endpoint
        context = None
        if endpoint.scheme == "https":
            if self._ssl is None:
                import ssl  # only for https: plain-HTTP endpoints never load it

                self._ssl = ssl.create_default_context(cafile=self.ca_bundle)
            context = self._ssl
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    endpoint.host, endpoint.port, ssl=context, limit=_READ_SIZE
                ),
                self.connect_timeout,
            )
        except asyncio.TimeoutError as exc:
            raise ConnectTimeoutError(f'Connect timeout on endpoint URL: "{endpoint.url}"') from exc
        except OSError as exc:
            raise EndpointConnectionError(
                f'Could not connect to the endpoint URL: "{endpoint.url}"'
            ) from exc
        return _Connection(reader, writer)

    async def _exchange(
        self,
        connection: _Connection,
        method: bytes,
        path: bytes,
        headers: Headers,
        body: bytes,
    ) -> Response:
        state = connection.h11
        data = state.send(h11.Request(method=method, target=path, headers=headers))
        assert data is not None
        data += state.send(h11.Data(data=body)) or b""
        data += state.send(h11.EndOfMessage()) or b""
        # One timer for the whole answer: on expiry it aborts the connection, and the read
        # that was waiting ends; cheaper than a task per read (asyncio.wait_for).
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            connection.writer.transport.abort()

        timer = asyncio.get_running_loop().call_later(self.read_timeout, expire)
        try:
            connection.writer.write(data)
            status = 0
            reason = ""
            answer_headers: dict[str, str] = {}
            chunks: list[bytes] = []
            reader = connection.reader
            while True:
                event = state.next_event()
                if event is h11.NEED_DATA:
                    state.receive_data(await reader.read(_READ_SIZE))
                    continue
                kind = type(event)
                if kind is h11.Data:
                    chunks.append(event.data)  # type: ignore[union-attr]
                elif kind is h11.Response:
                    status = event.status_code  # type: ignore[union-attr]
                    reason = event.reason.decode("latin-1")  # type: ignore[union-attr]
                    for name, value in event.headers:  # type: ignore[union-attr]
                        text = name.decode("latin-1")
                        answer_headers[text] = value.decode("latin-1")
                elif kind is h11.EndOfMessage:
                    break
                elif kind is h11.ConnectionClosed:
                    raise h11.RemoteProtocolError("connection closed before an answer")
        except (OSError, h11.ProtocolError, asyncio.IncompleteReadError) as exc:
            if expired:
                raise ReadTimeoutError(
                    f'Read timeout on endpoint URL: "{self.endpoint.url}"'
                ) from exc
            raise ConnectionClosedError(
                f"Connection was closed before we received a valid response from endpoint "
                f'URL: "{self.endpoint.url}".'
            ) from exc
        finally:
            timer.cancel()
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return Response(status, reason, answer_headers, body)

    async def close(self) -> None:
        """Close every idle connection; connections in use close when their answer came."""
        self.closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        for connection in idle:
            # A connection that fails to close cleanly is gone all the same.
            with contextlib.suppress(Exception):
                await connection.writer.wait_closed()


async def fetch(url: str, headers: list[tuple[str, str]], *, timeout: float) -> Response:
    """One GET on a connection of its own (the container credentials endpoint)."""
    endpoint = Endpoint(url)
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    pool = Pool(endpoint, connect_timeout=timeout, read_timeout=timeout, size=1)
    try:
        wire = [(b"Host", endpoint.host_bytes)]
        wire += [(name.encode(), value.encode()) for name, value in headers]
        return await pool.request(b"GET", target.encode(), wire, b"")
    finally:
        await pool.close()
