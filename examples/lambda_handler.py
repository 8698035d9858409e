"""dynamorm_async in AWS Lambda: an API behind API Gateway, a DynamoDB Streams consumer and a
one-time setup step, in one module.

What it shows:

- Cold start: module level holds imports, models and one ``Session()``, nothing else.
  Constructing a session sends nothing and does not even import aiobotocore; the first
  invocation opens the client.
- ``handler(event, context)``: API Gateway (REST API, Lambda proxy integration) events for
  ``GET /users/{user_id}``, ``PUT /users/{user_id}``, ``PUT /users/{user_id}/orders/{order_id}``
  and ``GET /users/{user_id}/orders`` (a query, paged with ``?limit=`` and ``?cursor=``). It
  runs each invocation with ``asyncio.run``: a new event loop, and so a new client, every time.
- ``handler_reused_loop(event, context)``: the same routes on one event loop that lives as
  long as the execution environment, so the client and its open connections are reused.
- ``stream_handler(event, context)``: the orders table's stream (NEW_AND_OLD_IMAGES). Each
  record's ``NewImage``/``OldImage`` becomes an ``Order`` with ``from_item``, and each change
  updates the user's order count and total spent.
- ``setup_handler(event, context)``: ensures both tables (a deployment script, or a custom
  resource, invokes it once; it is idempotent).

Which loop style? ``handler`` (``asyncio.run``) is the simplest and carries nothing from one
invocation to the next, but every invocation pays for a new client: credential and endpoint
resolution and new connections (on DynamoDB Local about ten times a warm invocation's time,
as ``tests/test_example_lambda.py`` prints; on AWS a TLS handshake on top).
``handler_reused_loop`` keeps one client and its open connections across invocations: pick
it when latency matters. Use one style per function, not both.

Configuration comes from the environment, as Lambda sets it: ``Session()`` with no arguments
takes the region (``AWS_DEFAULT_REGION``, which Lambda sets along with ``AWS_REGION``) and
the credentials from botocore's standard chain; ``AWS_ENDPOINT_URL_DYNAMODB`` (botocore's own
per-service endpoint variable) points it at a local database; ``TABLE_PREFIX`` (optional,
e.g. ``dev_``) goes in front of every table name.

Run it locally::

    python examples/lambda_handler.py

It starts DynamoDB Local by itself (unless ``AWS_ENDPOINT_URL_DYNAMODB`` is set), runs the
setup handler, a few API invocations in both loop styles and a stream batch, and prints what
they answered.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import binascii
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import attrs

from dynamorm_async import ConditionFailed, Session, ValidationError, from_item, model

# -- models and the session (module level: built once per execution environment) -----------


@model(table="users", hash_key="user_id")
@attrs.define
class User:
    user_id: str
    name: str
    email: str
    # Kept up to date by stream_handler; a PUT of the profile leaves them alone.
    order_count: int = 0
    total_spent: int = 0  # cents


def _now() -> datetime:
    return datetime.now(timezone.utc)


@model(table="orders", hash_key="user_id", range_key="order_id")
@attrs.define
class Order:
    user_id: str
    order_id: str
    total: int  # cents
    status: str = "open"
    placed_at: datetime = attrs.field(factory=_now)
    # An opaque token from the payment provider: binary, so base64 in JSON and in raw
    # stream events.
    payment_token: bytes | None = None


db = Session(table_prefix=os.environ.get("TABLE_PREFIX", ""))

# -- HTTP: API Gateway proxy events in, proxy responses out ----------------------------------


class BadRequest(Exception):
    """The request cannot be served as sent: answered with HTTP 400."""


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__qualname__} is not JSON serialisable")


def respond(status: int, body: Any) -> dict[str, Any]:
    """An API Gateway proxy response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, default=_json_value),
        "isBase64Encoded": False,
    }


def _body(event: Mapping[str, Any]) -> dict[str, Any]:
    raw = event.get("body") or ""
    try:
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode()
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _field(body: Mapping[str, Any], name: str) -> Any:
    if name not in body:
        raise BadRequest(f"{name!r} is missing")
    return body[name]


