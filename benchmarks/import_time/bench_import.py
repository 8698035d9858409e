"""Import time (cold start): ``import dynamorm_async`` and three model definitions, in fresh
interpreters, against ``import aioboto3``, ``import pynamodb.models`` and
``import aiodynamo.client``.

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

OURS = "import dynamorm_async + 3 models"
AIOBOTO3 = "import aioboto3"
VARIANTS: dict[str, str] = {
    OURS: OURS_SNIPPET,
    "import dynamorm_async": "import dynamorm_async",
    AIOBOTO3: "import aioboto3",
    "import aiobotocore.session (what ours defers)": "import aiobotocore.session",
    "import pynamodb.models": "import pynamodb.models",
    "import aiodynamo.client": "import aiodynamo.client",
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


def _run(code: str, env: dict[str, str], cwd: str) -> dict[str, Any]:
    script = _TEMPLATE.format(code=textwrap.dedent(code), heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", script],
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
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        cache, cwd = os.path.join(tmp, "pycache"), os.path.join(tmp, "cwd")
        os.mkdir(cwd)  # an empty working directory: nothing importable by accident
        env = _environment(cache)
        for code in VARIANTS.values():  # warm-up: byte-code caches, OS file cache
            _run(code, env, cwd)
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
        for r in range(runs):
            for name, code in VARIANTS.items():
                samples[name].append(_run(code, env, cwd))
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
        for name in VARIANTS
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
            "the snippet left in sys.modules."
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
