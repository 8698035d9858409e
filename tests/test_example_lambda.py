"""examples/lambda_handler.py, invoked the way Lambda's Python runtime does it.

Each test starts a fresh interpreter (``sys.executable``) that imports the example and calls
its sync handlers one event at a time, as the runtime does within one execution environment.
The environment is configured the way Lambda configures it (region and credentials in
variables), plus ``AWS_ENDPOINT_URL_DYNAMODB`` and ``TABLE_PREFIX`` for the test's engine and
tables.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import statistics
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import pytest_asyncio
from environments import aws_environment

from dynamorm_async import Session, to_item
from dynamorm_async.testing import REGION

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lambda_handler.py"
TIMEOUT = 60  # seconds for one invocation, start-up included: a hung process fails the test

# Runs in the child: imports the example (timed), reports whether that sent anything, then
# serves one JSON line per invocation: {"handler": name, "event": {...}} -> answer and time.
# What the example prints (its log, in Lambda) goes to stderr, the answers to stdout.
_RUNTIME = r"""
import importlib, json, os, sys, time

answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
sys.stdout = sys.stderr
sys.path.insert(0, sys.argv[1])
started = time.perf_counter()
module = importlib.import_module("lambda_handler")
print(json.dumps({
    "import_ms": (time.perf_counter() - started) * 1000,
    "session_state": module.db.state,
    "aiobotocore_imported": "aiobotocore" in sys.modules,
}), file=answers, flush=True)
for line in sys.stdin:
    call = json.loads(line)
    started = time.perf_counter()
    answer = getattr(module, call["handler"])(call["event"], None)
    took = (time.perf_counter() - started) * 1000
    print(json.dumps({"answer": answer, "ms": took}), file=answers, flush=True)
answers.close()
"""


def load_example() -> ModuleType:
    """The example module, imported in this process (its module-level Session stays
    unopened: these tests only use its models and pure functions here)."""
    name = "example_lambda_handler"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # attrs and the model decorator resolve names through it
        spec.loader.exec_module(module)
    return sys.modules[name]


class Runtime:
    """A child interpreter that holds the example, like one Lambda execution environment."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.started: dict[str, Any] = {}
        self.times: list[float] = []

    async def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), TIMEOUT)
        if not line:
            stderr = await self.process.stderr.read() if self.process.stderr else b""
            pytest.fail(f"the Lambda process ended early:\n{stderr.decode()}")
        result: dict[str, Any] = json.loads(line)
        return result

    async def invoke(self, handler: str, event: dict[str, Any]) -> dict[str, Any]:
        """Call ``handler(event, None)`` in the child; its answer (timed in ``times``)."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"handler": handler, "event": event}).encode() + b"\n")
        await self.process.stdin.drain()
        result = await self._line()
        self.times.append(result["ms"])
        answer: dict[str, Any] = result["answer"]
        return answer

    async def finish(self) -> str:
        """End the environment (stdin closed); its stderr, for leak checks."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        _, stderr = await asyncio.wait_for(self.process.communicate(), TIMEOUT)
        assert self.process.returncode == 0, stderr.decode()
        return stderr.decode()


@pytest_asyncio.fixture
async def runtime(dynamodb_endpoint: str, dynamodb_session: Session) -> AsyncIterator[Runtime]:
    """A fresh Lambda-like process on the test's tables (``dynamodb_session``'s prefix, so
    the fixture drops them afterwards); killed if the test fails while it runs."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _RUNTIME,
        str(EXAMPLE.parent),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=aws_environment(dynamodb_endpoint, dynamodb_session.table_prefix),
    )
    running = Runtime(process)
    try:
        running.started = await running._line()
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def ensure_tables(db: Session) -> ModuleType:
    example = load_example()
    await db.tables.ensure(example.User)
    await db.tables.ensure(example.Order, stream="NEW_AND_OLD_IMAGES")
    return example


def api_event(
    method: str,
    resource: str,
    path_parameters: dict[str, str] | None = None,
    *,
    body: str | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST API proxy event as Lambda receives it (the usual fields)."""
    path = resource
    for name, value in (path_parameters or {}).items():
        path = path.replace("{" + name + "}", value)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Host": "api.example.com"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": (
            None if query is None else {k: [v] for k, v in query.items()}
        ),
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": "/prod" + path,
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def json_body(answer: dict[str, Any], status: int) -> Any:
    """The JSON body of a proxy response, after checking its status and content type."""
    assert answer["statusCode"] == status, answer
    assert answer["headers"]["Content-Type"] == "application/json"
    assert answer["isBase64Encoded"] is False
    return json.loads(answer["body"])


