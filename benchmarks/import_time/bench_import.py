"""Import time (cold start): ``import dynamorm_async`` and three model definitions, in fresh
interpreters, against ``import aioboto3``, ``import pynamodb.models``,
``import aiodynamo.client``, and the same three models in pydynox, pynamodb-async and
aiodynamodb (the last in the peers' Python 3.12 interpreter, see ``peers.py``, with
``import aioboto3`` there as its reference). The import is the same for both of our
transports: the transport is chosen by the session, at its first request.

Each sample is a new ``python -c`` process that times its own imports (wall and CPU, from the
first line of the snippet to the last), so interpreter start-up, identical for all, is left
out. The variants run interleaved, after a warm-up round that also writes the byte-code
caches (into a temporary ``PYTHONPYCACHEPREFIX``, for every package alike), and each figure is
the median over the runs. ``python -X importtime`` of our snippet gives the profile.

    python benchmarks/import_time/bench_import.py [--json PATH] [--quick]

(``--endpoint`` is accepted and ignored: nothing here talks to DynamoDB.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from harness import Goal, Result, emit, median, parse_args, ratio
from peers import installed, missing_note, peers_python, remote_available

HEAVY = ("aiobotocore", "botocore", "aiohttp")

OURS_SNIPPET = """
from datetime import datetime

import attrs

from dynamorm_async import GlobalIndex, model


@model(table="users", hash_key="user_id", indexes=[GlobalIndex("by_email", hash_key="email")])
@attrs.define
class User:
    user_id: str
    email: str
    name: str
    created: datetime
    roles: set[str] = attrs.Factory(set)


@model(table="orders", hash_key="customer_id", range_key="order_id", version="version")
@attrs.define
class Order:
    customer_id: str
    order_id: str
    status: str
    total: int
    note: str | None = None
    version: int = 0


@model(table="events", hash_key="pk", range_key="sk", ttl="expires")
@attrs.define
class Event:
    pk: str
    sk: str
    kind: str
    payload: dict[str, str]
    expires: datetime
"""

# The same three tables (a global index; a range key and a version; a TTL) declared the way
# each peer's documentation declares models.
PYDYNOX_SNIPPET = """
from pydynox import Model, ModelConfig
from pydynox.attributes import (
    DatetimeAttribute,
    MapAttribute,
    NumberAttribute,
    StringAttribute,
    StringSetAttribute,
    TTLAttribute,
    VersionAttribute,
)
from pydynox.indexes import GlobalSecondaryIndex


class User(Model):
    model_config = ModelConfig(table="users")
    user_id = StringAttribute(partition_key=True)
    email = StringAttribute()
    name = StringAttribute()
    created = DatetimeAttribute()
    roles = StringSetAttribute()
    by_email = GlobalSecondaryIndex(index_name="by_email", partition_key="email")


class Order(Model):
    model_config = ModelConfig(table="orders")
    customer_id = StringAttribute(partition_key=True)
    order_id = StringAttribute(sort_key=True)
    status = StringAttribute()
    total = NumberAttribute()
    note = StringAttribute()
    version = VersionAttribute()


class Event(Model):
    model_config = ModelConfig(table="events")
    pk = StringAttribute(partition_key=True)
    sk = StringAttribute(sort_key=True)
    kind = StringAttribute()
    payload = MapAttribute()
    expires = TTLAttribute()
"""

PYNAMODB_ASYNC_SNIPPET = """
from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection
from pynamodb_async.indexes import GlobalSecondaryIndex
from pynamodb_async.models import Model


