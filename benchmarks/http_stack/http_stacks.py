"""The four HTTP/1.1 client stacks of the ``http_stack`` scenario, each sending one ready
DynamoDB JSON request (the same method, path, headers and body every time) and returning the
status and the whole answer body.

- ``aiohttp``: a ``ClientSession`` on a ``TCPConnector`` (keep-alive, up to ``limit``
  connections);
- ``httpcore``: an ``AsyncConnectionPool`` (keep-alive, up to ``limit`` connections), as
  released; and the same with the fix of encode/httpcore#1103 applied (see ``_Httpcore``);
- ``h11``: one ``h11.Connection`` per socket opened with ``asyncio.open_connection``, kept
  for the next request (``start_next_cycle``), in a minimal pool;
- ``raw``: the floor, a hand-written exchange on the same streams and pool: the request
  bytes written, ``readuntil(b"\\r\\n\\r\\n")``, the status and Content-Length parsed,
  ``readexactly``.

This module imports only ``asyncio`` and what the interpreter loads at start-up; each stack
imports its library when it is created, so that ``bench_http_stack.py`` can see, in a fresh
process, which modules a stack's first request imports on top of ``import <library>`` (run
as ``python http_stacks.py``, see ``_probe``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["LIBRARY", "STACKS", "Stack", "make_stack"]

AIOHTTP, HTTPCORE, H11, RAW = "aiohttp", "httpcore", "h11", "raw asyncio streams (floor)"
HTTPCORE_FIXED = "httpcore, sniffio look-up fixed"
STACKS = (AIOHTTP, HTTPCORE, HTTPCORE_FIXED, H11, RAW)
# The module a stack's code imports (besides asyncio, which every stack runs on).
LIBRARY = {
    AIOHTTP: "aiohttp",
    HTTPCORE: "httpcore",
    HTTPCORE_FIXED: "httpcore",
    H11: "h11",
    RAW: None,
}

Headers = list[tuple[bytes, bytes]]
_RELEASED: dict[str, Any] = {}  # httpcore's own current_async_library, before any patch


class Stack:
    """One stack: ``await request()`` sends the request and returns (status, body)."""

    name: str

    async def request(self) -> tuple[int, bytes]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


def make_stack(name: str, url: str, headers: Headers, body: bytes, limit: int) -> Stack:
    """The stack ``name`` for POSTs of ``body`` with ``headers`` to ``url``
    (``http://host:port/``), keeping up to ``limit`` connections."""
    if name == AIOHTTP:
        return _Aiohttp(url, headers, body, limit)
    if name in (HTTPCORE, HTTPCORE_FIXED):
        return _Httpcore(url, headers, body, limit, fixed=name == HTTPCORE_FIXED)
    if name == H11:
        return _Pooled(H11, url, headers, body, limit)
    if name == RAW:
        return _Pooled(RAW, url, headers, body, limit)
    raise ValueError(f"unknown stack {name!r}")


class _Aiohttp(Stack):
    def __init__(self, url: str, headers: Headers, body: bytes, limit: int) -> None:
        import aiohttp
        import yarl

        self.name = AIOHTTP
        self._url = yarl.URL(url)
        self._headers = {k.decode(): v.decode() for k, v in headers}
        self._body = body
        # The same headers on the wire as the other stacks (no User-Agent, Accept or
        # Accept-Encoding of aiohttp's own) and, like them, no timeouts.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            timeout=aiohttp.ClientTimeout(),
            auto_decompress=False,
        )

    async def request(self) -> tuple[int, bytes]:
        async with self._session.post(self._url, data=self._body, headers=self._headers) as r:
            return r.status, await r.read()

    async def close(self) -> None:
        await self._session.close()


def _asyncio_library() -> str:
    return "asyncio"


