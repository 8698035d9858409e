"""What every benchmark scenario shares: its command line, the engine, timing, medians,
profiles and the JSON result that ``run_all.py`` turns into ``RESULTS.md``.

A scenario script is run as ``python benchmarks/<dir>/bench_<x>.py [--endpoint URL]
[--json PATH] [--quick]``. Without ``--endpoint`` it starts a DynamoDB Local of its own on
loopback (and stops it again); ``run_all.py`` passes the endpoint of the one it started for
the whole run. The result is printed as a Markdown table and, with ``--json``, written as::

    {"scenario": ..., "title": ..., "columns": [...], "rows": [[...]],
     "goals": [{"goal": ..., "measured": ..., "met": true}], "notes": ..., "profile": ...}

Scenario scripts import this module after putting ``benchmarks/`` on ``sys.path`` (they are
run as plain scripts, not as a package).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import pstats
import re
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dynamorm_async import Session
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB

__all__ = [
    "BENCHMARKS",
    "DUMMY_CREDENTIALS",
    "TRANSPORTS",
    "Goal",
    "Options",
    "REGION",
    "RemoteRun",
    "Result",
    "Sample",
    "compare_profiles",
    "emit",
    "engine",
    "fmt",
    "markdown_table",
    "measure",
    "median",
    "new_session",
    "ours_label",
    "own_time_by_package",
    "parse_args",
    "profile_against",
    "profile_text",
    "profiled",
    "ratio",
    "raw_client",
    "run_interleaved",
]

BENCHMARKS = Path(__file__).resolve().parent


@dataclass
class Options:
    """A scenario's command line."""

    endpoint: str | None
    json: Path | None
    quick: bool


def parse_args(description: str | None, argv: Sequence[str] | None = None) -> Options:
    """Parse the common ``[--endpoint URL] [--json PATH] [--quick]`` command line."""
    parser = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    parser.add_argument(
        "--endpoint", help="a running DynamoDB (loopback); default: start a DynamoDB Local"
    )
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    parser.add_argument("--quick", action="store_true", help="small sizes, few runs")
    args = parser.parse_args(argv)
    # SIGTERM (how run_all.py stops a scenario) becomes a normal exit, so that ``finally``
    # blocks and context managers run and stop the engine a standalone run started.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    return Options(endpoint=args.endpoint, json=args.json, quick=args.quick)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    sys.exit(128 + signum)


@contextlib.contextmanager
def engine(endpoint: str | None) -> Iterator[str]:
    """``endpoint`` when given, else a DynamoDB Local started (and always stopped) here."""
    if endpoint:
        yield endpoint
        return
    with LocalDynamoDB() as local:
        yield local.endpoint


# The session's two transports, measured side by side wherever ours sends requests: "lean"
# (our own DynamoDB JSON-protocol client and SigV4) and "aiobotocore" (aiobotocore's client).
TRANSPORTS = ("lean", "aiobotocore")


def ours_label(transport: str, detail: str = "") -> str:
    """The label of our library's row for ``transport``: ``dynamorm_async (lean)``, or with
    ``detail``: ``dynamorm_async (lean) batch_writer``."""
    return f"dynamorm_async ({transport})" + (f" {detail}" if detail else "")


def new_session(
    endpoint: str, table_prefix: str = "", *, transport: str = "aiobotocore", **options: Any
) -> Session:
    """A ``Session`` on ``endpoint`` with the dummy credentials and ``transport``, all
    defaults otherwise (``options`` go to ``Session`` as they are).

    The default transport is aiobotocore's because set-up code (seeding, counting, reading
    a table back) uses ``Session.client()``, the aiobotocore client; what is measured passes
    its transport explicitly."""
    return Session(
        region=REGION,
        endpoint_url=endpoint,
        table_prefix=table_prefix,
        transport=transport,
        **DUMMY_CREDENTIALS,
        **options,
    )


def raw_client(endpoint: str) -> Any:
    """A plain aiobotocore DynamoDB client context, aiobotocore's default configuration
    (parameter validation on, 10 pooled connections, legacy retries)."""
    from aiobotocore.session import get_session

    return get_session().create_client(
        "dynamodb", region_name=REGION, endpoint_url=endpoint, **DUMMY_CREDENTIALS
    )


# -- results ---------------------------------------------------------------------------------


@dataclass
class Goal:
    """A goal, what was measured against it, and whether it was met."""

    goal: str
    measured: str
    met: bool


