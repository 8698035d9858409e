"""examples/fastapi_app, driven through httpx's ASGITransport against the test's engine.

ASGITransport sends no lifespan events, so each test runs the app inside its lifespan
context itself: that is where the app makes its Session (and ensures its table), and where
it closes it.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import pytest_asyncio
from environments import aws_environment
from fastapi import FastAPI

from dynamorm_async import Session
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def fastapi_app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example package, imported from examples/ as a user would run it."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module("fastapi_app")


@pytest_asyncio.fixture
async def app(
    fastapi_app: ModuleType, dynamodb_endpoint: str, dynamodb_session: Session
) -> AsyncIterator[FastAPI]:
    """The app on the test's engine and table prefix (``dynamodb_session`` drops the
    tables afterwards), inside its lifespan; its session is closed when the lifespan ends."""
    application: FastAPI = fastapi_app.create_app(
        ensure_tables=True,
        region=REGION,
        endpoint_url=dynamodb_endpoint,
        table_prefix=dynamodb_session.table_prefix,
        **DUMMY_CREDENTIALS,
    )
    async with application.router.lifespan_context(application):
        yield application
    assert application.state.db.state == "closed"


@pytest_asyncio.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls the app in this process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders.test") as client:
        yield client


ORDERS = "/customers/{}/orders"


def order_body(*quantities: int, note: str | None = None) -> dict[str, Any]:
    lines = [
        {"sku": f"sku-{i}", "quantity": q, "price_cents": 250} for i, q in enumerate(quantities)
    ]
    return {"lines": lines, "note": note}


async def create(api: httpx.AsyncClient, customer: str, *quantities: int) -> dict[str, Any]:
    answer = await api.post(ORDERS.format(customer), json=order_body(*quantities))
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def test_the_lifespan_makes_the_table_and_one_session_and_closes_it(
    fastapi_app: ModuleType, dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """Starting the app ensures the orders table under the prefix and opens one session,
    which every request shares; shutting it down closes that session."""
    app = fastapi_app.create_app(
        ensure_tables=True,
        region=REGION,
        endpoint_url=dynamodb_endpoint,
        table_prefix=dynamodb_session.table_prefix,
        **DUMMY_CREDENTIALS,
    )
    async with app.router.lifespan_context(app):
        db = app.state.db
        assert db.state == "open"
        assert await dynamodb_session.tables.exists(fastapi_app.app.Order)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            await create(api, "c1", 1)
        assert app.state.db is db
    assert db.state == "closed"


async def test_create_then_get_an_order(api: httpx.AsyncClient) -> None:
    """POST answers 201 with the stored order (version 1, timestamps, computed total);
    GET answers the same order."""
    answer = await api.post(ORDERS.format("c1"), json=order_body(2, 3, note="gift"))
    assert answer.status_code == 201
    order = answer.json()
    assert order["customer_id"] == "c1" and order["status"] == "open"
    assert order["note"] == "gift" and order["total_cents"] == 5 * 250
    assert order["version"] == 1 and order["created_at"] == order["updated_at"] is not None
    assert [line["quantity"] for line in order["lines"]] == [2, 3]
    again = await api.get(f"{ORDERS.format('c1')}/{order['order_id']}")
    assert again.status_code == 200 and again.json() == order


async def test_list_pages_through_every_order_newest_first(api: httpx.AsyncClient) -> None:
    """Seven orders listed three at a time: pages of 3, 3 and 1 linked by cursors, newest
    first, each order once; another customer's orders never show up."""
    made = [await create(api, "c1", n + 1) for n in range(7)]
    await create(api, "c2", 1)
    seen: list[dict[str, Any]] = []
    sizes: list[int] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        answer = await api.get(ORDERS.format("c1"), params=params)
        assert answer.status_code == 200
        page = answer.json()
        sizes.append(len(page["items"]))
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sizes == [3, 3, 1]
    assert seen == made[::-1]


async def test_status_change_with_optimistic_locking(api: httpx.AsyncClient) -> None:
    """PATCH with the current version changes the status and bumps the version; PATCH with
    a stale version answers 409 with the current version and changes nothing; PATCH of a
    missing order answers 404."""
    order = await create(api, "c1", 1)
    url = f"{ORDERS.format('c1')}/{order['order_id']}"
    paid = await api.patch(url, json={"status": "paid", "version": 1})
    assert paid.status_code == 200
    assert paid.json()["status"] == "paid" and paid.json()["version"] == 2
    stale = await api.patch(url, json={"status": "cancelled", "version": 1})
    assert stale.status_code == 409
    assert stale.json() == {"detail": "the order was changed by someone else", "version": 2}
    assert (await api.get(url)).json() == paid.json()
    missing = await api.patch(f"{ORDERS.format('c1')}/nope", json={"status": "paid", "version": 1})
    assert missing.status_code == 404