class _Httpcore(Stack):
    """httpcore 1.0 asks ``current_async_library()`` which event loop runs whenever it makes a
    lock, event or semaphore (several per request); that function tries ``import sniffio``,
    which anyio >= 4.11 no longer installs, and a failed import is not cached, so every call
    searches ``sys.path`` again. ``fixed`` stands for httpcore with encode/httpcore#1103
    (sniffio looked up once; open at the time of writing), or with sniffio installed: the
    function answers "asyncio" at once. It is set before each request, so that both
    variants can run in one process."""

    def __init__(self, url: str, headers: Headers, body: bytes, limit: int, *, fixed: bool) -> None:
        import httpcore
        from httpcore import _synchronization

        self.name = HTTPCORE_FIXED if fixed else HTTPCORE
        self._sync: Any = _synchronization
        released = _RELEASED.setdefault(
            "current_async_library", _synchronization.current_async_library
        )
        self._detect = _asyncio_library if fixed else released
        self._url = httpcore.URL(url)
        self._headers = headers
        self._body = body
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=limit, max_keepalive_connections=limit
        )

    async def request(self) -> tuple[int, bytes]:
        self._sync.current_async_library = self._detect
        # ``request`` reads the whole body and releases the connection.
        response = await self._pool.request(
            "POST", self._url, headers=self._headers, content=self._body
        )
        return response.status, response.content

    async def close(self) -> None:
        await self._pool.aclose()


class _Pooled(Stack):
    """Connections on ``asyncio.open_connection``, idle ones kept in a list, at most
    ``limit`` in use at a time: the pool a hand-made transport would have."""

    def __init__(self, name: str, url: str, headers: Headers, body: bytes, limit: int) -> None:
        host_port = url.split("://", 1)[1].split("/", 1)[0]
        host, _, port = host_port.rpartition(":")
        self.name = name
        self._host, self._port = host, int(port)
        self._headers = headers
        self._body = body
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)
        self.opened = 0
        if name == H11:
            import h11

            self._h11: Any = h11

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self._host, self._port)
        self.opened += 1
        if self.name == H11:
            return _H11Connection(reader, writer, self._h11)
        return _RawConnection(reader, writer)

    async def request(self) -> tuple[int, bytes]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._open()
            try:
                answer = await conn.exchange(self._headers, self._body)
            except BaseException:
                conn.close()
                raise
            self._idle.append(conn)
            return answer

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        for conn in idle:
            await conn.closed()


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, headers: Headers, body: bytes) -> tuple[int, bytes]:
        raise NotImplementedError

    def close(self) -> None:
        self.writer.close()

    async def closed(self) -> None:
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class _H11Connection(_Connection):
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, h11: Any
    ) -> None:
        super().__init__(reader, writer)
        self._h11 = h11
        self._conn = h11.Connection(our_role=h11.CLIENT)

    async def exchange(self, headers: Headers, body: bytes) -> tuple[int, bytes]:
        h11, conn = self._h11, self._conn
        self.writer.write(
            conn.send(h11.Request(method=b"POST", target=b"/", headers=headers))
            + conn.send(h11.Data(data=body))
            + conn.send(h11.EndOfMessage())
        )
        await self.writer.drain()
        status, chunks = 0, []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await self.reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed the connection")
        conn.start_next_cycle()
        return status, b"".join(chunks)


class _RawConnection(_Connection):
    async def exchange(self, headers: Headers, body: bytes) -> tuple[int, bytes]:
        head = [b"POST / HTTP/1.1\r\n"]
        for name, value in headers:
            head += (name, b": ", value, b"\r\n")
        head += (b"\r\n", body)
        self.writer.write(b"".join(head))
        await self.writer.drain()
        answer = await self.reader.readuntil(b"\r\n\r\n")
        lines = answer.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = -1
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
                break
        if length < 0:
            raise ValueError("an answer without Content-Length: the floor does not read those")
        return status, await self.reader.readexactly(length)


async def first_request(name: str, url: str, headers: Headers, body: bytes) -> int:
    """One request on a new stack ``name``; the status."""
    stack = make_stack(name, url, headers, body, 1)
    try:
        status, _ = await stack.request()
    finally:
        await stack.close()
    return status


def _probe() -> None:
    """In a fresh process: import a stack's library, run one request, and print (as JSON) the
    modules that request imported. Input on stdin: ``{"stack", "url", "headers", "body"}``."""
    import importlib
    import json
    import sys

    spec = json.load(sys.stdin)
    asyncio.run(asyncio.sleep(0))  # what asyncio.run itself imports the first time
    library = LIBRARY[spec["stack"]]
    if library is not None:
        importlib.import_module(library)
    headers = [(k.encode(), v.encode()) for k, v in spec["headers"]]
    before = set(sys.modules)
    status = asyncio.run(first_request(spec["stack"], spec["url"], headers, spec["body"].encode()))
    print(json.dumps({"status": status, "imported": sorted(set(sys.modules) - before)}))


if __name__ == "__main__":
    _probe()