class ByEmail(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_email"
        projection = AllProjection()

    email = UnicodeAttribute(hash_key=True)


class User(Model):
    class Meta:
        table_name = "users"

    user_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    created = UTCDateTimeAttribute()
    roles = UnicodeSetAttribute(null=True)
    by_email = ByEmail()


class Order(Model):
    class Meta:
        table_name = "orders"

    customer_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    total = NumberAttribute()
    note = UnicodeAttribute(null=True)
    version = VersionAttribute()


class Event(Model):
    class Meta:
        table_name = "events"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    payload = MapAttribute()
    expires = TTLAttribute()
"""

# aiodynamodb has no version or TTL attributes: those are plain fields.
AIODYNAMODB_SNIPPET = """
from datetime import datetime

from aiodynamodb import DynamoModel, HashKey, RangeKey, table
from aiodynamodb.models import GSI


@table("users", indexes=[GSI("by_email", hash_key="email")])
class User(DynamoModel):
    user_id: HashKey[str]
    email: str
    name: str
    created: datetime
    roles: set[str] = set()


@table("orders")
class Order(DynamoModel):
    customer_id: HashKey[str]
    order_id: RangeKey[str]
    status: str
    total: int
    note: str | None = None
    version: int = 0


@table("events")
class Event(DynamoModel):
    pk: HashKey[str]
    sk: RangeKey[str]
    kind: str
    payload: dict[str, str]
    expires: datetime
"""

OURS = "import dynamorm_async + 3 models (either transport)"
AIOBOTO3 = "import aioboto3"
PEERS = "peers"  # run by the peers' interpreter (Python 3.12)
# name -> (interpreter: None for this one, PEERS for the peers' one; the snippet)
VARIANTS: dict[str, tuple[str | None, str]] = {
    OURS: (None, OURS_SNIPPET),
    "import dynamorm_async": (None, "import dynamorm_async"),
    AIOBOTO3: (None, "import aioboto3"),
    "import aiobotocore.session (what ours defers)": (None, "import aiobotocore.session"),
    "import pynamodb.models": (None, "import pynamodb.models"),
    "import aiodynamo.client": (None, "import aiodynamo.client"),
    "import pydynox + 3 models": (None, PYDYNOX_SNIPPET),
    "import pynamodb_async + 3 models": (None, PYNAMODB_ASYNC_SNIPPET),
    "import aiodynamodb + 3 models (Python 3.12)": (PEERS, AIODYNAMODB_SNIPPET),
    "import aioboto3 (Python 3.12: aiodynamodb's reference)": (PEERS, "import aioboto3"),
}
NEEDS = {  # what a variant needs beyond the bench environment
    "import pydynox + 3 models": "pydynox",
    "import pynamodb_async + 3 models": "pynamodb-async",
    "import aiodynamodb + 3 models (Python 3.12)": "aiodynamodb",
    "import aioboto3 (Python 3.12: aiodynamodb's reference)": "aiodynamodb",
}

# The snippet runs between two clock readings; ``sys`` and ``time`` are loaded at start-up
# anyway, so importing them first costs nothing measurable.
_TEMPLATE = """\
import sys, time
_wall, _cpu = time.perf_counter(), time.process_time()
{code}
_wall, _cpu = time.perf_counter() - _wall, time.process_time() - _cpu
import json
print(json.dumps({{"wall": _wall, "cpu": _cpu,
                   "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def _environment(cache: str) -> dict[str, str]:
    """The children's environment: byte-code caches in ``cache``, written on first use."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _available() -> tuple[dict[str, tuple[str, str]], list[str]]:
    """The variants that can run here, each with its interpreter, and the peers that
    cannot."""
    there = {
        "pydynox": installed("pydynox"),
        "pynamodb-async": installed("pynamodb_async"),
        "aiodynamodb": remote_available(),
    }
    chosen: dict[str, tuple[str, str]] = {}
    for name, (python, code) in VARIANTS.items():
        if not there.get(NEEDS.get(name, ""), True):
            continue
        chosen[name] = (str(peers_python()) if python == PEERS else sys.executable, code)
    return chosen, [peer for peer, ok in there.items() if not ok]


def _run(python: str, code: str, env: dict[str, str], cwd: str) -> dict[str, Any]:
    script = _TEMPLATE.format(code=textwrap.dedent(code), heavy=HEAVY)
    done = subprocess.run(
        [python, "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    sample: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return sample


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _import_lines(code: str, env: dict[str, str], cwd: str) -> list[tuple[int, int, int, str]]:
    """``python -X importtime -c code``: (own us, cumulative us, depth, module) per import."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found = [_IMPORT_LINE.match(line) for line in done.stderr.splitlines()]
    return [(int(m[1]), int(m[2]), len(m[3]) // 2, m[4]) for m in found if m is not None]


def _importtime(code: str, env: dict[str, str], cwd: str) -> str:
    """The biggest imports of ``code`` (cumulative) and the packages that cost the most in
    their own modules, leaving out what the interpreter imports at start-up."""
    startup = {module for *_, module in _import_lines("pass", env, cwd)}
    top: list[tuple[int, str]] = []
    own: dict[str, int] = defaultdict(int)
    for self_us, cumulative, depth, module in _import_lines(code, env, cwd):
        if module in startup:
            continue
        own[module.split(".")[0]] += self_us
        if depth == 0:  # imported by the snippet itself
            top.append((cumulative, module))
    top.sort(reverse=True)
    packages = sorted(own.items(), key=lambda kv: -kv[1])
    text = "python -X importtime of our snippet (one run, start-up imports left out):\n"
    text += "top-level imports by cumulative time:\n"
    text += "\n".join(f"  {us / 1000:8.1f} ms  {module}" for us, module in top[:12])
    text += "\npackages by time in their own modules:\n"
    text += "\n".join(f"  {us / 1000:8.1f} ms  {pkg}" for pkg, us in packages[:12])
    return text


def bench(quick: bool) -> Result:
    runs = 5 if quick else 21
    variants, missing = _available()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        cache, cwd = os.path.join(tmp, "pycache"), os.path.join(tmp, "cwd")
        os.mkdir(cwd)  # an empty working directory: nothing importable by accident
        env = _environment(cache)
        for python, code in variants.values():  # warm-up: byte-code caches, OS file cache
            _run(python, code, env, cwd)
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        for r in range(runs):
            for name, (python, code) in variants.items():
                samples[name].append(_run(python, code, env, cwd))
            print(f"  round {r + 1}/{runs} done", file=sys.stderr)
        profile = _importtime(OURS_SNIPPET, env, cwd)

    wall = {name: median([s["wall"] for s in got]) for name, got in samples.items()}
    cpu = {name: median([s["cpu"] for s in got]) for name, got in samples.items()}
    heavy = {name: sorted({m for s in got for m in s["heavy"]}) for name, got in samples.items()}
    rows = [
        [
            name,
            wall[name] * 1000,
            cpu[name] * 1000,
            ratio(wall[name] / wall[AIOBOTO3]),
            ", ".join(heavy[name]) or "none",
        ]
        for name in variants
    ]
    share = wall[OURS] / wall[AIOBOTO3]
    goals = [
        Goal(
            "import dynamorm_async + 3 model definitions <= 0.3x the time of import aioboto3",
            f"{share:.2f}x ({wall[OURS] * 1000:.0f} ms against {wall[AIOBOTO3] * 1000:.0f} ms)",
            share <= 0.3,
        ),
        Goal(
            "aiobotocore, botocore and aiohttp are not in sys.modules after our import",
            "loaded: " + (", ".join(heavy[OURS]) or "none of them"),
            not heavy[OURS],
        ),
    ]
    return Result(
        scenario="import_time",
        title="Import time (cold start)",
        columns=["snippet", "wall ms", "CPU ms", "wall vs import aioboto3", "heavy modules"],
        rows=rows,
        goals=goals,
        notes=(
            f"Median of {runs} fresh interpreters per snippet, interleaved, after a warm-up "
            "round; each child times its own imports, so interpreter start-up (the same for "
            "all) is not included. Byte-code caches exist for every package (written in the "
            "warm-up round). 'heavy modules' lists which of aiobotocore, botocore and aiohttp "
            "the snippet left in sys.modules. The import is the same for both of our "
            "transports (lean and aiobotocore): a session picks its transport at its first "
            "request. pydynox, pynamodb-async and aiodynamodb define the same three tables "
            "(a global index; a range key and a version; a TTL) as their documentation "
            "shows; aiodynamodb needs Python >= 3.12, so its snippet and an 'import aioboto3' "
            "for reference run in the peers' interpreter (Python 3.12)."
            + missing_note(missing)
            + (
                ""
                if share <= 0.3
                else " Why ours misses: the profile lists what the import costs, module by "
                "module; attrs and cattrs (the models and the converter) and asyncio (the "
                "session) load with the package, aiobotocore, botocore and aiohttp do not."
            )
        ),
        profile=profile,
    )


def main() -> None:
    options = parse_args(__doc__)
    emit(bench(options.quick), options.json)


if __name__ == "__main__":
    main()