async def get_user(event: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /users/{user_id}``: the user, or 404."""
    user_id = event["pathParameters"]["user_id"]
    user = await db.get(User, user_id)
    if user is None:
        return respond(404, {"error": f"no user {user_id!r}"})
    return respond(200, attrs.asdict(user))


async def put_user(event: Mapping[str, Any]) -> dict[str, Any]:
    """``PUT /users/{user_id}``: create the user or replace its profile.

    An update with ``upsert=True`` rather than a ``put``: replacing the whole item would
    reset the counters that the stream handler keeps."""
    user_id = event["pathParameters"]["user_id"]
    body = _body(event)
    profile = {"name": _field(body, "name"), "email": _field(body, "email")}
    user = await db.update(User, user_id, set=profile, upsert=True)
    return respond(200, attrs.asdict(user))


async def put_order(event: Mapping[str, Any]) -> dict[str, Any]:
    """``PUT /users/{user_id}/orders/{order_id}``: create or replace an order (201 or 200)."""
    params = event["pathParameters"]
    body = _body(event)
    token = body.get("payment_token")
    try:
        payment_token = None if token is None else base64.b64decode(token, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise BadRequest("'payment_token' must be base64") from None
    order = Order(
        user_id=params["user_id"],
        order_id=params["order_id"],
        total=_field(body, "total"),
        status=body.get("status", "open"),
        payment_token=payment_token,
    )
    # A wrong type (a total of "12") is refused by the converter before anything is sent.
    old = await db.put(order, return_old=True)
    return respond(201 if old is None else 200, attrs.asdict(order))


async def list_orders(event: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /users/{user_id}/orders?limit=&cursor=``: a page of the user's orders and the
    cursor of the next page (null on the last one)."""
    user_id = event["pathParameters"]["user_id"]
    query = event.get("queryStringParameters") or {}
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise BadRequest("'limit' must be a whole number") from None
    if not 1 <= limit <= 100:
        raise BadRequest("'limit' must be between 1 and 100")
    # A cursor that was edited, or made by another user's query, is a ValidationError.
    page = await db.query(Order, user_id).page(size=limit, cursor=query.get("cursor"))
    return respond(200, {"items": [attrs.asdict(o) for o in page.items], "next": page.cursor})


Route = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/users/{user_id}"): get_user,
    ("PUT", "/users/{user_id}"): put_user,
    ("PUT", "/users/{user_id}/orders/{order_id}"): put_order,
    ("GET", "/users/{user_id}/orders"): list_orders,
}


async def route(event: Mapping[str, Any]) -> dict[str, Any]:
    """Serve one API Gateway proxy event. Bad input is answered with 400; anything else that
    goes wrong is raised, so that Lambda logs it and API Gateway answers 502."""
    method, resource = event.get("httpMethod", ""), event.get("resource", "")
    serve = ROUTES.get((method, resource))
    if serve is None:
        return respond(404, {"error": f"no route for {method} {resource}"})
    try:
        return await serve(event)
    except (BadRequest, ValidationError) as exc:
        return respond(400, {"error": str(exc)})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point, one ``asyncio.run`` per invocation.

    The session opens a client on each new loop and closes it when ``asyncio.run`` shuts
    the loop down, so nothing leaks from one invocation into the next."""
    return asyncio.run(route(event))


_loop: asyncio.AbstractEventLoop | None = None


def _close_loop() -> None:
    # Finalising the loop's async generators closes the session's client on it.
    if _loop is not None and not _loop.is_closed():
        _loop.run_until_complete(_loop.shutdown_asyncgens())
        _loop.close()


def handler_reused_loop(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point on one event loop for the life of the execution environment:
    the session keeps one client, and its pooled connections, across invocations.

    The loop is made by the first invocation, not at import (nothing runs before the first
    invocation). Between invocations Lambda freezes the process; a connection that went
    stale meanwhile is retried by botocore."""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
        atexit.register(_close_loop)  # tidy local runs; Lambda just ends the process
    return _loop.run_until_complete(route(event))


# -- DynamoDB Streams --------------------------------------------------------------------


@attrs.frozen
class OrderChange:
    """One stream record as models: ``old`` is None for an INSERT, ``new`` for a REMOVE."""

    kind: str  # "INSERT", "MODIFY" or "REMOVE"
    old: Order | None
    new: Order | None


def order_change(record: Mapping[str, Any]) -> OrderChange:
    """The ``OrderChange`` of one record of the orders table's stream."""
    # The images are DynamoDB JSON, binary values as base64 text: from_item takes them as
    # they come.
    images = record["dynamodb"]
    old, new = images.get("OldImage"), images.get("NewImage")
    return OrderChange(
        kind=record["eventName"],
        old=None if old is None else from_item(Order, old),
        new=None if new is None else from_item(Order, new),
    )


