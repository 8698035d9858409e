"""``FaultProxy``: an HTTP proxy on loopback that injects faults between a client and a real
DynamoDB engine.

Local engines never throttle, never answer 500, never drop a connection and never leave a
table CREATING; this proxy makes them (and their DynamoDB responses) do so, over real HTTP,
so the client's real retry and error handling is what gets tested.

Importing this module does not import aiohttp: it is imported when the proxy starts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import math
import random
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import ClientSession, web

__all__ = ["FaultProxy"]

# Headers about one connection, not the message: never forwarded (RFC 9110, 7.6.1).
_HOP_BY_HOP = {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"}
_HOP_BY_HOP |= {"proxy-authenticate", "proxy-authorization", "proxy-connection"}
_SKIP_REQUEST = _HOP_BY_HOP | {"host", "content-length"}
# aiohttp decompresses the upstream body, so its length and encoding headers no longer hold.
_SKIP_RESPONSE = _HOP_BY_HOP | {"content-length", "content-encoding"}
_TARGET_PREFIX = "DynamoDB_20120810."
_ERROR_TYPE_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_JSON_TYPE = "application/x-amz-json-1.0"

JSONObject = dict[str, Any]
Rewrite = Callable[[JSONObject, JSONObject], JSONObject]
# Builds an error message from the request's headers, as a server that echoes them would.
Echo = Callable[[Mapping[str, str]], str]


@dataclass
class _Rule:
    kind: str  # "fail", "drop", "delay", "rewrite", "corrupt" or "split"
    operation: str | None
    times: int | None
    seconds: float = 0.0
    error: tuple[int, str, str | Echo] | None = None  # "fail": status, code, message
    headers: Callable[[], Mapping[str, str]] | None = None  # "fail": the answer's own
    fn: Rewrite | None = None
    fraction: float = 1.0  # "split": the part of each table's requests forwarded
    probability: float = 1.0  # the chance that the rule applies to a matching request


def _crc32(body: bytes) -> str:
    return str(zlib.crc32(body) & 0xFFFFFFFF)


def _json_object(body: bytes) -> JSONObject:
    """The body as a JSON object; ``{}`` for an empty body or anything else."""
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class FaultProxy:
    """An HTTP proxy on ``127.0.0.1`` that forwards DynamoDB requests to ``upstream`` and
    injects faults into them, by operation name, following rules you register.

    The server runs on its own event loop in a background thread, so the proxy works from
    any test: sync or async, one loop per test or several ``asyncio.run`` calls.

    >>> with FaultProxy(dynamodb_endpoint) as proxy:  # doctest: +SKIP
    ...     proxy.fail("PutItem", times=2)  # throttled twice, then through
    ...     db = Session(region=REGION, endpoint_url=proxy.endpoint, **DUMMY_CREDENTIALS)
    ...     asyncio.run(db.put(Thing("t", 1)))
    ...     assert proxy.count("PutItem") == 3

    Rules match an operation (``"PutItem"``; ``None`` matches every request) and apply in
    the order they were registered, each to its first ``times`` matching requests (``None``:
    forever). Delays before a ``fail`` or ``drop`` rule still apply; the first ``fail`` or
    ``drop`` answers the request, and the rules after it do not apply to that request.
    Otherwise the request is forwarded (cut down by the first ``split_*`` rule that applies)
    and the ``rewrite`` rules edit the answer, in order. A rule with a ``probability`` below 1
    applies to each matching request by chance (drawn from a ``random.Random(seed)``), and
    only the requests it applied to count against its ``times``.
    """

    def __init__(self, upstream: str, *, seed: int | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._requests: list[tuple[str | None, JSONObject]] = []
        self._headers: list[dict[str, str]] = []
        self._endpoint: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._client: ClientSession | None = None

    @property
    def endpoint(self) -> str:
        """The proxy's URL, ``http://127.0.0.1:<port>``; give it to the client as
        ``endpoint_url``. Only while the proxy runs."""
        if self._endpoint is None:
            raise RuntimeError("FaultProxy is not running: call start() first")
        return self._endpoint

    def start(self) -> FaultProxy:
        """Start serving on a free port of ``127.0.0.1`` and return the proxy.

        >>> proxy = FaultProxy("http://127.0.0.1:8000").start()  # doctest: +SKIP
        """
        if self._thread is not None:
            raise RuntimeError("FaultProxy is already running")
        ready: concurrent.futures.Future[str] = concurrent.futures.Future()
        # A daemon thread, so that a proxy somebody forgot to stop never blocks interpreter exit.
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(ready)), name="FaultProxy", daemon=True
        )
        self._thread.start()
        try:
            self._endpoint = ready.result(timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and end the thread; again is a no-op.

        >>> proxy.stop()  # doctest: +SKIP
        """
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            # RuntimeError: the loop already closed, as the thread ended on its own.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join()
        self._thread = self._loop = self._stopping = self._endpoint = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def __aenter__(self) -> FaultProxy:
        # Starting and joining the thread block briefly: keep that off the caller's loop.
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *_: object) -> None:
        await asyncio.to_thread(self.stop)

    async def _serve(self, ready: concurrent.futures.Future[str]) -> None:
        """The thread's main coroutine: serve until ``stop()``, then clean up everything."""
        from aiohttp import ClientSession, web

        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        # access_log=None: one INFO line per request would only be noise in test logs.
        runner = web.ServerRunner(web.Server(self._handle, access_log=None), shutdown_timeout=1)
        try:
            async with ClientSession() as self._client:
                await runner.setup()
                try:
                    await web.TCPSite(runner, "127.0.0.1", 0).start()  # port 0: a free one
                    ready.set_result(f"http://127.0.0.1:{runner.addresses[0][1]}")
                    await self._stopping.wait()
                finally:
                    await runner.cleanup()  # closes the listener and every client connection
        except BaseException as exc:
            if ready.done():
                raise
            ready.set_exception(exc)  # start() raises it

    def fail(
        self,
        operation: str | None,
        *,
        code: str = "ProvisionedThroughputExceededException",
        status: int = 400,
        message: str | Echo | None = None,
        times: int | None = 1,
        probability: float = 1.0,
        headers: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        """Answer matching requests with a DynamoDB error, without contacting upstream.

        ``message`` may be a function of the request's headers, for a server whose error
        messages echo the signed request (its ``Authorization``, ``X-Amz-Security-Token``).
        ``headers`` are added to the answer (a function is called for each answer): a
        ``Date`` from a server whose clock differs, an ``x-amz-retry-after``.

        >>> proxy.fail("PutItem", times=2)  # throttled twice  # doctest: +SKIP
        >>> proxy.fail(None, code="InternalServerError", status=500)  # doctest: +SKIP
        >>> proxy.fail("BatchWriteItem", times=None, probability=0.1)  # doctest: +SKIP
        >>> proxy.fail("GetItem", code="UnrecognizedClientException",  # doctest: +SKIP
        ...            message=lambda headers: f"bad signature: {headers['Authorization']}")
        """
        text = message if message is not None else f"{code} injected by FaultProxy"
        extra = headers if headers is None or callable(headers) else (lambda h=headers: h)
        self._add(
            _Rule(
                "fail",
                operation,
                times,
                error=(status, code, text),
                probability=probability,
                headers=extra,
            )
        )

    def drop(
        self, operation: str | None, *, times: int | None = 1, probability: float = 1.0
    ) -> None:
        """Close the client's connection without any response (the request is not forwarded).

        >>> proxy.drop("GetItem")  # botocore sees ConnectionClosedError  # doctest: +SKIP
        """
        self._add(_Rule("drop", operation, times, probability=probability))

    def split_batch_writes(
        self, fraction: float = 0.5, *, times: int | None = None, probability: float = 1.0
    ) -> None:
        """Forward only part of each BatchWriteItem and answer the rest as unprocessed, as
        DynamoDB does when it throttles a batch: of each table's requests the first
        ``ceil(n * fraction)`` are forwarded, the others are added to the answer's
        ``UnprocessedItems`` (``x-amz-crc32`` is recomputed). With nothing left to forward
        the proxy answers by itself. An error answer from upstream is passed on unchanged.

        >>> proxy.split_batch_writes(0.5, times=3)  # doctest: +SKIP
        >>> proxy.split_batch_writes(0.0)  # nothing is ever written  # doctest: +SKIP
        """
        self._add_split("BatchWriteItem", fraction, times, probability)

    def split_batch_gets(
        self, fraction: float = 0.5, *, times: int | None = None, probability: float = 1.0
    ) -> None:
        """``split_batch_writes`` for BatchGetItem: of each table's ``Keys`` the first
        ``ceil(n * fraction)`` are read, the others come back in ``UnprocessedKeys`` (with the
        table's ``ProjectionExpression``, ``ConsistentRead`` and names, as DynamoDB sends them).

        >>> proxy.split_batch_gets(0.25, probability=0.3)  # doctest: +SKIP
        """
        self._add_split("BatchGetItem", fraction, times, probability)

    def _add_split(
        self, operation: str, fraction: float, times: int | None, probability: float
    ) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction must be between 0 and 1, not {fraction!r}")
        self._add(_Rule("split", operation, times, fraction=fraction, probability=probability))

    def delay(self, operation: str | None, seconds: float, *, times: int | None = 1) -> None:
        """Wait ``seconds`` before forwarding matching requests (e.g. to hit a read timeout).

        >>> proxy.delay("Query", 2.5)  # doctest: +SKIP
        """
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, not {seconds!r}")
        self._add(_Rule("delay", operation, times, seconds=seconds))

    def rewrite(self, operation: str | None, fn: Rewrite, *, times: int | None = None) -> None:
        """Forward, then answer with ``fn(request_json, response_json)`` instead of the
        upstream JSON; ``x-amz-crc32`` is recomputed. Only 2xx answers are rewritten (and count
        against ``times``); if ``fn`` raises, the client gets a 500 and aiohttp logs why.

        >>> def creating(request, response):  # doctest: +SKIP
        ...     response["Table"]["TableStatus"] = "CREATING"
        ...     return response
        >>> proxy.rewrite("DescribeTable", creating)  # doctest: +SKIP
        """
        self._add(_Rule("rewrite", operation, times, fn=fn))

    def corrupt(self, operation: str | None, *, times: int | None = 1) -> None:
        """Forward, then damage the answer's body on its way back and keep the upstream's
        ``x-amz-crc32``, as a faulty network or middlebox would: the body stays valid JSON
        with one letter changed, so only the checksum tells. Only 2xx answers are damaged.

        >>> proxy.corrupt("GetItem")  # the client must notice, and retry  # doctest: +SKIP
        """
        self._add(_Rule("corrupt", operation, times))

    def clear(self) -> None:
        """Remove every rule; requests are forwarded untouched again.

        >>> proxy.clear()  # doctest: +SKIP
        """
        with self._lock:
            self._rules.clear()

    def _add(self, rule: _Rule) -> None:
        if rule.times is not None and rule.times < 1:
            raise ValueError(f"times must be None (forever) or at least 1, not {rule.times!r}")
        if not 0 < rule.probability <= 1:
            raise ValueError(f"probability must be above 0 and at most 1, not {rule.probability!r}")
        with self._lock:
            self._rules.append(rule)

    def _take(self, operation: str | None, kinds: tuple[str, ...]) -> list[_Rule]:
        """The live rules of ``kinds`` that apply to this request, in order, up to the first
        fail, drop or split; each one used up once. Under the lock, so concurrent requests never
        both get a rule's last use."""
        taken: list[_Rule] = []
        with self._lock:
            for rule in list(self._rules):
                if rule.kind not in kinds or rule.operation not in (None, operation):
                    continue
                if rule.probability < 1 and self._random.random() >= rule.probability:
                    continue
                taken.append(rule)
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                if rule.kind in ("fail", "drop", "split"):
                    break
        return taken

    @property
    def requests(self) -> list[tuple[str | None, JSONObject]]:
        """A copy of ``(operation, request_json)`` for every request seen, in arrival order
        (dropped and failed ones included); the operation is None without ``X-Amz-Target``.

        >>> [op for op, _ in proxy.requests]  # ['CreateTable', 'PutItem']  # doctest: +SKIP
        """
        with self._lock:
            return list(self._requests)

    @property
    def headers(self) -> list[dict[str, str]]:
        """The HTTP headers of every request seen, in the order of ``requests``.

        >>> proxy.headers[-1]["X-Amz-Date"]  # '20261202T101500Z'  # doctest: +SKIP
        """
        with self._lock:
            return [dict(h) for h in self._headers]

    def count(self, operation: str | None = None) -> int:
        """How many requests for ``operation`` were seen (every request for None).

        >>> assert proxy.count("PutItem") == 3  # doctest: +SKIP
        """
        with self._lock:
            return sum(operation is None or op == operation for op, _ in self._requests)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        from aiohttp import ClientError, web
        from multidict import CIMultiDict

        body = await request.read()
        target = request.headers.get("X-Amz-Target", "")
        operation = target.removeprefix(_TARGET_PREFIX) if target else None
        with self._lock:
            self._requests.append((operation, _json_object(body)))
            self._headers.append(dict(request.headers))

        for rule in self._take(operation, ("delay", "fail", "drop")):  # in registration order
            if rule.kind == "delay":
                await asyncio.sleep(rule.seconds)
            elif rule.kind == "drop":
                # aiohttp finds the transport closing when it writes the response below and
                # gives up quietly: the client sees the connection end with no answer.
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)
            elif rule.error is not None:
                status, code, text = rule.error
                message = text(request.headers) if callable(text) else text
                error = json.dumps({"__type": _ERROR_TYPE_PREFIX + code, "message": message})
                answer = error.encode()
                headers = {"Content-Type": _JSON_TYPE, "x-amz-crc32": _crc32(answer)}
                if rule.headers is not None:
                    headers.update(rule.headers())
                return web.Response(status=status, body=answer, headers=headers)

        forwarded = body
        held: JSONObject = {}  # table -> requests (or keys) held back by a split rule
        splits = self._take(operation, ("split",))
        if splits:
            sent = _json_object(body)
            held = _split(operation, sent, splits[0].fraction)
            if not sent.get("RequestItems"):  # nothing left to forward: answer as DynamoDB
                answer = json.dumps(_merge_held(operation, {}, held)).encode()
                headers = {"Content-Type": _JSON_TYPE, "x-amz-crc32": _crc32(answer)}
                return web.Response(status=200, body=answer, headers=headers)
            # The signature covers the original body; the local engines do not check it.
            forwarded = json.dumps(sent).encode()

        forward = [(k, v) for k, v in request.headers.items() if k.lower() not in _SKIP_REQUEST]
        url = self.upstream + str(request.rel_url)
        assert self._client is not None
        try:
            async with self._client.request(
                request.method, url, data=forwarded, headers=forward, allow_redirects=False
            ) as upstream:
                status, reason, answer = upstream.status, upstream.reason, await upstream.read()
                out = CIMultiDict(
                    (k, v) for k, v in upstream.headers.items() if k.lower() not in _SKIP_RESPONSE
                )
                changed = "Content-Encoding" in upstream.headers  # decompressed by aiohttp
        except ClientError as exc:  # the engine is gone: answer as a gateway would
            return web.Response(status=502, text=f"FaultProxy: upstream failed: {exc!r}")

        if 200 <= status < 300 and held:
            answer = json.dumps(_merge_held(operation, _json_object(answer), held)).encode()
            changed = True
        if 200 <= status < 300:
            for rule in self._take(operation, ("rewrite",)):
                assert rule.fn is not None
                # A fresh request dict each time: the recorded one must not change under fn.
                answer = json.dumps(rule.fn(_json_object(body), _json_object(answer))).encode()
                changed = True
        if changed:
            out["x-amz-crc32"] = _crc32(answer)  # botocore verifies it against the body
        if 200 <= status < 300 and self._take(operation, ("corrupt",)):
            out["x-amz-crc32"] = _crc32(answer)  # the checksum of the answer as it was sent
            answer = _damage(answer)
        return web.Response(status=status, reason=reason, body=answer, headers=out)