async def fifty_invocations(invoke: Callable[..., Any]) -> int:
    """50 API invocations covering every route and error answer, each response checked;
    returns how many were made."""
    made = 0

    async def call(status: int, *args: Any, **kwargs: Any) -> Any:
        nonlocal made
        made += 1
        return json_body(await invoke(api_event(*args, **kwargs)), status)

    user = {"user_id": "u-ada"}
    ada = {"name": "Ada", "email": "ada@example.com"}
    assert "no user" in (await call(404, "GET", "/users/{user_id}", user))["error"]
    assert await call(200, "PUT", "/users/{user_id}", user, body=json.dumps(ada)) == {
        **user,
        **ada,
        "order_count": 0,
        "total_spent": 0,
    }
    assert (await call(200, "GET", "/users/{user_id}", user))["name"] == "Ada"
    renamed = json.dumps({**ada, "name": "Ada L."})
    assert (await call(200, "PUT", "/users/{user_id}", user, body=renamed))["name"] == "Ada L."

    orders: dict[str, dict[str, Any]] = {}
    for n in range(12):  # 201: created
        order_id = f"o{n:02d}"
        body: dict[str, Any] = {"total": 100 * n + 1}
        if n % 2 == 0:
            body["payment_token"] = base64.b64encode(bytes([n, 0, 255])).decode()
        order = {**user, "order_id": order_id}
        stored = await call(201, "PUT", "/users/{user_id}/orders/{order_id}", order,
                            body=json.dumps(body))  # fmt: skip
        assert stored["total"] == body["total"] and stored["status"] == "open"
        assert stored["payment_token"] == body.get("payment_token")
        orders[order_id] = stored
    again = {**user, "order_id": "o00"}
    replaced = await call(200, "PUT", "/users/{user_id}/orders/{order_id}", again,
                          body=json.dumps({"total": 999, "status": "paid"}))  # fmt: skip
    assert replaced["total"] == 999 and replaced["payment_token"] is None
    orders["o00"] = replaced

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for expected_size in (5, 5, 2):  # pages of at most 5, following the cursors
        query = {"limit": "5"} if cursor is None else {"limit": "5", "cursor": cursor}
        page = await call(200, "GET", "/users/{user_id}/orders", user, query=query)
        assert len(page["items"]) == expected_size
        seen += page["items"]
        cursor = page["next"]
    assert cursor is None
    assert seen == [orders[k] for k in sorted(orders)]

    orders_of = "/users/{user_id}/orders/{order_id}"
    o99 = {**user, "order_id": "o99"}
    refused: list[tuple[int, tuple[Any, ...], dict[str, Any]]] = [
        (400, ("PUT", "/users/{user_id}", user), {"body": "{not json"}),
        (400, ("PUT", "/users/{user_id}", user), {"body": json.dumps({"name": "x"})}),
        (400, ("PUT", "/users/{user_id}", user), {"body": "[1, 2]"}),
        (400, ("PUT", orders_of, o99), {"body": json.dumps({"total": "12"})}),
        (400, ("PUT", orders_of, o99), {"body": json.dumps({"total": 1, "payment_token": "*"})}),
        (400, ("GET", "/users/{user_id}/orders", user), {"query": {"limit": "0"}}),
        (400, ("GET", "/users/{user_id}/orders", user), {"query": {"limit": "many"}}),
        (400, ("GET", "/users/{user_id}/orders", user), {"query": {"cursor": "forged.cursor"}}),
        (404, ("DELETE", "/users/{user_id}", user), {}),
    ]
    for status, args, kwargs in refused:
        assert "error" in await call(status, *args, **kwargs)

    while made < 50:  # the warm path: reads, which also show that o99 was never written
        if made % 2:
            assert (await call(200, "GET", "/users/{user_id}", user))["name"] == "Ada L."
        else:
            page = await call(200, "GET", "/users/{user_id}/orders", user, query={"limit": "50"})
            assert page == {"items": seen, "next": None}
    return made