@dataclass
class Result:
    """One scenario's result, in the shape ``run_all.py`` reads."""

    scenario: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    goals: list[Goal] = field(default_factory=list)
    notes: str = ""
    profile: str | None = None


def fmt(value: Any) -> str:
    """A table cell: thousands separators, two decimals below 100, none above."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


_NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?x?$")


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; columns of numbers (and ratios like ``1.05x``) right-aligned."""

    def numeric(i: int) -> bool:
        cells = [r[i] for r in rows if i < len(r)]
        return bool(cells) and all(
            (isinstance(c, (int, float)) and not isinstance(c, bool))
            or (isinstance(c, str) and _NUMBER.match(c) is not None)
            for c in cells
        )

    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---:" if numeric(i) else "---" for i in range(len(columns))) + "|",
    ]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def emit(result: Result, json_path: Path | None) -> None:
    """Print the result as Markdown and write it as JSON when asked."""
    print(f"\n## {result.title}\n")
    print(markdown_table(result.columns, result.rows))
    for goal in result.goals:
        print(f"\nGoal: {goal.goal}. Measured: {goal.measured}. {_met(goal.met)}")
    if result.notes:
        print(f"\n{result.notes}")
    if result.profile:
        print(f"\nProfile:\n{result.profile}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(asdict(result), indent=1, default=str))


def _met(met: bool) -> str:
    return "Met." if met else "NOT met."


def ratio(value: float) -> str:
    """``1.23x``."""
    return f"{value:.2f}x"


def median(values: Sequence[float]) -> float:
    """The median (of an odd or even number of runs)."""
    return float(statistics.median(values))


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Sample:
    """Wall and client-process CPU seconds of one run (or the medians of several), and the
    items (or requests) it did; ``cpu_spread`` is how far the CPU of the runs spread around
    their median ((max - min) / median), 0 for a single run."""

    wall: float
    cpu: float
    count: int
    cpu_spread: float = 0.0

    @property
    def cpu_us_each(self) -> float:
        return self.cpu / self.count * 1e6

    @property
    def per_second(self) -> float:
        return self.count / self.wall


@dataclass
class RemoteRun:
    """A run done in another process (a peer that needs an interpreter or packages of its
    own, see ``peers.py``): ``call`` makes that process do the run and returns what it
    measured itself, ``{"wall", "cpu", "count"}``: its wall time and its own
    ``time.process_time()`` (all its threads), after a full garbage collection of its own.
    ``run_interleaved`` and ``measure`` take it where they take a local run."""

    call: Callable[[], Awaitable[dict[str, Any]]]

    async def __call__(self) -> int:
        got = await self.call()
        return int(got["count"])

    async def measure(self) -> Sample:
        got = await self.call()
        return Sample(float(got["wall"]), float(got["cpu"]), int(got["count"]))


async def measure(run: Callable[[], Awaitable[int]]) -> Sample:
    """Time one run: wall clock and this process's CPU (all threads), after a full garbage
    collection so that no path pays for the garbage another one left. A ``RemoteRun``
    reports the figures of the process that did it."""
    if isinstance(run, RemoteRun):
        return await run.measure()
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    count = await run()
    return Sample(time.perf_counter() - wall, time.process_time() - cpu, count)


async def run_interleaved(
    variants: dict[str, Callable[[], Awaitable[int]]],
    runs: int,
    *,
    warmup: int = 1,
    verbose: bool = True,
) -> dict[str, Sample]:
    """Run every variant ``warmup`` times (not counted), then ``runs`` times interleaved
    (a, b, c, a, b, c, ...) so that a slow moment of the shared machine does not fall on one
    variant only; return each variant's median wall and median CPU (each on its own)."""
    for _ in range(warmup):
        for run in variants.values():
            await run()
    samples: dict[str, list[Sample]] = {name: [] for name in variants}
    for r in range(runs):
        for name, run in variants.items():
            sample = await measure(run)
            samples[name].append(sample)
            if verbose:
                print(
                    f"  [{r + 1}/{runs}] {name}: {sample.wall:.3f} s, "
                    f"{sample.cpu_us_each:.0f} us CPU each",
                    file=sys.stderr,
                )
    return {name: _median_sample(got) for name, got in samples.items()}


def _median_sample(samples: Sequence[Sample]) -> Sample:
    cpu = median([s.cpu for s in samples])
    spread = (max(s.cpu for s in samples) - min(s.cpu for s in samples)) / cpu
    return Sample(median([s.wall for s in samples]), cpu, samples[0].count, spread)


# -- profiles --------------------------------------------------------------------------------

_SITE = re.compile(r"\S*/(site-packages|lib/python3\.\d+)/")


Profiled = cProfile.Profile | str  # a profiler, or a file cProfile wrote


def profile_text(profile: Profiled, limit: int = 25, sort: str = "tottime") -> str:
    """The top ``limit`` entries of a profile, sorted by own time (``tottime``), with paths
    shortened to the package."""
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats(sort).print_stats(limit)
    text = out.getvalue()
    text = text.replace(str(BENCHMARKS.parent) + "/", "")
    text = _SITE.sub("", text)
    # Drop pstats' preamble (the "Ordered by" line stays: it says how to read the list).
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "Ordered by" in line), 0)
    return "\n".join(line.rstrip() for line in lines[start:] if line.strip())


