"""Running a copy in worker processes that are killed (SIGKILL) at random moments, for the
kill-and-resume tests, and the atomic checkpoint file those workers keep."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION


def save_checkpoint(path: Path, checkpoint: dict[str, Any] | None) -> None:
    """Write ``checkpoint`` to ``path`` atomically: a kill leaves the old file or the new."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w") as f:
        json.dump({"checkpoint": checkpoint}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint saved in ``path``; None when there is none yet."""
    if not path.exists():
        return None
    saved: dict[str, Any] | None = json.loads(path.read_text())["checkpoint"]
    return saved


async def kill_and_resume(
    script: Path, checkpoint: Path, endpoint: str, prefix: str, *, kills: int = 2
) -> tuple[int, int]:
    """Run ``script CHECKPOINT`` (it prints "started", then "done" at its end) ``kills``
    times, each SIGKILLed at a random moment, then once to its end. Returns (the seed of
    the moments, how many runs were killed); every process is stopped, also on failure."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "TABLE_PREFIX": prefix,
        "MAX_WRITE_UNITS": "2000",
    }
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    killed = 0
    for run in range(kills + 1):
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(script), str(checkpoint), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert process.stdout is not None and process.stderr is not None
            first = await asyncio.wait_for(process.stdout.readline(), 60)
            assert first.strip() == b"started", await process.stderr.read()
            if run < kills:
                await asyncio.sleep(rng.uniform(0.3, 1.2))  # a random moment of the copy
                if process.returncode is None:
                    process.send_signal(signal.SIGKILL)
                    killed += 1
            out, err = await asyncio.wait_for(process.communicate(), 120)
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
        if run == kills:
            assert process.returncode == 0 and b"done" in out, f"seed {seed}: {err.decode()}"
    return seed, killed
