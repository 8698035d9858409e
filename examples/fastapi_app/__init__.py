r"""A small FastAPI service on dynamorm_async: an orders API.

- ``POST   /customers/{customer_id}/orders``              place an order (201)
- ``GET    /customers/{customer_id}/orders?limit=&cursor=`` list, newest first, a page at a
  time (the cursor of the next page comes with each page)
- ``GET    /customers/{customer_id}/orders/{order_id}``   one order (404 when missing)
- ``PATCH  /customers/{customer_id}/orders/{order_id}``   change its status, sending the
  version you last saw: 409 when the order changed since (optimistic locking)
- ``DELETE /customers/{customer_id}/orders/{order_id}``   delete it (204, or 404)

Bad input answers 422, with pydantic's or dynamorm_async's explanation. Every response
carries the DynamoDB capacity units its request consumed in a header,
``X-DynamoDB-Capacity: read=0.5; write=1`` (a middleware around ``db.track_capacity()``).
One ``Session`` is made in the app's lifespan and closed at shutdown; routes receive it
through a dependency (``app.py``). ``models.py`` holds the stored model and the request and
response bodies.

Run it locally (needs ``pip install uvicorn``): start a DynamoDB Local that keeps running
with ``python examples/local_dev.py``, export the variables it prints, then::

    ENSURE_TABLES=1 uvicorn --app-dir examples --port 8080 fastapi_app.app:app
    curl -X POST localhost:8080/customers/c1/orders -H 'content-type: application/json' \
         -d '{"lines": [{"sku": "pen", "quantity": 2, "price_cents": 150}]}'

``ENSURE_TABLES=1`` creates the orders table at start-up if it is missing; ``TABLE_PREFIX``
(optional) goes in front of its name. Tests point ``create_app(...)`` at a database of their
own (``tests/test_example_fastapi.py``).
"""

from .app import create_app

__all__ = ["create_app"]
