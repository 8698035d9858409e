"""Which HTTP/1.1 client stack a lean DynamoDB transport should use: import cost and client
CPU per request of aiohttp, httpcore (as released, and with the fix of encode/httpcore#1103
for its per-call ``import sniffio``), h11 on asyncio streams, and a hand-written exchange on
asyncio streams (the floor, for comparison only). The stacks are in ``http_stacks.py``.

For each stack:

- import cost, in fresh interpreters: ``python -X importtime -c "import X"`` (the cumulative
  time of the top-level imports, summed) and the wall time of ``python -c "import X"`` minus
  that of ``python -c "pass"``; and the wall time of everything the stack needs before its
  first answer: ``asyncio``, ``X`` and the modules its first request imports (found by
  running one request in a fresh process, see ``http_stacks._probe``);
- client CPU per request (``time.process_time`` of this process) for the same signed GetItem
  POST (a ~150-byte JSON body, DynamoDB's JSON protocol headers) to DynamoDB Local on
  loopback, the whole answer read: one request in flight, and 16 workers sharing a pool of up
  to 16 keep-alive connections. The stacks run interleaved; medians of several runs.

The stack chosen is the one with the lowest import cost among the candidates (the floor
excluded) whose client CPU per request is within 1.5x of the fastest candidate's, both
sequential and with 16 in flight.

    python benchmarks/http_stack/bench_http_stack.py [--endpoint URL] [--json PATH] [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from harness import (
    DUMMY_CREDENTIALS,
    REGION,
    Goal,
    Result,
    Sample,
    emit,
    engine,
    median,
    own_time_by_package,
    parse_args,
    profiled,
    ratio,
    raw_client,
    run_interleaved,
)
from http_stacks import (
    AIOHTTP,
    H11,
    HTTPCORE,
    HTTPCORE_FIXED,
    LIBRARY,
    RAW,
    STACKS,
    Headers,
    make_stack,
)

HERE = Path(__file__).resolve().parent
CONCURRENCY = 16
CANDIDATES = (AIOHTTP, HTTPCORE, HTTPCORE_FIXED, H11)  # RAW is the floor, never chosen
CPU_TOLERANCE = 1.5
BASE = H11  # the ratios are against h11


# -- the request ---------------------------------------------------------------------------


async def _table(endpoint: str, stack: contextlib.AsyncExitStack) -> tuple[str, dict[str, Any]]:
    """A table with one ~200-byte item, made with the raw aiobotocore client (and dropped
    afterwards); its name and the item's wire form."""
    client = await stack.enter_async_context(raw_client(endpoint))
    name = f"httpstack_{uuid4().hex[:8]}"
    await client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    stack.push_async_callback(client.delete_table, TableName=name)
    item = {
        "pk": {"S": "http_stack"},
        "sk": {"S": "00000042"},
        "email": {"S": "user42@example.com"},
        "name": {"S": "Firstname42 Lastname42"},
        "age": {"N": "60"},
        "balance": {"N": "0.42"},
        "active": {"BOOL": True},
        "tags": {"SS": ["reader", "writer"]},
        "created": {"S": "2026-01-01T00:00:42.042000+00:00"},
        "visits": {"N": "42"},
        "bio": {"S": "Member 42: likes tables, keys and consistent reads."},
    }
    await client.put_item(TableName=name, Item=item)
    return name, item