def _damage(body: bytes) -> bytes:
    """``body`` with the case of its last ASCII letter swapped: still JSON, no longer true."""
    for i in range(len(body) - 1, -1, -1):
        char = body[i : i + 1]
        if char.isalpha():
            return body[:i] + char.swapcase() + body[i + 1 :]
    raise ValueError("FaultProxy.corrupt: the answer has no letter to change")


def _split(operation: str | None, sent: JSONObject, fraction: float) -> JSONObject:
    """Cut each table's requests in ``sent`` down to the first ``ceil(n * fraction)`` and
    return the rest by table. Tables left with nothing are removed from ``sent``."""
    held: JSONObject = {}
    items: JSONObject = sent.get("RequestItems") or {}
    for table in list(items):
        if operation == "BatchGetItem":
            keys = items[table].get("Keys") or []
            keep = math.ceil(len(keys) * fraction)
            if keep < len(keys):
                held[table] = {**items[table], "Keys": keys[keep:]}
            items[table]["Keys"] = keys[:keep]
        else:
            requests = items[table] or []
            keep = math.ceil(len(requests) * fraction)
            if keep < len(requests):
                held[table] = requests[keep:]
            items[table] = requests[:keep]
        if not keep:
            del items[table]
    return held


def _merge_held(operation: str | None, response: JSONObject, held: JSONObject) -> JSONObject:
    """``response`` with the held-back work added to its ``UnprocessedItems`` or
    ``UnprocessedKeys``."""
    if operation == "BatchGetItem":
        response.setdefault("Responses", {})
        unprocessed = response.setdefault("UnprocessedKeys", {})
        for table, entry in held.items():
            if table in unprocessed:
                unprocessed[table]["Keys"] = unprocessed[table].get("Keys", []) + entry["Keys"]
            else:
                unprocessed[table] = entry
    else:
        unprocessed = response.setdefault("UnprocessedItems", {})
        for table, requests in held.items():
            unprocessed[table] = unprocessed.get(table, []) + requests
    return response
