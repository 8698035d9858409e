"""Run every benchmark scenario and write ``benchmarks/RESULTS.md`` (and its plots).

    python benchmarks/run_all.py [--quick] [--only NAME[,NAME...]]

``make bench`` runs it in ``.venv-bench`` (the library plus the peers: aioboto3, PynamoDB,
pynamodb-async, aiodynamo, pydynox, boto3, matplotlib; aiodynamodb, which needs Python
>= 3.12, in ``.venv-bench-peers``, see ``peers.py``). It starts one DynamoDB Local on
loopback for the whole run and runs each scenario script in a fresh process with
``--endpoint URL --json PATH`` (and ``--quick``), so that no scenario inherits another's
imports, caches or garbage; the scenarios that measure process start-up or peak memory
start further processes of their own.
The engine and every scenario process are stopped when the run ends, fails or is
interrupted. A scenario that fails or times out is reported as such in RESULTS.md, with the
end of its output, and the run goes on.

``--quick`` runs everything with small sizes and few runs (about 3-4 minutes): it checks the
whole pipeline, its figures are not the ones to quote.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from harness import BENCHMARKS, markdown_table
from peers import PEERS_PYTHON, remote_version

from dynamorm_async.testing import LocalDynamoDB

RESULTS = BENCHMARKS / "RESULTS.md"
SCALING_PLOT = "scaling.png"
CPU_PLOT = "read_write_cpu.png"
PACKAGES = (
    "dynamorm_async",
    "aiobotocore",
    "botocore",
    "aiohttp",
    "attrs",
    "cattrs",
    "aioboto3",
    "boto3",
    "pynamodb",
    "pynamodb-async",
    "aiodynamo",
    "pydynox",
    "matplotlib",
)
REMOTE_PACKAGES = ("aiodynamodb", "aioboto3", "aiobotocore", "pydantic")  # .venv-bench-peers


@dataclass(frozen=True)
class Scenario:
    """A scenario script, whether it talks to the engine, and how long it may take."""

    name: str
    script: str
    endpoint: bool
    timeout: float  # seconds, full run
    quick_timeout: float = 240


SCENARIOS = (
    Scenario("import_time", "import_time/bench_import.py", False, 600),
    Scenario("first_request", "first_request/bench_first_request.py", True, 600),
    Scenario("converter", "converter/bench_converter.py", False, 600),
    Scenario("per_request", "per_request/bench_per_request.py", True, 900),
    Scenario("http_stack", "http_stack/bench_http_stack.py", True, 900),
    Scenario("observe", "observe/bench_observe.py", True, 600),
    Scenario("read_path", "read_path/bench_read.py", True, 900),
    Scenario("single_table", "single_table/bench_single_table.py", True, 900),
    Scenario("write_path", "write_path/bench_write.py", True, 900),
    Scenario("copy", "copy/bench_copy.py", True, 1200),
    Scenario("live_copy", "live_copy/bench_live_copy.py", True, 2400, 480),
    Scenario("scaling", "scaling/bench_scaling.py", True, 1800, 480),
    # Tables pass through CREATING only on dynalite: this one starts a dynalite of its own.
    Scenario("tables", "tables/bench_ensure.py", False, 600),
)


@dataclass
class Outcome:
    """What one scenario produced: its JSON result, or why there is none."""

    scenario: Scenario
    result: dict[str, Any] | None
    seconds: float
    load_before: float
    load_after: float
    error: str | None = None
    output_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# -- running ---------------------------------------------------------------------------------


class _Terminated(Exception):
    """SIGTERM arrived: unwind so that every ``finally`` stops what it started."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a scenario and everything it started (its own process group): SIGTERM first,
    which the scenario scripts turn into a normal exit, so that their ``finally`` blocks and
    context managers stop engines they started (SIGINT would not do: a shell that starts
    the run in the background makes its children ignore SIGINT), then SIGKILL."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _load() -> float:
    return os.getloadavg()[0]


