"""First request from a fresh process (the Lambda cold path): process start to the first
GetItem answered, ours on each transport against raw aiobotocore, aioboto3, aiodynamo,
pydynox, pynamodb-async and aiodynamodb.

Each sample starts ``cold_start.py <path>`` in a new interpreter and takes the time from just
before the process is started to the moment the child has its answer, and the child's CPU
time up to then (aiodynamodb, which needs Python >= 3.12, is started with the peers'
interpreter, see ``peers.py``). The paths run interleaved after a warm-up round (which also
writes the byte-code caches, into a temporary ``PYTHONPYCACHEPREFIX``, for every package
alike); each figure is the median over the runs.

    python benchmarks/first_request/bench_first_request.py [--endpoint URL] [--json PATH]
        [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: shared modules

from dataset import Record, make_records, pynamodb_model
from harness import (
    DUMMY_CREDENTIALS,
    REGION,
    Goal,
    Result,
    compare_profiles,
    emit,
    engine,
    median,
    new_session,
    parse_args,
    profile_text,
    ratio,
)
from peers import installed, missing_note, peers_python, pynamodb_record, remote_available

CHILD = Path(__file__).with_name("cold_start.py")
PATHS = {
    "bare": "Python alone: start-up, no import, no request (reference)",
    "lean": 'dynamorm_async (lean): Session(transport="lean").get(Record, ...) (model out)',
    "ours-aiobotocore": 'dynamorm_async (aiobotocore): Session(transport="aiobotocore")'
    ".get(Record, ...) (model out)",
    "aiobotocore": "raw aiobotocore: create_client + get_item",
    "aioboto3": "aioboto3: resource Table.get_item",
    "aiodynamo": "aiodynamo: Client.get_item",
    "pydynox": "pydynox: Model.get (model out; Rust threads included)",
    "pynamodb-async": "pynamodb-async: Model.get (model out)",
    "aiodynamodb": "aiodynamodb: DynamoDB().get (model out; Python 3.12)",
}
# ours (aiobotocore) against raw aiobotocore in benchmarks/RESULTS.md before the lean
# transport existed (wall): the figure it must keep (5% allowed for noise).
BEFORE = 1.15


def _python(path: str) -> str:
    """The interpreter of a path: the peers' one for aiodynamodb, this one otherwise."""
    if path == "aiodynamodb":
        return str(peers_python())
    return sys.executable


def _environment(tmp: str, endpoint: str, table: str, record: Record) -> dict[str, str]:
    """The same environment for every path: endpoint, region and credentials from the
    standard variables, no AWS config files, byte-code caches in ``tmp``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        PYTHONPYCACHEPREFIX=os.path.join(tmp, "pycache"),
        AWS_ENDPOINT_URL_DYNAMODB=endpoint,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID=DUMMY_CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=DUMMY_CREDENTIALS["aws_secret_access_key"],
        # Nothing read from the machine's own AWS files, no instance-metadata lookups.
        AWS_CONFIG_FILE=os.path.join(tmp, "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        BENCH_TABLE=table,
        BENCH_PK=record.pk,
        BENCH_SK=record.sk,
        BENCH_SK_PYNAMODB=f"{record.sk}-pynamodb",
    )
    return env


def _cold_start(path: str, env: dict[str, str], cwd: str) -> dict[str, Any]:
    """One fresh process: seconds to the answer, of which imports, its CPU seconds, and the
    heavy modules it imported."""
    started = time.monotonic()
    done = subprocess.run(
        [_python(path), str(CHILD), path],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start of {path} failed:\n{done.stderr[-2000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if not answer["found"]:
        raise RuntimeError(f"cold start of {path}: the item was not found")
    return {
        "wall": answer["answered"] - started,
        "imports": answer["imported"] - started,
        "cpu": answer["cpu"],
        "heavy": answer["heavy"],
    }


# cProfile with a CPU-time clock around the child script: waiting (for the engine, or for a
# core on a busy machine) does not count as work.
_PROFILER = """\
import cProfile, runpy, sys, time
out, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
profiler = cProfile.Profile(time.process_time)
profiler.enable()
try:
    runpy.run_path(script, run_name="__main__")
finally:
    profiler.disable()
    profiler.dump_stats(out)