def own_time_by_package(profile: Profiled) -> dict[str, float]:
    """Seconds of own time per package: site-packages and standard library modules by their
    top-level name, built-in functions by name, the import system as ``importlib``, the
    generated code of attrs, cattrs and our converter by its owner."""
    totals: dict[str, float] = {}
    stats: dict[tuple[str, int, str], tuple[Any, ...]]
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, own, *_) in stats.items():
        package = _package(filename, function)
        totals[package] = totals.get(package, 0.0) + own
    return totals


def _package(filename: str, function: str) -> str:
    if filename == "~":
        return function.strip("<>{}").replace("built-in method ", "")
    if filename.startswith("<frozen"):
        return "importlib"
    if filename.startswith("<"):
        for owner in ("dynamorm_async", "cattrs", "attrs"):
            if owner in filename:
                return f"{owner} (generated code)"
        return filename
    for marker in ("/site-packages/", "/lib/python3."):
        if marker in filename:
            rest = filename.split(marker, 1)[1]
            if marker == "/lib/python3.":
                rest = rest.split("/", 1)[1]
            return rest.split("/", 1)[0].removesuffix(".py")
    if str(BENCHMARKS.parent) in filename:
        return Path(filename).relative_to(BENCHMARKS.parent).parts[0]
    return filename


def compare_profiles(
    ours: tuple[str, Profiled], theirs: tuple[str, Profiled], top: int = 12
) -> str:
    """Own time by package of two profiles side by side, the biggest packages of either
    first, with the difference."""
    (a_label, a), (b_label, b) = ours, theirs
    mine, base = own_time_by_package(a), own_time_by_package(b)
    biggest = sorted({*mine, *base}, key=lambda k: -max(mine.get(k, 0.0), base.get(k, 0.0)))
    width = max(len(a_label), len(b_label), 8)
    lines = [
        f"own time by package, ms: {a_label} against {b_label}",
        f"  {'package':<44} {a_label[:width]:>{width}} {b_label[:width]:>{width}}  difference",
    ]
    for k in biggest[:top]:
        left, right = mine.get(k, 0.0) * 1000, base.get(k, 0.0) * 1000
        lines.append(f"  {k[:44]:<44} {left:>{width}.1f} {right:>{width}.1f}  {left - right:+.1f}")
    lines += [
        f"  {'total':<44} {sum(mine.values()) * 1000:>{width}.1f} "
        f"{sum(base.values()) * 1000:>{width}.1f}",
        "(cProfile adds a cost to every Python call, so it slows down paths made of many "
        "small calls the most,\n and a garbage collection is counted in whatever function "
        "was running: compare shares, not totals.)",
    ]
    return "\n".join(lines)


async def profiled(run: Callable[[], Awaitable[Any]]) -> cProfile.Profile:
    """Profile one awaited run (everything the event loop does meanwhile is included). The
    profiler's clock is this process's CPU time, so time spent waiting for the engine (in
    ``epoll``) does not show up as if it were work."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        await run()
    finally:
        profiler.disable()
    return profiler


async def profile_against(
    ours: tuple[str, Callable[[], Awaitable[Any]]],
    theirs: tuple[str, Callable[[], Awaitable[Any]]],
    what: str,
    top: int = 15,
) -> str:
    """Profile two runs and explain the first against the second: own time by package side
    by side, then the first's top entries by own time."""
    mine = await profiled(ours[1])
    base = await profiled(theirs[1])
    return (
        f"{what}, cProfile with a CPU-time clock.\n"
        + compare_profiles((ours[0], mine), (theirs[0], base))
        + f"\n\n{ours[0]}, top entries by own time:\n"
        + profile_text(mine, top)
    )
