"""The lean DynamoDB client: one request = JSON body, SigV4 headers, a pooled HTTP/1.1
exchange, the standard retry rules, and the answer as botocore would return it.

``LeanTransport`` holds what every event loop shares (settings, signer, credentials, the
retry quota, the clock correction); ``LeanClient`` is one loop's client, with that loop's
connection pool. The client has the method names of aiobotocore's DynamoDB client for the
operations the session sends (``put_item(**params)``), so the session's request path is the
same for both transports.

Answers come back as botocore returns them: items as DynamoDB sent them with binary values
as ``bytes``, ``ResponseMetadata`` with the request id, status, headers and retry count; an
error answer is raised as ``LeanServiceError`` with botocore's ``ClientError`` response
shape (its modeled fields, such as ``Item`` and ``CancellationReasons``, included).
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from collections.abc import Callable
from typing import Any
from zlib import crc32

from .binary_walk import convert_item
from .credentials import CredentialSource
from .errors import (
    CHECKSUM_MISMATCH,
    ConnectTimeoutError,
    LeanServiceError,
    ReadTimeoutError,
    TransportFailure,
)
from .http import Endpoint, Pool, Response
from .retry import (
    CLOCK_SKEW_CODES,
    NO_RETRY_INCREMENT,
    RETRY_COST,
    THROTTLING_CODES,
    TIMEOUT_RETRY_COST,
    TRANSIENT_CODES,
    TRANSIENT_STATUS,
    RetryQuota,
    backoff,
)
from .sigv4 import Signer

__all__ = ["OPERATIONS", "LeanClient", "LeanSettings", "LeanTransport"]

# The operations the session sends, by aiobotocore's method names.
OPERATIONS = {
    "put_item": "PutItem",
    "get_item": "GetItem",
    "delete_item": "DeleteItem",
    "update_item": "UpdateItem",
    "query": "Query",
    "scan": "Scan",
    "batch_get_item": "BatchGetItem",
    "batch_write_item": "BatchWriteItem",
    "transact_get_items": "TransactGetItems",
    "transact_write_items": "TransactWriteItems",
    "create_table": "CreateTable",
    "describe_table": "DescribeTable",
    "delete_table": "DeleteTable",
    "update_table": "UpdateTable",
    "update_time_to_live": "UpdateTimeToLive",
    "describe_time_to_live": "DescribeTimeToLive",
    "list_tables": "ListTables",
}
_TARGET = "DynamoDB_20120810."
_CONTENT_TYPE = "application/x-amz-json-1.0"
_CONTENT_TYPE_BYTES = _CONTENT_TYPE.encode()
_USER_AGENT = b"dynamorm_async (lean transport)"
# The JSON of every request: one encoder, made once (json.dumps makes one per call when
# given options); binary values as base64 text.
# A clock this far from the server's is corrected (SigV4 allows 5 minutes).
_SKEW_LIMIT = 4 * 60.0

AttemptHook = Callable[..., None]


class LeanSettings:
    """What a lean transport is opened with."""

    __slots__ = (
        "ca_bundle",
        "connect_timeout",
        "credentials",
        "endpoint_url",
        "max_attempts",
        "pool_size",
        "read_timeout",
        "region",
    )

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str,
        credentials: CredentialSource,
        connect_timeout: float,
        read_timeout: float,
        max_attempts: int,
        pool_size: int,
        ca_bundle: str | None = None,
    ) -> None:
        self.ca_bundle = ca_bundle
        self.region = region
        self.endpoint_url = endpoint_url
        self.credentials = credentials
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        self.pool_size = pool_size

    def __repr__(self) -> str:
        return f"LeanSettings(region={self.region!r}, endpoint_url={self.endpoint_url!r})"


class LeanTransport:
    """What the lean clients of every event loop share."""

    def __init__(self, settings: LeanSettings) -> None:
        self.settings = settings
        self.endpoint = Endpoint(settings.endpoint_url)
        self.signer = Signer(settings.region)
        self.credentials = settings.credentials
        self.quota = RetryQuota()
        self.clock_offset = 0.0  # seconds to add to the local clock when signing
        self._date: tuple[int, str] = (0, "")  # the X-Amz-Date of the current second
        self.hooks: list[AttemptHook] = []
        self.random = random.random

    def amz_date(self) -> str:
        """``X-Amz-Date`` now, the clock corrected; formatted once a second."""
        second = int(time.time() + self.clock_offset)
        cached = self._date
        if cached[0] != second:
            cached = self._date = (second, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second)))
        return cached[1]

    def client(self) -> LeanClient:
        """A client for the running event loop, with a connection pool of its own."""
        s = self.settings
        pool = Pool(
            self.endpoint,
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            size=s.pool_size,
            ca_bundle=s.ca_bundle,
        )
        return LeanClient(self, pool)


class LeanClient:
    """One event loop's client; see the module docstring."""

    def __init__(self, transport: LeanTransport, pool: Pool) -> None:
        self.transport = transport
        self.pool = pool

    def register_attempt_hook(self, hook: AttemptHook) -> None:
        """Call ``hook(exception=...)`` or ``hook(parsed_response=...)`` after every HTTP
        attempt, as botocore's ``response-received`` event does."""
        if hook not in self.transport.hooks:
            self.transport.hooks.append(hook)

    async def close(self) -> None:
        await self.pool.close()

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send ``operation`` with ``params`` (retried under the standard rules) and return
        the parsed answer; raise ``LeanServiceError`` or a ``TransportFailure``."""
        t = self.transport
        body = _ENCODER.encode(params).encode()
        target = _TARGET + operation
        max_attempts = t.settings.max_attempts
        attempt = 0
        quota_taken = 0
        while True:
            attempt += 1
            error: BaseException | None = None
            parsed: dict[str, Any] | None = None
            code: str | None = None
            response: Response | None = None
            try:
                response = await self._send(target, body)
            except TransportFailure as exc:
                error = exc
            if response is not None:
                parsed, code = self._parse(operation, response, attempt - 1)
            for hook in t.hooks:
                if error is not None:
                    hook(exception=error)
                else:
                    hook(parsed_response=parsed)
            retryable = False
            cost = RETRY_COST
            if error is not None:
                retryable = True
                if isinstance(error, (ConnectTimeoutError, ReadTimeoutError)):
                    cost = TIMEOUT_RETRY_COST
            elif response is not None and parsed is not None:
                meta = parsed["ResponseMetadata"]
                retryable = (
                    code in THROTTLING_CODES
                    or code in TRANSIENT_CODES
                    or response.status in TRANSIENT_STATUS
                    or CHECKSUM_MISMATCH in meta
                    or (code in CLOCK_SKEW_CODES and self._correct_clock(response))
                )
            if retryable and attempt < max_attempts and t.quota.acquire(cost):
                quota_taken = cost
                await asyncio.sleep(backoff(attempt, t.random))
                continue
            if error is not None:
                raise error
            assert parsed is not None and response is not None
            if code is not None:
                raise LeanServiceError(parsed, operation)
            if 200 <= response.status < 300:
                t.quota.release(quota_taken or NO_RETRY_INCREMENT)
            return parsed

    async def _send(self, target: str, body: bytes) -> Response:
        t = self.transport
        credentials = await t.credentials.get()
        amz_date = t.amz_date()
        endpoint = t.endpoint
        token = credentials.token
        authorization = t.signer.json_request(
            endpoint.path,
            endpoint.host_header,
            target,
            _CONTENT_TYPE,
            body,
            amz_date,
            credentials.access_key,
            credentials.secret_key,
            token,
        )
        # Bytes, which h11 takes without converting them again.
        wire = [
            (b"Host", endpoint.host_bytes),
            (b"X-Amz-Date", amz_date.encode()),
            (b"X-Amz-Target", target.encode()),
            (b"Content-Type", _CONTENT_TYPE_BYTES),
            (b"Authorization", authorization.encode()),
            (b"Content-Length", b"%d" % len(body)),
            (b"User-Agent", _USER_AGENT),
        ]
        if token:
            wire.append((b"X-Amz-Security-Token", token.encode()))
        return await self.pool.request(b"POST", endpoint.path_bytes, wire, body)

    def _parse(
        self, operation: str, response: Response, retries: int
    ) -> tuple[dict[str, Any], str | None]:
        """The answer as botocore parses it, and its error code (None for a success)."""
        headers = response.headers
        meta: dict[str, Any] = {
            "RequestId": headers.get("x-amzn-requestid", ""),
            "HTTPStatusCode": response.status,
            "HTTPHeaders": headers,
            "RetryAttempts": retries,
        }
        body = response.body
        expected = headers.get("x-amz-crc32")
        if expected is not None and not _crc_matches(body, expected):
            meta[CHECKSUM_MISMATCH] = True
        if CHECKSUM_MISMATCH in meta and 200 <= response.status < 300:
            # Damaged on the way: retried, and refused if it stays so; its body is not read.
            return {"ResponseMetadata": meta}, None
        data: Any
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = None
        if 200 <= response.status < 300 and data is not None:
            # A JSON key B or BS always appears as these bytes (DynamoDB escapes no letters):
            # an answer without them holds no binary value and needs no walk.
            if b'"B"' in body or b'"BS"' in body:
                _decode_answer(data)
            data["ResponseMetadata"] = meta
            return data, None
        return _error(response, data, meta)

    def _correct_clock(self, response: Response) -> bool:
        """Take the server's clock from its ``Date``; True if ours was off and is fixed now."""
        date = response.headers.get("date")
        if not date:
            return False
        from email.utils import parsedate_to_datetime  # a clock-skew answer is rare

        try:
            server = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return False
        offset = server - time.time()
        if abs(offset - self.transport.clock_offset) < _SKEW_LIMIT:
            return False
        self.transport.clock_offset = offset
        return True