def run_scenario(scenario: Scenario, endpoint: str, quick: bool, workdir: Path) -> Outcome:
    """Run one scenario script in a process group of its own; always stop it."""
    out = workdir / f"{scenario.name}.json"
    log = workdir / f"{scenario.name}.log"
    command = [sys.executable, str(BENCHMARKS / scenario.script), "--json", str(out)]
    if scenario.endpoint:
        command += ["--endpoint", endpoint]
    if quick:
        command.append("--quick")
    timeout = scenario.quick_timeout if quick else scenario.timeout
    load_before, started = _load(), time.perf_counter()
    error: str | None = None
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=BENCHMARKS.parent,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout)
            if code != 0:
                error = f"exited with code {code}"
        except subprocess.TimeoutExpired:
            error = f"timed out after {timeout:.0f} s"
        finally:
            _stop(process)
    seconds = time.perf_counter() - started
    result: dict[str, Any] | None = None
    if error is None:
        try:
            result = json.loads(out.read_text())
        except (OSError, ValueError) as exc:
            error = f"wrote no readable JSON result ({exc})"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    return Outcome(scenario, result, seconds, load_before, _load(), error, tail)


@contextlib.contextmanager
def dynamodb_local() -> Iterator[str]:
    """One DynamoDB Local on loopback for the whole run, stopped whatever happens."""
    engine = LocalDynamoDB()
    try:
        engine.start()
        yield engine.endpoint
    finally:
        engine.stop()


# -- the machine -----------------------------------------------------------------------------


def machine() -> list[tuple[str, str]]:
    """What the figures were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kib / 2**20:.0f} GiB memory"
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    remote = [f"{p} {remote_version(p) or '(not installed)'}" for p in REMOTE_PACKAGES]
    from dynamorm_async.testing._fetch import DYNAMODB_LOCAL_VERSION

    java = _first_line(["java", "-version"])
    return [
        ("CPU", f"{os.cpu_count()} cores, {cpu}{memory}"),
        ("System", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Packages", ", ".join(versions)),
        ("Peers' environment", f"{PEERS_PYTHON}: " + ", ".join(remote)),
        ("Engine", f"DynamoDB Local {DYNAMODB_LOCAL_VERSION} ({java}), on the same machine"),
        ("Code", _first_line(["git", "describe", "--always", "--dirty=+changes"])),
    ]


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=30, cwd=BENCHMARKS.parent
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


# -- RESULTS.md ------------------------------------------------------------------------------


def _goal_line(goal: dict[str, Any]) -> str:
    verdict = "**met**" if goal["met"] else "**not met**"
    return f"{goal['goal']}: {goal['measured']} ({verdict})"


def summary(outcomes: list[Outcome]) -> list[str]:
    """The plain-language summary at the top: which goals are met, which are not."""
    goals = [(o, g) for o in outcomes if o.result is not None for g in o.result.get("goals", [])]
    met = [(o, g) for o, g in goals if g["met"]]
    missed = [(o, g) for o, g in goals if not g["met"]]
    failed = [o for o in outcomes if o.error is not None]
    lines = [
        f"{len(met)} of {len(goals)} goals are met"
        + (f"; {len(failed)} scenario(s) did not finish" if failed else "")
        + ". Every comparison is a ratio measured side by side in the same run, on a "
        "shared 2-core machine where DynamoDB Local runs next to the client: ratios are "
        "what to read, absolute times move with the load.",
        "",
    ]
    if met:
        lines.append("Met:")
        lines += [f"- {_title(o)}: {_goal_line(g)}" for o, g in met]
        lines.append("")
    if missed:
        lines.append("Not met (each scenario's section says why, with a profile):")
        lines += [f"- {_title(o)}: {_goal_line(g)}" for o, g in missed]
        lines.append("")
    for o in failed:
        lines.append(f"- {_title(o)}: the scenario {o.error}.")
    return lines


def _number(o: Outcome) -> int:
    return SCENARIOS.index(o.scenario) + 1


def _title(o: Outcome) -> str:
    title = o.result["title"] if o.result else o.scenario.name
    return f"{_number(o)}. {title}"


def _anchor(o: Outcome) -> str:
    text = _title(o).lower()
    kept = "".join(c for c in text if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def section(o: Outcome, plots: dict[str, list[str]]) -> list[str]:
    """One scenario's part of RESULTS.md."""
    readme = f"{Path(o.scenario.script).parent}/README.md"
    lines = [f"## {_title(o)}", ""]
    lines.append(
        f"[What is measured, and why it is fair]({readme}) · `{o.scenario.script}` · "
        f"{o.seconds:.0f} s · load average {o.load_before:.1f} before, {o.load_after:.1f} "
        "after"
    )
    lines.append("")
    if o.result is None:
        lines += [
            f"**The scenario {o.error}.** The end of its output:",
            "",
            "```text",
            o.output_tail,
            "```",
            "",
        ]
        return lines
    r = o.result
    lines += [markdown_table(r["columns"], r["rows"]), ""]
    for goal in r.get("goals", []):
        lines.append(f"- Goal: {_goal_line(goal)}")
    if r.get("goals"):
        lines.append("")
    if r.get("notes"):
        lines += [r["notes"], ""]
    for plot in plots.get(o.scenario.name, []):
        lines += [plot, ""]
    if r.get("profile"):
        lines += [
            "<details><summary>Profile: where the time goes</summary>",
            "",
            "```text",
            r["profile"].rstrip(),
            "```",
            "",
            "</details>",
            "",
        ]
    return lines