async def apply_change(change: OrderChange) -> None:
    """Keep the user's ``order_count`` and ``total_spent`` in step with their orders.

    Streams deliver each record at least once: a production version would remember the
    sequence numbers it applied (or use a condition) to stay exact across redeliveries."""
    count = (change.new is not None) - (change.old is not None)
    spent = (change.new.total if change.new else 0) - (change.old.total if change.old else 0)
    if count == 0 and spent == 0:
        return
    order = change.new or change.old
    assert order is not None
    try:
        await db.update(User, order.user_id, add={"order_count": count, "total_spent": spent})
    except ConditionFailed:  # the user is gone (update requires the item): nothing to count
        print(f"no user {order.user_id!r} for order {order.order_id!r}; record skipped")


async def process_stream(event: Mapping[str, Any]) -> dict[str, Any]:
    """Apply the batch's records in order. The first failure stops the batch and is
    reported (``ReportBatchItemFailures``): Lambda retries from that record on, and the
    records before it, already applied, are not applied twice. Give the event source
    mapping a retry limit and an on-failure destination, or a record that can never load
    (a ``DeserializationError``) holds up its shard."""
    for record in event["Records"]:
        try:
            await apply_change(order_change(record))
        except Exception as exc:
            sequence_number = record["dynamodb"]["SequenceNumber"]
            print(f"record {sequence_number} failed: {type(exc).__name__}: {exc}")
            return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
    return {"batchItemFailures": []}


def stream_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point for the orders table's stream (enable "Report batch item
    failures" on the event source mapping)."""
    return asyncio.run(process_stream(event))


# -- one-time setup ------------------------------------------------------------------------


async def ensure_tables() -> dict[str, Any]:
    """Create the missing tables, concurrently, and check the existing ones."""
    users, orders = await asyncio.gather(
        db.tables.ensure(User),
        db.tables.ensure(Order, stream="NEW_AND_OLD_IMAGES"),  # what stream_handler reads
    )
    return {"tables": {d.name: d.status for d in (users, orders)}}


def setup_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Ensure the tables; invoked once by a deployment script (idempotent). Production
    tables usually come from CloudFormation, CDK or Terraform instead."""
    return asyncio.run(ensure_tables())


# -- running it locally ------------------------------------------------------------------


@contextmanager
def local_database() -> Iterator[None]:
    """Use ``AWS_ENDPOINT_URL_DYNAMODB`` when it is set; else start DynamoDB Local for the
    duration and point the environment (which ``Session()`` reads) at it."""
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        yield
        return
    from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB

    print("Starting DynamoDB Local ...")
    with LocalDynamoDB() as local:
        os.environ.update(
            AWS_ENDPOINT_URL_DYNAMODB=local.endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_ACCESS_KEY_ID=DUMMY_CREDENTIALS["aws_access_key_id"],
            AWS_SECRET_ACCESS_KEY=DUMMY_CREDENTIALS["aws_secret_access_key"],
        )
        yield


def api_event(
    method: str,
    resource: str,
    path_parameters: dict[str, str],
    body: Any = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A minimal API Gateway REST proxy event (the fields these routes read)."""
    path = resource
    for name, value in path_parameters.items():
        path = path.replace("{" + name + "}", value)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "queryStringParameters": query,
        "pathParameters": path_parameters,
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def main() -> None:
    """Set up the tables, invoke the handlers a few times and print what they answered."""
    with local_database():
        print(f"setup: {setup_handler({}, None)}")
        user = {"user_id": "u-ada"}
        calls = [
            api_event("PUT", "/users/{user_id}", user, {"name": "Ada", "email": "ada@example.com"}),
            api_event("PUT", "/users/{user_id}/orders/{order_id}", {**user, "order_id": "o-1"},
                      {"total": 1250, "payment_token": base64.b64encode(b"\x00tok").decode()}),
            api_event("GET", "/users/{user_id}/orders", user, query={"limit": "10"}),
            api_event("GET", "/users/{user_id}", {"user_id": "u-nobody"}),
        ]  # fmt: skip
        for style in (handler, handler_reused_loop):
            for event in calls:
                started = time.perf_counter()
                answer = style(event, None)
                took = (time.perf_counter() - started) * 1000
                print(
                    f"{style.__name__}: {event['httpMethod']} {event['path']} -> "
                    f"{answer['statusCode']} in {took:.0f} ms: {answer['body'][:90]}"
                )
        order = Order("u-ada", "o-1", total=1250)
        record = {
            "eventName": "INSERT",
            "dynamodb": {"NewImage": db.converter.dump_item(order), "SequenceNumber": "1"},
        }
        print(f"stream: {stream_handler({'Records': [record]}, None)}")
        answer = handler(api_event("GET", "/users/{user_id}", user), None)
        print(f"after the stream: {answer['body']}")
        _close_loop()


if __name__ == "__main__":
    main()
