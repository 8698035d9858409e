"""The peers that joined later: pydynox, pynamodb-async and aiodynamodb, as their
documentation shows them, on ``dataset.py``'s ``Record`` items.

- **pydynox** (a DynamoDB ORM with a Rust core: HTTP, SigV4, retries and the item
  conversion run in Rust, its requests on a tokio runtime's threads) and **pynamodb-async**
  (PynamoDB's models and attributes on an aiobotocore client) install next to the other
  peers in ``.venv-bench``: they run in the benchmark process itself, interleaved with
  ours. ``time.process_time()`` counts every thread of the process, so pydynox's Rust
  threads are in its client CPU.
- **aiodynamodb** (Pydantic v2 models on aioboto3) needs Python >= 3.12, so it lives in an
  environment of its own, ``.venv-bench-peers`` (``BENCH_PEERS_PYTHON`` names another
  interpreter): a scenario starts ``peer_worker.py`` there once and has it do its runs on
  request (``Worker.run`` gives a ``harness.RemoteRun``), still interleaved with the others;
  the worker reports its own wall time and its own process CPU (all its threads).

A peer that is not installed is left out of a scenario's table, and the scenario says so
(``missing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dataset import Record
from harness import BENCHMARKS, DUMMY_CREDENTIALS, REGION, RemoteRun

__all__ = [
    "AIODYNAMODB",
    "PEERS_PYTHON",
    "PYDYNOX",
    "PYNAMODB_ASYNC",
    "Worker",
    "installed",
    "missing_note",
    "peers_python",
    "pydynox_model",
    "pydynox_record",
    "pynamodb_record",
    "remote_available",
    "remote_version",
    "wire_plain",
]

PYDYNOX = "pydynox"
PYNAMODB_ASYNC = "pynamodb-async"
AIODYNAMODB = "aiodynamodb"

WORKER = BENCHMARKS / "peer_worker.py"
PEERS_VENV = BENCHMARKS.parent / ".venv-bench-peers"
PEERS_PYTHON = Path(os.environ.get("BENCH_PEERS_PYTHON") or PEERS_VENV / "bin" / "python")


def installed(module: str) -> bool:
    """Whether ``module`` can be imported in this interpreter."""
    return importlib.util.find_spec(module) is not None


def peers_python() -> Path | None:
    """The peers' interpreter (``.venv-bench-peers``), or None when there is none."""
    return PEERS_PYTHON if PEERS_PYTHON.exists() else None


def remote_version(package: str) -> str | None:
    """``package``'s version in the peers' interpreter, or None when it is not there."""
    python = peers_python()
    if python is None:
        return None
    code = (
        "import importlib.metadata as m, platform, sys\n"
        f"print(m.version({package!r}), platform.python_version())"
    )
    try:
        done = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    version, python_version = done.stdout.split()
    return f"{version} (Python {python_version})"


def remote_available(package: str = "aiodynamodb") -> bool:
    """Whether the peers' interpreter exists and has ``package``."""
    return remote_version(package) is not None


def missing_note(names: Iterable[str]) -> str:
    """The sentence a scenario adds when peers could not be measured."""
    names = list(names)
    if not names:
        return ""
    return (
        f" Not measured here: {', '.join(names)} (not installed: `make bench` installs "
        "pydynox and pynamodb-async into .venv-bench and aiodynamodb, which needs Python "
        ">= 3.12, into .venv-bench-peers)."
    )


# -- pydynox ---------------------------------------------------------------------------------


def pydynox_model(table_name: str, endpoint: str) -> Any:
    """``Record``'s table as a pydynox model, with a client of its own, declared as
    pydynox's documentation does (``Model``, ``ModelConfig(table=..., client=...)``)."""
    from pydynox import DynamoDBClient, Model, ModelConfig
    from pydynox.attributes import (
        BooleanAttribute,
        DatetimeAttribute,
        DecimalAttribute,
        NumberAttribute,
        StringAttribute,
        StringSetAttribute,
    )

    client = DynamoDBClient(
        region=REGION,
        endpoint_url=endpoint,
        access_key=DUMMY_CREDENTIALS["aws_access_key_id"],
        secret_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
    )

    class DRecord(Model):
        model_config = ModelConfig(table=table_name, client=client)

        pk = StringAttribute(partition_key=True)
        sk = StringAttribute(sort_key=True)
        email = StringAttribute()
        name = StringAttribute()
        age = NumberAttribute()
        balance = DecimalAttribute()
        active = BooleanAttribute()
        tags = StringSetAttribute()
        created = DatetimeAttribute()
        visits = NumberAttribute()
        bio = StringAttribute()

    return DRecord