def write_results(
    outcomes: list[Outcome],
    quick: bool,
    started: datetime,
    seconds: float,
    loads: tuple[float, float],
) -> None:
    """Write RESULTS.md and the plots next to it."""
    plots = make_plots(outcomes)
    lines = ["# Benchmark results", ""]
    if quick:
        lines += [
            "> **Quick run** (`run_all.py --quick`): small sizes and few runs, to check the "
            "pipeline. Run `make bench` for the figures to quote.",
            "",
        ]
    lines += [
        f"Written by `benchmarks/run_all.py` on {started:%Y-%m-%d %H:%M} UTC; the whole run "
        f"took {seconds / 60:.1f} minutes. See [README.md](README.md) for the scenarios and "
        "how to run them.",
        "",
        "## Summary",
        "",
        *summary(outcomes),
        "",
        "## Machine",
        "",
    ]
    lines += [f"- **{name}**: {value}" for name, value in machine()]
    lines += [
        f"- **Load**: load average {loads[0]:.1f} at the start, {loads[1]:.1f} at the end "
        "(2.0 means both cores busy on average); each section gives it before and after. "
        "Other work shared the machine during the run.",
        "",
        "## How to read the tables",
        "",
        "- Each figure is the median of several runs, after warm-up runs that are not "
        "counted; the runs of the paths compared are interleaved, so a busy moment of the "
        "machine does not fall on one path only.",
        "- **Client CPU** is the benchmark process's own CPU time (`time.process_time`, all "
        "threads) divided by the requests or items: DynamoDB Local runs in another process, "
        "so its work is not in it. It is the figure that says what a library costs; wall "
        "times and items/s also contain the engine, which shares the same 2 cores.",
        "- Ratios (`1.05x`) compare paths measured side by side in the same run.",
        "",
        "| scenario | goals met | seconds |",
        "|---|---:|---:|",
    ]
    for o in outcomes:
        goals = o.result.get("goals", []) if o.result else []
        met = f"{sum(g['met'] for g in goals)} of {len(goals)}" if goals else "-"
        if o.error:
            met = o.error
        lines.append(f"| [{_title(o)}](#{_anchor(o)}) | {met} | {o.seconds:.0f} |")
    lines.append("")
    for o in outcomes:
        lines += section(o, plots)
    RESULTS.write_text("\n".join(lines).rstrip() + "\n")


# -- plots -----------------------------------------------------------------------------------


def _column(result: dict[str, Any], name: str) -> int:
    return list(result["columns"]).index(name)