def _signed_request(endpoint: str, table: str, item: dict[str, Any]) -> tuple[Headers, bytes]:
    """The GetItem body and its headers, signed once with botocore's SigV4 (DynamoDB Local
    checks the header's form, not the signature or its date, so they are reused)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps(
        {
            "TableName": table,
            "Key": {"pk": item["pk"], "sk": item["sk"]},
            "ConsistentRead": True,
            "ReturnConsumedCapacity": "NONE",
        },
        separators=(",", ":"),
    ).encode()
    host = endpoint.split("://", 1)[1].rstrip("/")
    request = AWSRequest(
        method="POST",
        url=endpoint.rstrip("/") + "/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.GetItem",
        },
    )
    credentials = Credentials(
        DUMMY_CREDENTIALS["aws_access_key_id"], DUMMY_CREDENTIALS["aws_secret_access_key"]
    )
    SigV4Auth(credentials, "dynamodb", REGION).add_auth(request)
    headers: Headers = [(b"Host", host.encode())]
    for name in ("Content-Type", "X-Amz-Target", "X-Amz-Date", "Authorization"):
        value = request.headers[name]
        headers.append((name.encode(), value if isinstance(value, bytes) else value.encode()))
    headers.append((b"Content-Length", str(len(body)).encode()))
    return headers, body


# -- import cost -----------------------------------------------------------------------------

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _first_request_imports(name: str, url: str, headers: Headers, body: bytes) -> list[str]:
    """The modules a fresh process imports during its first request on stack ``name``, after
    ``asyncio`` and the stack's library are imported (and checks that it got a 200)."""
    spec = {
        "stack": name,
        "url": url,
        "headers": [(k.decode(), v.decode()) for k, v in headers],
        "body": body.decode(),
    }
    done = subprocess.run(
        [sys.executable, str(HERE / "http_stacks.py")],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if out["status"] != 200:
        raise RuntimeError(f"{name}: the first request in a fresh process got {out['status']}")
    imported: list[str] = out["imported"]
    return imported


def _snippets(lazy: dict[str, list[str]]) -> tuple[dict[str, str], dict[str, str]]:
    """Per stack, ``import X`` alone, and everything it needs up to its first answer."""
    bare, full = {}, {}
    for name in STACKS:
        library = LIBRARY[name] or "asyncio"
        bare[name] = f"import {library}"
        modules = dict.fromkeys(["asyncio", library, *lazy[name]])
        full[name] = "\n".join(f"import {module}" for module in modules)
    return bare, full


def _wall(code: str, env: dict[str, str], cwd: str) -> float:
    """Wall seconds of ``python -c code``. No timeout: with one, ``Popen.wait`` polls with
    sleeps of up to 50 ms instead of blocking in ``waitpid``, and the times come out in
    steps of 50 ms."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, check=True)
    return time.perf_counter() - started


def _importtime_us(code: str, env: dict[str, str], cwd: str, startup: set[str]) -> int:
    """``python -X importtime -c code``: the cumulative us of the imports the snippet itself
    made (depth 0), the modules the interpreter loads at start-up left out."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    total = 0
    for line in done.stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m is not None and len(m[3]) // 2 == 0 and m[4] not in startup:
            total += int(m[2])
    return total


def _startup_modules(env: dict[str, str], cwd: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return {m[4] for m in map(_IMPORT_LINE.match, done.stderr.splitlines()) if m is not None}


def measure_imports(
    snippets: list[str], runs: int, importtime_runs: int
) -> tuple[dict[str, float], dict[str, float]]:
    """For each snippet: the median wall seconds of ``python -c snippet`` minus that of
    ``python -c pass`` (the runs interleaved, after a warm-up round that writes the byte-code
    caches), and the median ``-X importtime`` seconds."""
    codes = list(dict.fromkeys(["pass", *snippets]))
    with tempfile.TemporaryDirectory(prefix="bench-http-stack-") as tmp:
        cwd = os.path.join(tmp, "cwd")
        os.mkdir(cwd)  # an empty working directory: nothing importable by accident
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
        for code in codes:  # warm-up: byte-code caches, the OS file cache
            _wall(code, env, cwd)
        walls: dict[str, list[float]] = {code: [] for code in codes}
        for r in range(runs):
            for code in codes:
                walls[code].append(_wall(code, env, cwd))
            print(f"  imports: round {r + 1}/{runs} done", file=sys.stderr)
        startup = _startup_modules(env, cwd)
        importtime = {
            code: median([_importtime_us(code, env, cwd, startup) for _ in range(importtime_runs)])
            / 1e6
            for code in snippets
        }
    base = median(walls["pass"])
    return {code: median(walls[code]) - base for code in snippets}, importtime


# -- client CPU per request ------------------------------------------------------------------


def _runner(stack: Any, requests: int, concurrency: int) -> Callable[[], Awaitable[int]]:
    """``requests`` requests, one after the other or from ``concurrency`` workers; every
    answer must be a 200."""

    async def sequential() -> int:
        for _ in range(requests):
            status, _ = await stack.request()
            if status != 200:
                raise RuntimeError(f"{stack.name}: HTTP {status}")
        return requests

    per_worker = requests // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            status, _ = await stack.request()
            if status != 200:
                raise RuntimeError(f"{stack.name}: HTTP {status}")

    async def concurrent() -> int:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return per_worker * concurrency

    return sequential if concurrency == 1 else concurrent


async def measure_cpu(
    url: str, headers: Headers, body: bytes, item: dict[str, Any], requests: int, runs: int
) -> tuple[dict[int, dict[str, Sample]], dict[str, int], str]:
    """Median client CPU per request of each stack, sequential and with ``CONCURRENCY``
    workers; the connections the pooled stacks (h11, raw) opened; and where each stack's
    CPU goes (a profile of ``requests // 4`` requests each way)."""
    stacks = {name: make_stack(name, url, headers, body, CONCURRENCY) for name in STACKS}
    try:
        for name, stack in stacks.items():  # the answer is the item, in a 200
            status, answer = await stack.request()
            got = json.loads(answer).get("Item", {}) if status == 200 else {}
            if got.keys() != item.keys() or got["sk"] != item["sk"]:
                raise RuntimeError(f"{name}: unexpected answer {status} {answer[:200]!r}")
        measured: dict[int, dict[str, Sample]] = {}
        for concurrency in (1, CONCURRENCY):
            print(f"client CPU, concurrency {concurrency}:", file=sys.stderr)
            measured[concurrency] = await run_interleaved(
                {name: _runner(s, requests, concurrency) for name, s in stacks.items()}, runs
            )
        opened = {name: int(getattr(s, "opened", 0)) for name, s in stacks.items()}
        profile = await _profile(stacks, requests // 4)
    finally:
        for stack in stacks.values():
            await stack.close()
    return measured, opened, profile


async def _profile(stacks: dict[str, Any], requests: int) -> str:
    """Own time by package, us per request, of each stack under cProfile (CPU-time clock)."""
    lines = [
        f"Own time by package, us per request, {requests} requests per stack and mode under "
        "cProfile with a CPU-time clock (cProfile inflates paths of many small Python calls "
        "the most: compare shares, not totals with the table; 'benchmarks' is the glue in "
        "http_stacks.py and the runner):"
    ]
    for concurrency in (1, CONCURRENCY):
        mode = "sequential" if concurrency == 1 else f"{concurrency} in flight"
        for name, stack in stacks.items():
            count = requests - requests % concurrency
            totals = own_time_by_package(await profiled(_runner(stack, count, concurrency)))
            top = sorted(totals.items(), key=lambda kv: -kv[1])[:6]
            parts = ", ".join(f"{k} {v / count * 1e6:.0f}" for k, v in top)
            lines.append(
                f"  {mode}, {name}: total {sum(totals.values()) / count * 1e6:.0f}; {parts}"
            )
    return "\n".join(lines)


# -- the scenario ----------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    python = f"Python {platform.python_version()}"
    return {
        AIOHTTP: f"aiohttp {version('aiohttp')} ({_aiohttp_parser()} parser)",
        HTTPCORE: f"httpcore {version('httpcore')} (anyio {version('anyio')})",
        HTTPCORE_FIXED: f"httpcore {version('httpcore')}, patched (anyio {version('anyio')})",
        H11: f"h11 {version('h11')}",
        RAW: python,
    }


def _aiohttp_parser() -> str:
    from aiohttp import http_parser

    return "C" if http_parser.HttpResponseParser.__module__.endswith("_http_parser") else "Python"


def _lazy_text(name: str, modules: list[str]) -> str:
    if not modules:
        return f"{name}: none"
    tops = sorted({m.split(".")[0] for m in modules})
    return f"{name}: {len(modules)} modules ({', '.join(tops)})"


async def bench(endpoint: str, quick: bool) -> Result:
    requests = 208 if quick else 2000  # a multiple of CONCURRENCY
    runs = 2 if quick else 5
    import_runs = 3 if quick else 9
    url = endpoint.rstrip("/") + "/"
    async with contextlib.AsyncExitStack() as exit_stack:
        table, item = await _table(endpoint, exit_stack)
        headers, body = _signed_request(endpoint, table, item)

        print("first-request imports, in fresh processes:", file=sys.stderr)
        lazy = {name: _first_request_imports(name, url, headers, body) for name in STACKS}
        bare, full = _snippets(lazy)
        wall, importtime = measure_imports(
            [*bare.values(), *full.values()], import_runs, 1 if quick else 3
        )
        measured, opened, profile = await measure_cpu(url, headers, body, item, requests, runs)

    seq, par = measured[1], measured[CONCURRENCY]
    versions = _versions()
    rows = [
        [
            name,
            versions[name],
            importtime[bare[name]] * 1000,
            wall[bare[name]] * 1000,
            wall[full[name]] * 1000,
            seq[name].cpu_us_each,
            ratio(seq[name].cpu_us_each / seq[BASE].cpu_us_each),
            par[name].cpu_us_each,
            ratio(par[name].cpu_us_each / par[BASE].cpu_us_each),
        ]
        for name in STACKS
    ]

    fastest = {c: min(m[n].cpu_us_each for n in CANDIDATES) for c, m in measured.items()}
    eligible = [
        n
        for n in CANDIDATES
        if all(m[n].cpu_us_each <= CPU_TOLERANCE * fastest[c] for c, m in measured.items())
    ]
    chosen = min(eligible, key=lambda n: wall[full[n]]) if eligible else None
    by_bare = min(eligible, key=lambda n: wall[bare[n]]) if eligible else None
    cpu_of = ", ".join(
        f"{n} {seq[n].cpu_us_each:.0f} / {par[n].cpu_us_each:.0f} us" for n in CANDIDATES
    )
    measured_text = (
        f"client CPU per request, sequential / {CONCURRENCY} in flight: {cpu_of}; within "
        f"{CPU_TOLERANCE}x of the fastest: {', '.join(eligible) or 'none'}; "
        + (
            f"lowest import cost among them: {chosen} "
            f"({wall[full[chosen]] * 1000:.1f} ms with asyncio and its first-request imports, "
            f"{wall[bare[chosen]] * 1000:.1f} ms for import {LIBRARY[chosen]} alone). "
            f"Chosen: {chosen}"
            if chosen
            else "no candidate qualifies"
        )
    )
    goals = [
        Goal(
            f"the stack for the lean transport is the candidate ({', '.join(CANDIDATES)}; "
            f"the floor excluded) with the lowest import cost among those whose client CPU per "
            f"request is within {CPU_TOLERANCE}x of the fastest candidate's, sequential and "
            f"with {CONCURRENCY} in flight",
            measured_text,
            chosen is not None,
        )
    ]
    agree = (
        "The same stack is chosen when import cost means `import X` alone."
        if by_bare == chosen
        else f"By `import X` alone the choice would be {by_bare}."
    )
    notes = (
        f"Request: GetItem (ConsistentRead) of one ~200-byte item, a {len(body)}-byte JSON "
        f"body and the headers Host, Content-Type, X-Amz-Target, X-Amz-Date, Authorization "
        f"(SigV4, signed once with botocore and reused) and Content-Length; every answer "
        f"checked to be a 200 (the first one also to hold the item). Client CPU: median of "
        f"{runs} runs of {requests} requests, sequential and from {CONCURRENCY} workers of "
        f"{requests // CONCURRENCY} each over a pool of up to {CONCURRENCY} keep-alive "
        f"connections, after a warm-up run of each; the stacks interleaved; ratios "
        f"against h11. Import columns: `import X` alone (for the floor: `import asyncio`) by "
        f"`-X importtime` (median of {1 if quick else 3}) and by wall time of a fresh "
        f"`python -c` minus `python -c pass` (median of {import_runs} interleaved rounds), "
        f"and the wall time of everything the stack needs up to its first answer (asyncio, "
        f"X and the modules its first request imports), which the rule uses. Modules "
        f"imported by the first request: "
        + "; ".join(_lazy_text(n, lazy[n]) for n in STACKS)
        + f". The hand-made pool of h11 and the floor opened "
        f"{opened[H11]} and {opened[RAW]} connections over the whole run. {agree}"
    )
    return Result(
        scenario="http_stack",
        title="HTTP/1.1 client stack for a lean transport: import cost and client CPU per request",
        columns=[
            "stack",
            "version",
            "import X, ms (-X importtime)",
            "import X, ms (wall)",
            "+ asyncio + 1st-request imports, ms (wall)",
            "CPU us/request, sequential",
            "vs h11",
            f"CPU us/request, {CONCURRENCY} in flight",
            "vs h11",
        ],
        rows=rows,
        goals=goals,
        notes=notes,
        profile=profile,
    )


def main() -> None:
    options = parse_args(__doc__)
    with engine(options.endpoint) as endpoint:
        result = asyncio.run(bench(endpoint, options.quick))
    emit(result, options.json)


if __name__ == "__main__":
    main()
