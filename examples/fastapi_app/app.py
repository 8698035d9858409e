"""The orders API: routes, the session's life cycle, and how library errors become HTTP.

One ``Session`` per application, made in the lifespan and closed at shutdown; routes get it
through the ``get_db`` dependency. Validation errors answer 422 (pydantic's for request
bodies and parameters, dynamorm_async's ``ValidationError`` for values only the library can
judge, such as a cursor that was edited), a missing order 404, a lost optimistic-locking race
(``VersionConflict``) 409. Every response says what its DynamoDB requests cost in an
``X-DynamoDB-Capacity`` header (``capacity_header``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Annotated, Any

import attrs
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from dynamorm_async import Session, ValidationError, VersionConflict

from .models import Line, Order, OrderIn, OrderOut, OrderPage, StatusChange


def get_db(request: Request) -> Session:
    """The application's session (a dependency)."""
    db: Session = request.app.state.db
    return db


Db = Annotated[Session, Depends(get_db)]


async def _invalid(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _conflict(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VersionConflict)
    if exc.actual is None:  # deleted since the client read it
        return JSONResponse({"detail": "order not found"}, status_code=404)
    return JSONResponse(
        {"detail": "the order was changed by someone else", "version": exc.actual},
        status_code=409,
    )


async def capacity_header(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Answer every request with the capacity its DynamoDB requests consumed, as DynamoDB
    reported it: ``X-DynamoDB-Capacity: read=0.5; write=1`` (read and write capacity units).

    Capacity is what DynamoDB bills, so this shows a client, a load test or the access log
    which endpoints are expensive. ``track_capacity()`` counts the requests of this task and
    of the tasks started inside it, the endpoint's among them, so concurrent HTTP requests
    never mix. A write refused by its condition (a 409) is charged too, but DynamoDB does
    not report it."""
    with get_db(request).track_capacity() as usage:
        response = await call_next(request)
    response.headers["X-DynamoDB-Capacity"] = (
        f"read={usage.read_units:g}; write={usage.write_units:g}"
    )
    return response


def _new_order_id() -> str:
    # Sorts by creation time; the random tail keeps two orders of one microsecond apart.
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"


async def _existing(db: Session, customer_id: str, order_id: str) -> Order:
    order = await db.get(Order, customer_id, order_id)
    if order is None:
        raise HTTPException(404, "order not found")
    return order


routes = APIRouter(prefix="/customers/{customer_id}/orders", tags=["orders"])


@routes.post("", status_code=201, response_model=OrderOut)
async def create_order(customer_id: str, body: OrderIn, db: Db) -> Order:
    """Place an order."""
    lines = [Line(**line.model_dump()) for line in body.lines]
    order = Order(customer_id, _new_order_id(), lines, note=body.note)
    await db.put(order)  # version 0: refused if the key exists; sets version and timestamps
    return order


@routes.get("", response_model=OrderPage)
async def list_orders(
    customer_id: str,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> OrderPage:
    """The customer's orders, newest first, a page at a time."""
    page = await db.query(Order, customer_id, reverse=True).page(size=limit, cursor=cursor)
    items = [OrderOut.model_validate(order) for order in page.items]
    return OrderPage(items=items, next_cursor=page.cursor)


@routes.get("/{order_id}", response_model=OrderOut)
async def get_order(customer_id: str, order_id: str, db: Db) -> Order:
    """One order."""
    return await _existing(db, customer_id, order_id)


@routes.patch("/{order_id}", response_model=OrderOut)
async def change_status(customer_id: str, order_id: str, body: StatusChange, db: Db) -> Order:
    """Change the status of the order as the client last saw it (``version``); 409 when it
    has changed since."""
    order = await _existing(db, customer_id, order_id)
    # The write is conditional on the version the client sent, not the one just read, so a
    # client that worked from a stale copy gets a VersionConflict (409) and must reload.
    seen = attrs.evolve(order, version=body.version)
    updated: Order = await db.update(seen, set={"status": body.status})
    return updated


@routes.delete("/{order_id}", status_code=204)
async def delete_order(customer_id: str, order_id: str, db: Db) -> Response:
    """Delete an order."""
    if await db.delete(Order, customer_id, order_id, return_old=True) is None:
        raise HTTPException(404, "order not found")
    return Response(status_code=204)


def create_app(*, ensure_tables: bool = False, **session_options: Any) -> FastAPI:
    """The application. ``session_options`` go to ``Session`` when the app starts (none:
    region, credentials and ``AWS_ENDPOINT_URL_DYNAMODB`` from the environment, and the
    table prefix from ``TABLE_PREFIX``). ``ensure_tables`` creates a missing table at
    start-up, for local development and tests; production tables come from your
    infrastructure code."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        options = {"table_prefix": os.environ.get("TABLE_PREFIX", ""), **session_options}
        async with Session(**options) as db:  # closed at shutdown, however it ends
            if ensure_tables:
                await db.tables.ensure(Order)
            await db.client()  # opened now, so the first request does not pay for it
            app.state.db = db
            yield

    app = FastAPI(title="Orders", lifespan=lifespan)
    app.include_router(routes)
    app.middleware("http")(capacity_header)
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(VersionConflict, _conflict)
    return app


# For `uvicorn fastapi_app.app:app`: nothing is sent until the server starts the lifespan.
app = create_app(ensure_tables=os.environ.get("ENSURE_TABLES") == "1")
