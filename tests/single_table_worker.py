"""A process that migrates the ``orders`` of the shared ``shop`` table from ``OrderV1`` to
``OrderV2`` in place (a new sort key format), for the kill-and-resume test.

    python single_table_worker.py CHECKPOINT_FILE   (environment: endpoint, credentials,
                                                     TABLE_PREFIX, MAX_WRITE_UNITS)
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import attrs
from killing import load_checkpoint, save_checkpoint

from dynamorm_async import Key, Session, Table

shop = Table("shop", hash_key="pk", range_key="sk")


@shop.entity(key=Key("CUSTOMER#{customer_id}", "PROFILE"))
@attrs.define
class Customer:
    customer_id: str
    name: str


@shop.entity(key=Key("CUSTOMER#{customer_id}", "ORDER#{n}"), type="OrderV1", version="version")
@attrs.define
class OrderV1:
    customer_id: str
    n: int
    total: int
    version: int = 0


@shop.entity(key=Key("CUSTOMER#{customer_id}", "ORDER#{n:06d}"), type="OrderV2", version="version")
@attrs.define
class OrderV2:
    customer_id: str
    n: int
    total_cents: int
    version: int = 0


def upgrade(o: OrderV1) -> OrderV2:
    return OrderV2(o.customer_id, o.n, o.total * 100, o.version)


async def main(path: Path, resume: dict[str, Any] | None) -> None:
    async with Session(table_prefix=os.environ["TABLE_PREFIX"]) as db:
        print("started", flush=True)
        await db.tables.copy(
            OrderV1,
            OrderV2,
            transform=upgrade,
            segments=4,
            page_size=20,
            resume=resume,
            max_write_units=float(os.environ.get("MAX_WRITE_UNITS", "1500")),
            on_checkpoint=lambda checkpoint: save_checkpoint(path, checkpoint),
        )
    print("done", flush=True)


if __name__ == "__main__":
    file = Path(sys.argv[1])
    asyncio.run(main(file, load_checkpoint(file)))