def _method(operation: str) -> Callable[..., Any]:
    async def send(self: LeanClient, **params: Any) -> dict[str, Any]:
        return await self.call(operation, params)

    send.__name__ = operation
    return send


for _name, _operation in OPERATIONS.items():
    setattr(LeanClient, _name, _method(_operation))


def _encode_binary(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not serializable to DynamoDB JSON")


_ENCODER = json.JSONEncoder(default=_encode_binary, separators=(",", ":"))


def _crc_matches(body: bytes, expected: str) -> bool:
    try:
        return crc32(body) & 0xFFFFFFFF == int(expected)
    except ValueError:
        return False


def _error(
    response: Response, data: dict[str, Any] | None, meta: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """An error answer in botocore's ``ClientError`` response shape."""
    code = ""
    message = ""
    out: dict[str, Any] = {}
    if data is not None:
        code = str(data.get("__type") or "").rpartition("#")[2]
        message = str(data.get("message") or data.get("Message") or "")
        for key, value in data.items():
            if key not in ("__type", "message", "Message"):
                out[key] = value
        if "Item" in out and isinstance(out["Item"], dict):
            out["Item"] = convert_item(out["Item"], base64.b64decode)
        for reason in out.get("CancellationReasons") or ():
            if isinstance(reason, dict) and isinstance(reason.get("Item"), dict):
                reason["Item"] = convert_item(reason["Item"], base64.b64decode)
    if not code:
        code = response.headers.get("x-amzn-errortype", "").partition(":")[0] or str(
            response.status
        )
        message = message or response.reason
    out["Error"] = {"Code": code, "Message": message}
    out["ResponseMetadata"] = meta
    return out, code


def _decode_answer(data: dict[str, Any]) -> None:
    """Binary values of the items in an answer, from base64 text to bytes (in place)."""
    b64 = base64.b64decode
    for key in ("Item", "Attributes", "LastEvaluatedKey"):
        if key in data:
            data[key] = convert_item(data[key], b64)
    if "Items" in data:
        data["Items"] = [convert_item(item, b64) for item in data["Items"]]
    responses = data.get("Responses")
    if isinstance(responses, dict):  # BatchGetItem: table -> items
        for table, items in responses.items():
            responses[table] = [convert_item(item, b64) for item in items]
    elif isinstance(responses, list):  # TransactGetItems: [{"Item": ...}]
        for each in responses:
            if "Item" in each:
                each["Item"] = convert_item(each["Item"], b64)
    for left in (data.get("UnprocessedKeys") or {}).values():
        left["Keys"] = [convert_item(key, b64) for key in left.get("Keys", ())]
    for requests in (data.get("UnprocessedItems") or {}).values():
        for request in requests:
            if "PutRequest" in request:
                put = request["PutRequest"]
                put["Item"] = convert_item(put["Item"], b64)
            if "DeleteRequest" in request:
                delete = request["DeleteRequest"]
                delete["Key"] = convert_item(delete["Key"], b64)