@pytest.mark.parametrize("handler", ["handler", "handler_reused_loop"])
async def test_fifty_api_invocations_in_one_execution_environment(
    handler: str,
    runtime: Runtime,
    dynamodb_session: Session,
    record_property: Callable[[str, object], None],
) -> None:
    """A fresh process imports the example without sending anything (the session is
    unopened, aiobotocore not even imported), then answers 50 API Gateway invocations in a
    row, with asyncio.run per invocation or one reused loop: every route, pagination by
    cursor and every error answer, each response checked. The first invocation's time (the
    cold path: it opens the client) is printed and recorded; the process ends with nothing
    left unclosed."""
    await ensure_tables(dynamodb_session)
    assert runtime.started["session_state"] == "unopened"
    assert runtime.started["aiobotocore_imported"] is False

    made = await fifty_invocations(lambda event: runtime.invoke(handler, event))
    assert made == len(runtime.times) == 50
    stderr = await runtime.finish()
    for leak in ("Unclosed", "unclosed", "Exception ignored", "Traceback"):
        assert leak not in stderr, stderr

    first, rest = runtime.times[0], runtime.times[1:]
    record_property("import_ms", round(runtime.started["import_ms"], 1))
    record_property("first_invocation_ms", round(first, 1))
    record_property("median_invocation_ms", round(statistics.median(rest), 1))
    print(
        f"\nlambda {handler}: import {runtime.started['import_ms']:.0f} ms, first invocation "
        f"{first:.0f} ms, median of the other 49 {statistics.median(rest):.1f} ms"
    )


