"""A peer in an interpreter of its own (aiodynamodb needs Python >= 3.12), driven by the
benchmark process through ``peers.Worker``: one JSON command per line on standard input,
one JSON answer per line on standard output (logs go to standard error).

Commands:

- ``{"cmd": "open", "peer": "aiodynamodb", "endpoint", "table", "region",
  "aws_access_key_id", "aws_secret_access_key"}``: declare the model of ``dataset.py``'s
  ``Record`` on ``table`` and open the peer's client, as its documentation shows it;
- ``{"cmd": "load", "items": [...]}``: the items to write or read (``peers.wire_plain``),
  turned into the peer's models here, off the clock;
- ``{"cmd": "run", "job": ..., ...}``: one timed run, answered with ``{"wall", "cpu",
  "count"}``: wall seconds, this process's CPU seconds (``time.process_time()``: every
  thread), after a full garbage collection, and the requests or items done. Jobs:
  ``get_item`` / ``put_item`` / ``update_item`` (``requests``, ``concurrency``: on the
  first loaded item), ``query`` (``pk``) and ``scan`` (every item, as models),
  ``batch_write`` (every loaded item, 25 per request, unprocessed items sent again);
- ``{"cmd": "close"}``: close the client and exit.

Only the standard library and the peer are imported: this file runs outside the project's
environment.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
import traceback
from datetime import datetime
from decimal import Decimal
from typing import Any


class Aiodynamodb:
    """aiodynamodb 0.0.x: ``DynamoModel`` + ``@table``, ``DynamoDB`` as a context manager
    (its pooled aioboto3 resource and client), ``get`` / ``put`` / ``update`` / ``query`` /
    ``scan`` / ``batch_write``."""

    def __init__(self, args: dict[str, Any]) -> None:
        from aiodynamodb import DynamoDB, DynamoModel, HashKey, RangeKey, table

        @table(args["table"])
        class Record(DynamoModel):
            pk: HashKey[str]
            sk: RangeKey[str]
            email: str
            name: str
            age: int
            balance: Decimal
            active: bool
            tags: set[str]
            created: datetime
            visits: int
            bio: str

        self.model = Record
        self.db = DynamoDB(
            endpoint_url=args["endpoint"],
            region_name=args["region"],
            aws_access_key_id=args["aws_access_key_id"],
            aws_secret_access_key=args["aws_secret_access_key"],
        )
        self.items: list[Any] = []

    async def open(self) -> None:
        await self.db.__aenter__()

    async def close(self) -> None:
        await self.db.__aexit__(None, None, None)

    def load(self, items: list[dict[str, Any]]) -> None:
        self.items = [
            self.model(
                **{
                    **item,
                    "balance": Decimal(item["balance"]),
                    "tags": set(item["tags"]),
                    "created": datetime.fromisoformat(item["created"]),
                }
            )
            for item in items
        ]

    async def get_item(self, n: int) -> Any:
        item = self.items[0]
        return await self.db.get(self.model, hash_key=item.pk, range_key=item.sk)

    async def put_item(self, n: int) -> Any:
        await self.db.put(self.items[0])

    async def update_item(self, n: int) -> Any:
        from aiodynamodb import UpdateAttr
        from boto3.dynamodb.conditions import Attr

        item = self.items[0]
        return await self.db.update(
            self.model,
            hash_key=item.pk,
            range_key=item.sk,
            update_expression=[UpdateAttr("visits").set(n)],
            condition_expression=Attr("pk").exists(),
            return_values="ALL_NEW",
        )

    async def query(self, pk: str) -> int:
        from boto3.dynamodb.conditions import Key

        got = []
        async for page in self.db.query(self.model, key_condition_expression=Key("pk").eq(pk)):
            got += page.items
        return len(got)

    async def scan(self) -> int:
        got = []
        async for page in self.db.scan(self.model):
            got += page.items
        return len(got)

    async def batch_write(self) -> int:
        from aiodynamodb import BatchPut

        for start in range(0, len(self.items), 25):
            chunk = self.items[start : start + 25]
            delay = 0.05
            while chunk:
                result = await self.db.batch_write([BatchPut(item) for item in chunk])
                left = result.unprocessed_items.get(self.model.Meta.table_name) or []
                keys = {(r["PutRequest"]["Item"]["sk"]["S"]) for r in left}
                chunk = [item for item in chunk if item.sk in keys]
                if chunk:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
        return len(self.items)


PEERS = {"aiodynamodb": Aiodynamodb}


async def per_request(peer: Any, op: str, requests: int, concurrency: int) -> int:
    """``requests`` calls of ``op``, one after the other or from ``concurrency`` workers
    (as ``per_request/bench_per_request.py`` does for the peers in its own process)."""
    call = getattr(peer, op)
    if concurrency == 1:
        for n in range(requests):
            await call(n)
        return requests
    per_worker = requests // concurrency

    async def worker(w: int) -> None:
        for n in range(per_worker):
            await call(w * per_worker + n)

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return per_worker * concurrency


async def run(peer: Any, args: dict[str, Any]) -> dict[str, Any]:
    job = args["job"]
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    if job in ("get_item", "put_item", "update_item"):
        count = await per_request(peer, job, args["requests"], args.get("concurrency", 1))
    elif job == "query":
        count = await peer.query(args["pk"])
    elif job == "scan":
        count = await peer.scan()
    elif job == "batch_write":
        count = await peer.batch_write()
    else:
        raise ValueError(f"unknown job {job!r}")
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "count": count,
    }


async def main() -> None:
    peer: Any = None
    while True:
        line = sys.stdin.readline()  # nothing else runs meanwhile: blocking is fine
        if not line:  # the benchmark process is gone
            break
        command = json.loads(line)
        cmd = command.pop("cmd")
        try:
            answer: dict[str, Any] = {}
            if cmd == "open":
                peer = PEERS[command["peer"]](command)
                await peer.open()
            elif cmd == "load":
                peer.load(command["items"])
                answer = {"count": len(peer.items)}
            elif cmd == "run":
                answer = await run(peer, command)
            elif cmd == "close":
                break
            else:
                raise ValueError(f"unknown command {cmd!r}")
        except Exception as exc:
            traceback.print_exc()
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    if peer is not None:
        await peer.close()
    sys.stdout.write("{}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
