"""A process that re-keys the ``events`` table in place, for the kill-and-resume test.

    python live_rekey_worker.py CHECKPOINT_FILE   (environment: endpoint, credentials,
                                                   TABLE_PREFIX)

Every event moves from sort key ``e<n>`` to ``EVENT#<n:06d>`` and gets ``schema = 2``, the
copy's mark. The checkpoint of each page is written to CHECKPOINT_FILE atomically; a file
that exists is resumed from. Prints ``started`` once the copy runs and ``done`` at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import attrs
from killing import load_checkpoint, save_checkpoint

from dynamorm_async import Session, model


@model(table="events", hash_key="pk", range_key="sk", version="version")
@attrs.define
class Event:
    pk: str
    sk: str
    n: int
    schema: int = 1
    version: int = 0


def rekey(e: Event) -> Event:
    """The new sort key format, and the mark."""
    return attrs.evolve(e, sk=f"EVENT#{e.n:06d}", schema=2)


MARK = {"schema": 2}


async def main(path: Path, resume: dict[str, Any] | None) -> None:
    async with Session(table_prefix=os.environ["TABLE_PREFIX"]) as db:
        print("started", flush=True)
        await db.tables.copy(
            Event,
            transform=rekey,
            mark=MARK,
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
