"""The local development setup: every table of an app, with its indexes and TTL, on a local
DynamoDB, ensured in one concurrent pass.

Run it::

    python examples/local_dev.py

With no ``AWS_ENDPOINT_URL_DYNAMODB`` set, it starts DynamoDB Local (``--engine moto`` for
moto's server, if you have no Java) on port 8000 (``--port``; 0 for any free port), creates
the tables, prints the variables to export in the shell that runs your app, and keeps the
database running until Ctrl-C. Its data lives in memory and goes when it stops.

With ``AWS_ENDPOINT_URL_DYNAMODB`` set (a DynamoDB Local you keep running, e.g.
``docker run -p 8000:8000 amazon/dynamodb-local``), it creates what is missing there and
exits: run it again after adding a model. Tables that exist are checked against the models
and never changed; one whose keys or indexes differ is reported, with each difference.
``TABLE_PREFIX`` (optional, e.g. ``dev_``) goes in front of every table name.

The models here stand for your app's; import them from where your app defines them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from datetime import datetime
from decimal import Decimal
from types import FrameType

import attrs

from dynamorm_async import (
    GlobalIndex,
    LocalIndex,
    SchemaMismatch,
    Session,
    TableDescription,
    model,
)

# -- the app's models ------------------------------------------------------------------------


@model(table="customers", hash_key="customer_id", indexes=[GlobalIndex("by_email", "email")])
@attrs.define
class Customer:
    customer_id: str
    email: str
    name: str


@model(
    table="orders",
    hash_key="customer_id",
    range_key="order_id",
    indexes=[
        GlobalIndex("by_status", hash_key="status", range_key="placed_at"),
        LocalIndex("by_total", range_key="total", projection="KEYS_ONLY"),
    ],
    ttl="expires_at",
)
@attrs.define
class Order:
    customer_id: str
    order_id: str
    status: str
    placed_at: datetime
    total: int
    expires_at: datetime | None = None


@model(
    table="products",
    hash_key="sku",
    indexes=[GlobalIndex("by_category", "category", range_key="price", projection=["name"])],
)
@attrs.define
class Product:
    sku: str
    name: str
    category: str
    price: Decimal


@model(
    table="login_tokens",
    hash_key="token",
    indexes=[GlobalIndex("by_customer", "customer_id", projection="KEYS_ONLY")],
    ttl="expires_at",
)
@attrs.define
class LoginToken:
    token: str
    customer_id: str
    expires_at: datetime


MODELS: list[type] = [Customer, Order, Product, LoginToken]

# -- ensuring the tables -----------------------------------------------------------------


def describe(desc: TableDescription) -> str:
    """A table in one line: its key, its indexes and its TTL attribute."""
    parts = ["key " + ", ".join(k.name for k in desc.key_schema)]
    indexes = [i.name for i in (*desc.global_indexes, *desc.local_indexes)]
    if indexes:
        parts.append(("index " if len(indexes) == 1 else "indexes ") + ", ".join(indexes))
    if desc.ttl_attribute and desc.ttl_status in ("ENABLED", "ENABLING"):
        parts.append(f"TTL on {desc.ttl_attribute}")
    return "; ".join(parts)


async def ensure_tables() -> int:
    """Ensure every model's table, concurrently, and print what was done; returns the exit
    status (1 when a table does not match its model)."""
    started = time.monotonic()
    async with Session(table_prefix=os.environ.get("TABLE_PREFIX", "")) as db:
        print(f"DynamoDB at {os.environ['AWS_ENDPOINT_URL_DYNAMODB']}")
        # What exists beforehand tells "created" from "already there"; both passes are
        # concurrent, over all the models at once.
        existed = await asyncio.gather(*(db.tables.exists(m) for m in MODELS))
        results = await asyncio.gather(
            *(db.tables.ensure(m) for m in MODELS), return_exceptions=True
        )
        created = mismatched = 0
        width = max(len(db.table_name(m)) for m in MODELS)
        for cls, there, result in zip(MODELS, existed, results, strict=True):
            name = db.table_name(cls).ljust(width)
            if isinstance(result, SchemaMismatch):
                mismatched += 1
                print(f"  MISMATCH       {name}  {'; '.join(result.differences)}")
            elif isinstance(result, BaseException):
                raise result
            else:
                created += not there
                done = "already there" if there else "created"
                print(f"  {done:<13}  {name}  {describe(result)}")
    seconds = time.monotonic() - started
    print(
        f"{len(MODELS)} tables: {created} created, {len(MODELS) - created - mismatched} already "
        f"there, {mismatched} not matching their model ({seconds:.1f} s)."
    )
    if mismatched:
        print("A table that does not match is never changed: migrate it, or drop it yourself.")
    return 1 if mismatched else 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the database as Ctrl-C does


def serve(engine: str, port: int | None) -> int:
    """Start a local database, ensure the tables, print how to reach it and keep it running
    until Ctrl-C (or SIGTERM)."""
    from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB

    print(f"Starting {engine} ...", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    with LocalDynamoDB(engine, port=port) as local:
        settings = {
            "AWS_ENDPOINT_URL_DYNAMODB": local.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        }
        os.environ.update(settings)
        status = asyncio.run(ensure_tables())
        print(f"\n{engine} is running at {local.endpoint} (process {local.pid}). In your app's")
        print("shell (and with the same TABLE_PREFIX, if you set one):\n")
        for name, value in settings.items():
            print(f"  export {name}={value}")
        print("\nPress Ctrl-C to stop it.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            print(f"\nStopping {engine}; its data goes with it.")
    return status


def main(argv: list[str] | None = None) -> int:
    """Ensure the tables where ``AWS_ENDPOINT_URL_DYNAMODB`` points, or serve a local
    database with them; returns the exit status."""
    parser = argparse.ArgumentParser(description="Create the app's tables on a local DynamoDB.")
    parser.add_argument(
        "--engine", default="dynamodb-local", choices=["dynamodb-local", "moto", "dynalite"]
    )
    parser.add_argument("--port", type=int, default=8000, help="0 for any free port")
    args = parser.parse_args(argv)
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        return asyncio.run(ensure_tables())
    return serve(args.engine, args.port or None)


if __name__ == "__main__":
    sys.exit(main())
