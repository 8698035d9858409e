"""One data copy in a process of its own, so that its peak memory is its own.

    python copy_once.py --endpoint URL --source TABLE --segments N --expected ITEMS
        [--transport lean|aiobotocore]

Opens a session on the transport (lean by default), creates a fresh target table, copies
``--source`` (UserV1 items) into it through the UserV2 transform with ``--segments`` scan
segments, drops the target, and prints one JSON line: wall and CPU seconds of the copy,
items written, the resident memory just before the copy and the peak resident memory during
the copy (both in MiB). Linux only (``/proc/self/status`` and ``clear_refs``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from dataset import UserV1, UserV2, upgrade
from harness import new_session

CONCURRENCY = 8


def _status_mib(field: str) -> float:
    """A memory figure of /proc/self/status (Linux reports KiB)."""
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    if match is None:
        raise RuntimeError(f"no {field} in /proc/self/status")
    return int(match[1]) / 1024


def _reset_peak() -> None:
    """Start the peak resident memory (VmHWM) afresh from the current one (Linux >= 4.0),
    so that the peak measured is the copy's, not the start-up's (loading botocore's
    service model briefly needs more memory than the copy)."""
    Path("/proc/self/clear_refs").write_text("5")


async def copy_once(
    endpoint: str, source: str, segments: int, expected: int, transport: str
) -> dict[str, Any]:
    prefix = f"sc{uuid4().hex[:8]}_"
    async with new_session(endpoint, prefix, transport=transport) as db:
        target = db.table_name(UserV2)
        await db.tables.create(UserV2)
        try:
            gc.collect()
            _reset_peak()
            before = _status_mib("VmRSS")
            wall, cpu = time.perf_counter(), time.process_time()
            report = await db.tables.copy(
                UserV1,
                UserV2,
                transform=upgrade,
                segments=segments,
                concurrency=CONCURRENCY,
                source_table=source,
                target_table=target,
            )
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            peak = _status_mib("VmHWM")
        finally:
            await db.tables.delete(UserV2, table_name=target, missing_ok=True)
    if not report.complete or report.written != expected:
        raise RuntimeError(f"copy of {source} incomplete: {report}")
    return {
        "wall": wall,
        "cpu": cpu,
        "items": report.written,
        "rss_before": before,
        "rss_peak": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--segments", type=int, required=True)
    parser.add_argument("--expected", type=int, required=True)
    parser.add_argument("--transport", default="lean", choices=("lean", "aiobotocore"))
    args = parser.parse_args()
    result = asyncio.run(
        copy_once(args.endpoint, args.source, args.segments, args.expected, args.transport)
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