def make_plots(outcomes: list[Outcome]) -> dict[str, list[str]]:
    """PNG plots next to RESULTS.md; returns, per scenario, the Markdown that shows them."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    by_name = {o.scenario.name: o.result for o in outcomes if o.result is not None}
    shown: dict[str, list[str]] = {}
    if "scaling" in by_name:
        with contextlib.suppress(ValueError, KeyError, IndexError):
            _plot_scaling(by_name["scaling"], BENCHMARKS / SCALING_PLOT)
            shown["scaling"] = [f"![Scaling of the data copy (lean transport)]({SCALING_PLOT})"]
    if "read_path" in by_name and "write_path" in by_name:
        with contextlib.suppress(ValueError, KeyError, IndexError):
            _plot_cpu(by_name["read_path"], by_name["write_path"], BENCHMARKS / CPU_PLOT)
            image = f"![Client CPU per item, read and write paths]({CPU_PLOT})"
            shown["read_path"] = shown["write_path"] = [image]
    return shown


def _plot_scaling(result: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    col = {name: _column(result, name) for name in result["columns"]}
    rows = result["rows"]
    if "path" in col:  # one row per transport and configuration: plot the lean transport's
        rows = [r for r in rows if "(lean)" in r[col["path"]]]
    segments = [r[col["segments"]] for r in rows]
    fixed = max(set(segments), key=segments.count)  # the segment count of the size sweep
    sweep = sorted((r for r in rows if r[col["segments"]] == fixed), key=lambda r: r[col["items"]])
    items = [r[col["items"]] for r in sweep]
    middle = items[len(items) // 2]
    by_segments = sorted(
        (r for r in rows if r[col["items"]] == middle), key=lambda r: r[col["segments"]]
    )

    fig, (left, centre, right) = plt.subplots(1, 3, figsize=(15, 4.5))
    for key, label, marker in (("seconds", "wall", "o"), ("client CPU s", "client CPU", "s")):
        values = [r[col[key]] for r in sweep]
        left.plot(items, values, marker=marker, label=label)
        # Proportional growth from the smallest size: a straight line through the origin.
        left.plot(
            [0, items[-1]],
            [0, values[0] / items[0] * items[-1]],
            linestyle=":",
            color=left.lines[-1].get_color(),
            label=f"{label}, linear from {items[0]:,}",
        )
    left.set(xlabel="items", ylabel="seconds", title=f"Copy time ({fixed} segments)")
    left.legend(fontsize=8)

    centre.plot(
        items,
        [r[col["peak RSS during copy MiB"]] for r in sweep],
        marker="o",
        label="peak during copy",
    )
    centre.plot(
        items, [r[col["RSS before MiB"]] for r in sweep], marker="s", label="before the copy"
    )
    centre.set(xlabel="items", ylabel="MiB", title="Client resident memory")
    centre.set_ylim(bottom=0)
    centre.legend(fontsize=8)

    labels = [str(r[col["segments"]]) for r in by_segments]
    x = range(len(labels))
    right.bar([i - 0.2 for i in x], [r[col["seconds"]] for r in by_segments], 0.4, label="wall")
    right.bar(
        [i + 0.2 for i in x], [r[col["client CPU s"]] for r in by_segments], 0.4, label="client CPU"
    )
    right.set_xticks(list(x), labels)
    right.set(xlabel="segments", ylabel="seconds", title=f"{middle:,} items by segments")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_cpu(read: dict[str, Any], write: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    panels: list[tuple[str, list[tuple[str, float]]]] = []
    cpu = _column(read, "client CPU us/item")
    for operation in dict.fromkeys(r[0] for r in read["rows"]):
        panels.append(
            (
                f"{operation} (read path)",
                [(r[1], r[cpu]) for r in read["rows"] if r[0] == operation],
            )
        )
    cpu = _column(write, "client CPU us/item")
    panels.append(("BatchWriteItem (write path)", [(r[0], r[cpu]) for r in write["rows"]]))

    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.2 + 1.6 * len(panels)))
    for ax, (title, bars) in zip(axes, panels, strict=True):
        names = [name for name, _ in bars][::-1]
        values = [value for _, value in bars][::-1]
        colours = ["tab:green" if n.startswith("dynamorm_async") else "tab:gray" for n in names]
        ax.barh(names, values, color=colours)
        for y, value in enumerate(values):
            ax.text(value, y, f" {value:.1f}", va="center", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("client CPU microseconds per item (lower is better)")
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xlim(right=max(values) * 1.15)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few runs")
    parser.add_argument(
        "--only",
        help="comma-separated scenario names (default: all): "
        + ", ".join(s.name for s in SCENARIOS),
    )
    args = parser.parse_args()
    chosen = list(SCENARIOS)
    if args.only:
        names = set(args.only.split(","))
        unknown = names - {s.name for s in SCENARIOS}
        if unknown:
            parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        chosen = [s for s in SCENARIOS if s.name in names]

    signal.signal(signal.SIGTERM, _on_sigterm)
    started, clock, load_start = datetime.now(timezone.utc), time.perf_counter(), _load()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="dynamorm-bench-") as tmp, dynamodb_local() as endpoint:
        print(f"DynamoDB Local at {endpoint}", file=sys.stderr)
        for scenario in chosen:
            print(f"== {scenario.name} ...", file=sys.stderr, flush=True)
            outcome = run_scenario(scenario, endpoint, args.quick, Path(tmp))
            outcomes.append(outcome)
            state = outcome.error or "done"
            print(f"== {scenario.name}: {state} in {outcome.seconds:.0f} s", file=sys.stderr)
    seconds = time.perf_counter() - clock
    write_results(outcomes, args.quick, started, seconds, (load_start, _load()))
    print(f"wrote {RESULTS} ({seconds / 60:.1f} minutes)", file=sys.stderr)
    if any(o.error for o in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except _Terminated:
        print("terminated; every process the run started is stopped", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)