def pydynox_record(model: Any, record: Record) -> Any:
    """``record`` as an instance of the pydynox model."""
    return model(
        pk=record.pk,
        sk=record.sk,
        email=record.email,
        name=record.name,
        age=record.age,
        balance=record.balance,
        active=record.active,
        tags=set(record.tags),
        created=record.created,
        visits=record.visits,
        bio=record.bio,
    )


# -- PynamoDB and pynamodb-async ------------------------------------------------------------


def pynamodb_record(model: Any, record: Record) -> Any:
    """``record`` as an instance of a PynamoDB (or pynamodb-async) model of
    ``dataset.pynamodb_model``."""
    return model(
        record.pk,
        record.sk,
        email=record.email,
        name=record.name,
        age=record.age,
        balance=float(record.balance),
        active=record.active,
        tags=set(record.tags),
        created=record.created,
        visits=record.visits,
        bio=record.bio,
    )


# -- the worker in the peers' interpreter ----------------------------------------------------


def wire_plain(record: Record) -> dict[str, Any]:
    """``record`` as JSON for the worker: the number as text, the set as a list, the
    timestamp as ISO-8601 text (the worker builds its models from these, off the clock)."""
    return {
        "pk": record.pk,
        "sk": record.sk,
        "email": record.email,
        "name": record.name,
        "age": record.age,
        "balance": str(record.balance),
        "active": record.active,
        "tags": sorted(record.tags),
        "created": record.created.isoformat(timespec="microseconds"),
        "visits": record.visits,
        "bio": record.bio,
    }


class Worker:
    """``peer_worker.py`` in the peers' interpreter, driven by one JSON line per command.

    ``async with Worker(endpoint, table) as worker:`` starts it and opens its peer's client
    on ``table``; ``await worker.load(records)`` hands it items; ``worker.run(job, ...)``
    is a ``RemoteRun`` for ``run_interleaved``. The worker is stopped on the way out, and
    it stops by itself when its standard input closes (this process died)."""

    def __init__(self, endpoint: str, table: str, peer: str = "aiodynamodb") -> None:
        self.endpoint = endpoint
        self.table = table
        self.peer = peer
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Worker:
        python = peers_python()
        if python is None:
            raise RuntimeError(f"no peers' interpreter at {PEERS_PYTHON}")
        self._process = await asyncio.create_subprocess_exec(
            str(python),
            str(WORKER),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**24,
        )
        await self.request(
            "open",
            peer=self.peer,
            endpoint=self.endpoint,
            table=self.table,
            region=REGION,
            **DUMMY_CREDENTIALS,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._send(process, {"cmd": "close"}), 30)
        with contextlib.suppress(ProcessLookupError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (a dict); a failure in the worker is
        raised here."""
        if self._process is None:
            raise RuntimeError("the worker is not running")
        async with self._lock:
            answer = await self._send(self._process, {"cmd": cmd, **args})
        if "error" in answer:
            raise RuntimeError(f"{self.peer} worker, {cmd}: {answer['error']}")
        return answer

    @staticmethod
    async def _send(process: asyncio.subprocess.Process, command: dict[str, Any]) -> Any:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(command).encode() + b"\n")
        await process.stdin.drain()
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"the peer worker exited (code {await process.wait()})")
        return json.loads(line)

    async def load(self, records: list[Record]) -> None:
        """Give the worker ``records`` (it builds its models from them, off the clock)."""
        await self.request("load", items=[wire_plain(r) for r in records])

    def run(self, job: str, **args: Any) -> RemoteRun:
        """One run of ``job`` in the worker (see ``peer_worker.py`` for the jobs)."""

        async def call() -> dict[str, Any]:
            return await self.request("run", job=job, **args)

        return RemoteRun(call)


def main() -> None:
    """``python peers.py``: which peers this interpreter and the peers' one have."""
    for module in ("pydynox", "pynamodb_async"):
        print(f"{module}: {'installed' if installed(module) else 'missing'} ({sys.executable})")
    print(f"aiodynamodb: {remote_version('aiodynamodb') or 'missing'} ({PEERS_PYTHON})")


if __name__ == "__main__":
    main()