async def test_two_clients_race_for_one_version_and_one_wins(api: httpx.AsyncClient) -> None:
    """Ten concurrent PATCHes from clients that all saw version 1: exactly one succeeds,
    the other nine answer 409."""
    order = await create(api, "c1", 1)
    url = f"{ORDERS.format('c1')}/{order['order_id']}"
    answers = await asyncio.gather(
        *(api.patch(url, json={"status": "shipped", "version": 1}) for _ in range(10))
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * 9


async def test_delete_answers_204_then_404(api: httpx.AsyncClient) -> None:
    """DELETE answers 204 and the order is gone (GET 404); deleting it again answers 404."""
    order = await create(api, "c1", 1)
    url = f"{ORDERS.format('c1')}/{order['order_id']}"
    deleted = await api.delete(url)
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await api.get(url)).status_code == 404
    assert (await api.delete(url)).status_code == 404


INVALID: list[tuple[str, str, Any]] = [
    ("post", "", {"lines": []}),
    ("post", "", order_body(0)),
    ("post", "", {"lines": [{"sku": "", "quantity": 1, "price_cents": 1}]}),
    ("post", "", {"lines": [{"sku": "a", "quantity": 1, "price_cents": -1}]}),
    ("post", "", {"note": "no lines"}),
    ("post", "", "not an object"),
    ("patch", "/o1", {"status": "lost", "version": 1}),
    ("patch", "/o1", {"status": "paid", "version": 0}),
    ("patch", "/o1", {"status": "paid"}),
    ("get", "?limit=0", None),
    ("get", "?limit=101", None),
    ("get", "?limit=ten", None),
]


async def test_invalid_requests_answer_422(api: httpx.AsyncClient) -> None:
    """Bodies and parameters that pydantic refuses answer 422 with its explanation, and
    nothing is written."""
    for method, path, payload in INVALID:
        kwargs = {} if payload is None else {"json": payload}
        answer = await getattr(api, method)(ORDERS.format("c1") + path, **kwargs)
        assert answer.status_code == 422, (method, path, payload, answer.text)
        assert answer.json()["detail"]
    listed = await api.get(ORDERS.format("c1"))
    assert listed.json() == {"items": [], "next_cursor": None}


async def test_a_forged_or_foreign_cursor_answers_422(api: httpx.AsyncClient) -> None:
    """A cursor edited by hand, or one made for another customer's list, is refused by the
    library (ValidationError) and answers 422 rather than listing from somewhere else."""
    for customer in ("c1", "c2"):
        for n in range(3):
            await create(api, customer, n + 1)
    page = (await api.get(ORDERS.format("c2"), params={"limit": 1})).json()
    cursor = page["next_cursor"]
    assert cursor is not None
    for bad in (cursor, cursor[:-3] + "AAA", "garbage"):
        answer = await api.get(ORDERS.format("c1"), params={"limit": 1, "cursor": bad})
        assert answer.status_code == 422, answer.text
        assert "cursor" in answer.json()["detail"]


async def test_missing_orders_answer_404(api: httpx.AsyncClient) -> None:
    """GET, PATCH and DELETE of an order that does not exist answer 404."""
    url = f"{ORDERS.format('c1')}/nope"
    assert (await api.get(url)).status_code == 404
    assert (await api.patch(url, json={"status": "paid", "version": 3})).status_code == 404
    assert (await api.delete(url)).status_code == 404


async def test_two_hundred_concurrent_creates_and_gets_all_succeed(
    api: httpx.AsyncClient,
) -> None:
    """200 requests at once, creates and gets interleaved, through the one shared session:
    every create answers 201 and every get 200 with the order created before."""
    existing = [await create(api, f"c{n % 5}", 1) for n in range(20)]

    async def get(order: dict[str, Any]) -> httpx.Response:
        return await api.get(f"{ORDERS.format(order['customer_id'])}/{order['order_id']}")

    requests = []
    for n in range(200):
        if n % 2:
            requests.append(get(existing[n % 20]))
        else:
            requests.append(api.post(ORDERS.format(f"c{n % 7}"), json=order_body(n % 9 + 1)))
    answers = await asyncio.gather(*requests)
    creates, gets = answers[0::2], answers[1::2]
    assert [a.status_code for a in creates] == [201] * 100
    assert [a.status_code for a in gets] == [200] * 100
    assert [a.json() for a in gets] == [existing[n % 20] for n in range(1, 200, 2)]
    assert len({a.json()["order_id"] for a in creates}) == 100
    listed = 0
    for customer in range(7):
        page = await api.get(ORDERS.format(f"c{customer}"), params={"limit": 100})
        listed += len(page.json()["items"])
    assert listed == 100 + 20