"""


def _profile(env: dict[str, str], cwd: str, against: str) -> str:
    """Where our (lean) cold start spends its time beyond ``against``'s: one cold start of
    each under cProfile (CPU clock), own time by package side by side; then our cold
    start's top entries (pydynox's Rust core is not seen by cProfile: its own time shows
    as the built-in calls into it)."""
    files = {}
    for path in ("lean", against):
        files[path] = os.path.join(cwd, f"{path}.prof")
        subprocess.run(
            [sys.executable, "-c", _PROFILER, files[path], str(CHILD), path],
            env=env,
            cwd=cwd,
            capture_output=True,
            check=True,
            timeout=120,
        )
    return (
        "One cold start of each under cProfile with a CPU-time clock.\n"
        + compare_profiles(("ours (lean)", files["lean"]), (against, files[against]), 15)
        + "\n\nOur (lean) cold start, top entries by own time:\n"
        + profile_text(files["lean"], 15)
    )


def _why(stats: dict[str, dict[str, Any]], against: str) -> str:
    """Why ours (lean) misses against ``against``, in the measured figures."""
    ours, theirs, bare = stats["lean"], stats[against], stats["bare"]
    return (
        f" Why ours (lean) misses against {against}: start-up, imports and the model take "
        f"ours {(ours['imports'] - bare['imports']) * 1000:.0f} ms over the interpreter's own "
        f"start-up ({bare['imports'] * 1000:.0f} ms), {against} "
        f"{(theirs['imports'] - bare['imports']) * 1000:.0f} ms; opening the client and the "
        f"request take ours {(ours['wall'] - ours['imports']) * 1000:.0f} ms, {against} "
        f"{(theirs['wall'] - theirs['imports']) * 1000:.0f} ms."
    )


async def _prepare(endpoint: str, prefix: str) -> tuple[str, Record]:
    """The table and the item every path reads; pynamodb-async reads a copy of the item
    that PynamoDB wrote itself (its own timestamp format), under another sort key."""
    record = make_records(1, pk="cold")[0]
    async with new_session(endpoint, prefix) as db:
        await db.tables.create(Record)
        await db.put(record)
        name = db.table_name(Record)
    if installed("pynamodb"):
        model = pynamodb_model(name, endpoint)
        copy = make_records(1, pk="cold")[0]
        copy.sk = f"{record.sk}-pynamodb"
        await asyncio.to_thread(pynamodb_record(model, copy).save)
    return name, record


async def _clean(endpoint: str, prefix: str) -> None:
    async with new_session(endpoint) as db:
        await db.tables._delete_prefixed(prefix)


def bench(endpoint: str, quick: bool) -> Result:
    runs = 3 if quick else 11
    prefix = f"cs{uuid4().hex[:8]}_"
    paths = dict(PATHS)
    missing = []
    for path, there in (
        ("pydynox", installed("pydynox")),
        ("pynamodb-async", installed("pynamodb_async")),
        ("aiodynamodb", remote_available()),
    ):
        if not there:
            del paths[path]
            missing.append(path)
    try:
        table, record = asyncio.run(_prepare(endpoint, prefix))
        with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
            env = _environment(tmp, endpoint, table, record)
            for path in paths:  # warm-up: byte-code caches, OS file cache
                _cold_start(path, env, tmp)
            samples: dict[str, list[dict[str, Any]]] = {path: [] for path in paths}
            for r in range(runs):
                for path in paths:
                    samples[path].append(_cold_start(path, env, tmp))
                print(f"  round {r + 1}/{runs} done", file=sys.stderr)
            stats: dict[str, dict[str, Any]] = {
                path: {k: median([s[k] for s in got]) for k in ("wall", "imports", "cpu")}
                for path, got in samples.items()
            }
            for path, got in samples.items():
                stats[path]["heavy"] = sorted({m for s in got for m in s["heavy"]})
            goals, against = _goals(stats)
            profile = None if against is None else _profile(env, tmp, against)
            why = "" if against is None else _why(stats, against)
    finally:
        asyncio.run(_clean(endpoint, prefix))
    base = stats["aiobotocore"]
    rows: list[list[Any]] = [
        [
            paths[path],
            s["wall"] * 1000,
            s["imports"] * 1000,
            (s["wall"] - s["imports"]) * 1000,
            s["cpu"] * 1000,
            ratio(s["wall"] / base["wall"]),
            ratio(s["cpu"] / base["cpu"]),
            ", ".join(s["heavy"]) or "none",
        ]
        for path, s in stats.items()
    ]
    return Result(
        scenario="first_request",
        title="First request from a fresh process (cold start)",
        columns=[
            "path",
            "wall ms to answer",
            "of which start + imports",
            "of which client + request",
            "CPU ms",
            "wall vs aiobotocore",
            "CPU vs aiobotocore",
            "heavy modules imported",
        ],
        rows=rows,
        goals=goals,
        notes=(
            f"Median of {runs} fresh processes per path, interleaved, after a warm-up round. "
            "Wall time runs from just before the process is started to the moment the "
            "GetItem answer is in (interpreter start-up, imports, defining the model, client "
            "creation, the TCP connection and the request included; closing the client is "
            "not). CPU is the child's user + system time up to the answer (every thread: "
            "pydynox's Rust threads count). Every path reads the same item with endpoint, "
            "region and credentials from the same environment variables, and its default "
            "configuration; aiodynamo takes region and endpoint as arguments and PynamoDB "
            "its region, read from those variables. aiodynamodb needs Python >= 3.12: its "
            "processes run the peers' interpreter (Python 3.12), whose own start-up differs "
            "a little from the others'. 'heavy modules imported' lists which of aiobotocore, "
            "botocore and aiohttp the process had imported by the answer."
            + why
            + missing_note(missing)
        ),
        profile=profile,
    )


def _goals(stats: dict[str, dict[str, Any]]) -> tuple[list[Goal], str | None]:
    """The goals, and the peer to profile ours (lean) against when one is missed (None
    when all are met)."""
    lean, botocore, raw = stats["lean"], stats["ours-aiobotocore"], stats["aiobotocore"]
    goals: list[Goal] = []
    against: str | None = None
    if "pydynox" in stats:
        pydynox = stats["pydynox"]
        to_pydynox = lean["wall"] / pydynox["wall"]
        goals.append(
            Goal(
                "ours (lean): process start to first GetItem answered <= pydynox's (wall)",
                f"{to_pydynox:.2f}x wall ({lean['wall'] * 1000:.0f} ms against "
                f"{pydynox['wall'] * 1000:.0f} ms); CPU {lean['cpu'] / pydynox['cpu']:.2f}x",
                to_pydynox <= 1.0,
            )
        )
        if not goals[-1].met:
            against = "pydynox"
    to_raw = lean["wall"] / raw["wall"]
    goals.append(
        Goal(
            "ours (lean): process start to first GetItem answered <= 1.05x raw aiobotocore's "
            "(wall)",
            f"{to_raw:.2f}x wall ({lean['wall'] * 1000:.0f} ms against "
            f"{raw['wall'] * 1000:.0f} ms); CPU {lean['cpu'] / raw['cpu']:.2f}x",
            to_raw <= 1.05,
        )
    )
    if against is None and not goals[-1].met:
        against = "aiobotocore"
    goals.append(
        Goal(
            "ours (lean) imports neither aiobotocore nor botocore on its way to the first answer",
            "imported: " + (", ".join(lean["heavy"]) or "none of aiobotocore, botocore, aiohttp"),
            not {"aiobotocore", "botocore"} & set(lean["heavy"]),
        )
    )
    kept = botocore["wall"] / raw["wall"]
    goals.append(
        Goal(
            "ours (aiobotocore) keeps today's figure: wall against raw aiobotocore's at most 5% "
            f"above the {BEFORE:.2f}x before the lean transport",
            f"{kept:.2f}x wall ({botocore['wall'] * 1000:.0f} ms against "
            f"{raw['wall'] * 1000:.0f} ms); CPU {botocore['cpu'] / raw['cpu']:.2f}x",
            kept <= BEFORE * 1.05,
        )
    )
    return goals, against


def main() -> None:
    options = parse_args(__doc__)
    with engine(options.endpoint) as endpoint:
        result = bench(endpoint, options.quick)
    emit(result, options.json)


if __name__ == "__main__":
    main()