def lambda_json(av: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue as Lambda's JSON event carries it: binary values base64-encoded."""
    ((tag, value),) = av.items()
    if tag == "B":
        return {"B": base64.b64encode(value).decode()}
    if tag == "BS":
        return {"BS": [base64.b64encode(v).decode() for v in value]}
    if tag == "M":
        return {"M": {k: lambda_json(v) for k, v in value.items()}}
    if tag == "L":
        return {"L": [lambda_json(v) for v in value]}
    return {tag: value}


def stream_record(
    kind: str, sequence: int, table: str, old: Any = None, new: Any = None
) -> dict[str, Any]:
    """One record of a NEW_AND_OLD_IMAGES stream, shaped like those Lambda delivers."""
    order = new or old
    images: dict[str, Any] = {
        "ApproximateCreationDateTime": 1767225600.0 + sequence,
        "Keys": {"user_id": {"S": order.user_id}, "order_id": {"S": order.order_id}},
        "SequenceNumber": f"{sequence:021d}",
        "SizeBytes": 120,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    for name, obj in (("OldImage", old), ("NewImage", new)):
        if obj is not None:
            images[name] = {k: lambda_json(v) for k, v in to_item(obj).items()}
    record = {
        "eventID": f"e{sequence}",
        "eventName": kind,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": images,
        "eventSourceARN": (
            f"arn:aws:dynamodb:{REGION}:123456789012:table/{table}/stream/2026-01-01T00:00:00.000"
        ),
    }
    parsed: dict[str, Any] = json.loads(json.dumps(record))  # what arrives is plain JSON
    return parsed


async def test_stream_handler_turns_records_into_models_and_reports_the_first_failure(
    runtime: Runtime, dynamodb_session: Session
) -> None:
    """Records built like a real NEW_AND_OLD_IMAGES stream (binary values base64, as in
    Lambda's JSON) load as Orders with from_item, payment tokens back as bytes; the handler
    keeps each user's order count and total spent; an order of an unknown user is skipped;
    a record that cannot load stops the batch and is reported as the batch item failure, and
    the records after it are left for Lambda's retry."""
    example = await ensure_tables(dynamodb_session)
    Order, User = example.Order, example.User
    db = dynamodb_session
    table = db.table_name(Order)
    await db.put(User("u1", "Ada", "ada@example.com"))
    o1 = Order("u1", "o1", total=1000, payment_token=b"\x00\xfftoken")
    o1_paid = Order("u1", "o1", total=1500, status="paid", placed_at=o1.placed_at)
    o2 = Order("u1", "o2", total=2500)
    ghost = Order("u-gone", "o9", total=5)

    records = [
        stream_record("INSERT", 1, table, new=o1),
        stream_record("INSERT", 2, table, new=o2),
        stream_record("MODIFY", 3, table, old=o1, new=o1_paid),
        stream_record("REMOVE", 4, table, old=o2),
        stream_record("INSERT", 5, table, new=ghost),
    ]
    assert records[0]["dynamodb"]["NewImage"]["payment_token"] == {
        "B": base64.b64encode(b"\x00\xfftoken").decode()
    }
    change = example.order_change(records[2])
    assert (change.kind, change.old, change.new) == ("MODIFY", o1, o1_paid)
    assert change.old.payment_token == b"\x00\xfftoken"

    answer = await runtime.invoke("stream_handler", {"Records": records})
    assert answer == {"batchItemFailures": []}
    user = await db.get(User, "u1", consistent=True)
    assert user is not None and (user.order_count, user.total_spent) == (1, 1500)
    assert await db.get(User, "u-gone", consistent=True) is None

    broken = stream_record("INSERT", 6, table, new=Order("u1", "o3", total=7))
    broken["dynamodb"]["NewImage"]["total"] = {"S": "seven"}
    after = stream_record("INSERT", 7, table, new=Order("u1", "o4", total=40))
    answer = await runtime.invoke("stream_handler", {"Records": [broken, after]})
    assert answer == {"batchItemFailures": [{"itemIdentifier": f"{6:021d}"}]}
    user = await db.get(User, "u1", consistent=True)
    assert user is not None and (user.order_count, user.total_spent) == (1, 1500)
    log = await runtime.finish()
    assert "no user 'u-gone' for order 'o9'; record skipped" in log
    assert f"record {6:021d} failed: DeserializationError" in log


async def test_setup_handler_ensures_both_tables_and_is_idempotent(
    runtime: Runtime, dynamodb_session: Session
) -> None:
    """The one-time setup handler creates the users and orders tables (orders with its
    NEW_AND_OLD_IMAGES stream for the stream handler) under TABLE_PREFIX; invoked again, it
    finds them and changes nothing."""
    db = dynamodb_session
    example = load_example()
    names = [db.table_name(example.User), db.table_name(example.Order)]
    assert all(name.startswith(db.table_prefix) for name in names)
    first = await runtime.invoke("setup_handler", {})
    assert first == {"tables": dict.fromkeys(names, "ACTIVE")}
    created = await db.tables.describe(example.Order)
    assert created.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert await runtime.invoke("setup_handler", {}) == first
    again = await db.tables.describe(example.Order)
    assert again.creation_time == created.creation_time
    await runtime.finish()


async def test_the_example_runs_on_its_own(
    dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """``python examples/lambda_handler.py`` (here pointed at the test's engine through
    AWS_ENDPOINT_URL_DYNAMODB) sets up, invokes both handler styles and a stream batch, and
    prints what they answered."""
    env = aws_environment(dynamodb_endpoint, dynamodb_session.table_prefix)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    out = stdout.decode()
    assert "Starting DynamoDB Local" not in out  # the configured endpoint was used
    for style in ("handler", "handler_reused_loop"):
        assert f"{style}: PUT /users/u-ada/orders/o-1 -> 20" in out
        assert f"{style}: GET /users/u-nobody -> 404" in out
    assert "stream: {'batchItemFailures': []}" in out
    assert '"order_count": 1, "total_spent": 1250' in out