CAPACITY = "X-DynamoDB-Capacity"


def capacity(answer: httpx.Response) -> dict[str, float]:
    """The ``X-DynamoDB-Capacity`` header (``read=0.5; write=1``) as numbers."""
    pairs = (part.split("=") for part in answer.headers[CAPACITY].split("; "))
    return {name: float(units) for name, units in pairs}


async def test_each_response_reports_the_capacity_its_request_consumed(
    api: httpx.AsyncClient, dynamodb_engine: str
) -> None:
    """Every response carries the capacity units DynamoDB reported for the requests made
    while answering it, its own only, also when many are answered at once.

    The figures are DynamoDB's for items this small (under 1 KB): a write costs 1 write unit,
    an eventually consistent read 0.5 read units, found or not. Both local engines report
    them so for PutItem and GetItem; for UpdateItem moto reports 0.5 where DynamoDB (and
    DynamoDB Local) report 1."""
    created = await api.post(ORDERS.format("c1"), json=order_body(2))  # PutItem
    assert created.status_code == 201
    assert created.headers[CAPACITY] == "read=0; write=1"
    url = f"{ORDERS.format('c1')}/{created.json()['order_id']}"
    found = await api.get(url)  # GetItem
    assert found.status_code == 200 and capacity(found) == {"read": 0.5, "write": 0}
    missing = await api.get(f"{ORDERS.format('c1')}/nope")  # GetItem, no item: still charged
    assert missing.status_code == 404 and capacity(missing) == {"read": 0.5, "write": 0}
    paid = await api.patch(url, json={"status": "paid", "version": 1})  # GetItem, UpdateItem
    assert paid.status_code == 200
    assert capacity(paid) == {"read": 0.5, "write": 0.5 if dynamodb_engine == "moto" else 1}
    # A write its condition refused is charged, but its error carries no ConsumedCapacity.
    stale = await api.patch(url, json={"status": "shipped", "version": 1})
    assert stale.status_code == 409 and capacity(stale) == {"read": 0.5, "write": 0}
    refused = await api.post(ORDERS.format("c1"), json={"lines": []})  # no request made
    assert refused.status_code == 422 and capacity(refused) == {"read": 0, "write": 0}

    requests = [
        api.get(url) if n % 2 else api.post(ORDERS.format("c2"), json=order_body(1))
        for n in range(40)
    ]
    answers = await asyncio.gather(*requests)
    assert [a.status_code for a in answers] == [201, 200] * 20
    assert [capacity(a) for a in answers] == [
        {"read": 0, "write": 1},
        {"read": 0.5, "write": 0},
    ] * 20


# Loads ``fastapi_app.app:app`` as uvicorn would (configured by the environment only), runs
# its lifespan and places one order.
_SERVE_ONE = r"""
import asyncio, sys
import httpx
sys.path.insert(0, sys.argv[1])
from fastapi_app.app import app

async def main():
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            lines = [{"sku": "pen", "quantity": 2, "price_cents": 150}]
            answer = await client.post("/customers/c1/orders", json={"lines": lines})
            print(answer.status_code, answer.json()["total_cents"])

asyncio.run(main())
"""


async def test_the_module_level_app_is_configured_by_the_environment(
    dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """``fastapi_app.app:app``, the object uvicorn serves, takes everything from the
    environment: AWS_ENDPOINT_URL_DYNAMODB, region and credentials, TABLE_PREFIX, and
    ENSURE_TABLES=1 to create its table at start-up."""
    env = aws_environment(dynamodb_endpoint, dynamodb_session.table_prefix, ENSURE_TABLES="1")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SERVE_ONE,
        str(EXAMPLES),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert out.decode().split() == ["201", "300"]
    client = await dynamodb_session.client()
    table = dynamodb_session.table_prefix + "orders"
    assert (await client.scan(TableName=table))["Count"] == 1
