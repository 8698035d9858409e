"""Copies that outgrow one machine: the library's ``copy`` as a Spark job (the ``spark``
extra: ``pip install dynamorm_async[spark]``), on AWS Glue, EMR or any Spark cluster::

    from pyspark.sql import SparkSession
    from dynamorm_async import spark as dynamorm_spark

    spark = SparkSession.builder.getOrCreate()
    spark.sparkContext.addPyFile("models.py")          # the models and the transform
    report = dynamorm_spark.copy(spark, UserV1, UserV2, transform=upgrade,
                                 total_segments=256, max_write_units=4000,
                                 checkpoint_path="s3a://bucket/jobs/users.checkpoint.json")

The parallel scan's segments are split into tasks (``segments_per_task`` each). Every task
runs the library's ``copy`` for its segments, in its own event loop and ``Session`` on the
executor (credentials and endpoint from the executor's environment, as on Glue; ``session=``
gives further ``Session`` arguments, such as ``table_prefix``), and returns its report. The
driver checks the options, sends one Spark job per task (at most as many at once as Spark
runs tasks), and after every finished task writes the merged checkpoint to
``checkpoint_path`` (a local path, or any URI Hadoop's file systems write: ``s3a://``,
``hdfs://``, ``file://``). A job that stops (the driver killed, the job cancelled) goes on
from that file: call ``copy`` again with the same ``checkpoint_path``. Spark's retries of a
failed task are safe: the retry copies the same segments from the same start, rewriting the
same items.

The capacity budget (``max_read_units``/``max_write_units``, per second, for the whole job)
is split evenly across the tasks that run at once.

What must be importable on the executors: the models and the transform, as Spark ships
Python code (cloudpickle pickles functions by value, but classes of an importable module
by reference): ``sc.addPyFile(...)`` a module or a zip, or on Glue
``--additional-python-modules dynamorm_async,...`` and ``--extra-py-files``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import attrs
from pyspark import TaskContext
from pyspark.sql import SparkSession

from . import Session
from ._errors import DynamORMError, MigrationError, ValidationError, whole_number
from ._tables.migration_report import (
    Failure,
    MigrationReport,
    SegmentReport,
    TaskReport,
    checkpoint_of,
    read_checkpoint,
)
from ._throughput.budget import check_rate

__all__ = ["copy"]

# The copy options a task takes as they are; the others belong to one process (a progress
# callback, a deadline) or to the driver here (segments, resume, checkpoints).
_TASK_OPTIONS = frozenset(
    {
        "raw",
        "on_error",
        "dry_run",
        "concurrency",
        "page_size",
        "max_attempts",
        "mark",
        "offline",
        "skip_existing",
        "source_table",
        "target_table",
    }
)


def copy(
    spark: SparkSession,
    source: type | str,
    target: type | str | None = None,
    *,
    transform: Callable[[Any], Any] | None = None,
    total_segments: int = 16,
    segments_per_task: int = 1,
    max_read_units: float | None = None,
    max_write_units: float | None = None,
    resume: dict[str, Any] | None = None,
    checkpoint_path: str | None = None,
    session: Mapping[str, Any] | None = None,
    **copy_options: Any,
) -> MigrationReport:
    """Run ``db.tables.copy(source, target, transform=..., ...)`` as a Spark job; returns the
    merged report (the fields of a single-process copy's, plus ``tasks``), or raises
    ``MigrationError`` with it when a task failed for good (after Spark's retries).

    ``resume`` (a checkpoint) or an existing ``checkpoint_path`` file says where to go on;
    ``copy_options`` are ``copy``'s ``raw``, ``on_error``, ``dry_run``, ``concurrency``
    (per task), ``page_size``, ``max_attempts``, ``mark``, ``offline``, ``skip_existing``,
    ``source_table`` and ``target_table``.
    """
    unknown = sorted(set(copy_options) - _TASK_OPTIONS)
    if unknown:
        raise ValidationError(
            f"spark.copy does not take {', '.join(unknown)}: "
            "it takes copy's " + ", ".join(sorted(_TASK_OPTIONS)) + ", and resumes from "
            "resume= or checkpoint_path=, with the budget split across its tasks"
        )
    whole_number("total_segments", total_segments, 1, 1_000_000)
    whole_number("segments_per_task", segments_per_task)
    read_limit = check_rate("max_read_units", max_read_units)
    write_limit = check_rate("max_write_units", max_write_units)
    options = dict(session or {})
    source_name = _source_table(source, options, copy_options.get("source_table"))
    store = _CheckpointFile(spark, checkpoint_path) if checkpoint_path is not None else None
    if resume is None and store is not None:
        resume = store.read()
    if resume is not None:
        total, starts = read_checkpoint(resume, source_name)
        if total != total_segments:
            raise ValidationError(
                f"the checkpoint splits the table in {total} segments, not {total_segments}"
            )
    else:
        starts = dict.fromkeys(range(total_segments))
    order = sorted(starts)
    tasks = [order[i : i + segments_per_task] for i in range(0, len(order), segments_per_task)]
    running = max(1, min(len(tasks), spark.sparkContext.defaultParallelism))
    spec = _Spec(
        source=source,
        target=target,
        transform=transform,
        total_segments=total_segments,
        session=options,
        copy_options=dict(copy_options),
        read_units=None if read_limit is None else read_limit / running,
        write_units=None if write_limit is None else write_limit / running,
    )
    return _Job(spark, spec, source_name, starts, store).run(tasks, running)


@attrs.frozen(kw_only=True)
class _Spec:
    """What every task needs, pickled to the executors."""

    source: Any
    target: Any
    transform: Any
    total_segments: int
    session: dict[str, Any]
    copy_options: dict[str, Any]
    read_units: float | None
    write_units: float | None


class _Job:
    """The driver's side: one Spark job per task, merged as they finish."""

    def __init__(
        self,
        spark: SparkSession,
        spec: _Spec,
        source_name: str,
        starts: dict[int, dict[str, Any] | None],
        store: _CheckpointFile | None,
    ) -> None:
        self.spark = spark
        self.spec = spec
        self.source_name = source_name
        self.starts = dict(starts)
        self.store = store
        self.results: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def run(self, tasks: list[list[int]], running: int) -> MigrationReport:
        started = time.monotonic()
        error: BaseException | None = None
        with ThreadPoolExecutor(running, thread_name_prefix="dynamorm-spark") as pool:
            pending: dict[Future[dict[str, Any]], list[int]] = {}
            queue = list(tasks)
            while queue or pending:
                while queue and len(pending) < running and error is None:
                    segments = queue.pop(0)
                    payload = {s: self.starts[s] for s in segments}
                    pending[pool.submit(self._submit, segments, payload)] = segments
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.pop(future)
                    try:
                        self._finished(future.result())
                    except Exception as exc:  # the task failed for good: no new task starts
                        error = error or exc
                if error is not None:
                    queue.clear()
        report = self._report(time.monotonic() - started, "error" if error else None)
        if error is not None:
            raise MigrationError(
                f"spark copy of {self.source_name!r} stopped: a task failed after Spark's "
                f"retries ({_cause(error)}); written so far: {report.written}. Resume from "
                "report.checkpoint (or checkpoint_path) once fixed",
                report=report,
                key=None,
            ) from error
        return report

    def _submit(self, segments: list[int], payload: dict[int, Any]) -> dict[str, Any]:
        sc = self.spark.sparkContext
        sc.setJobDescription(f"dynamorm_async copy: segments {segments[0]}-{segments[-1]}")
        spec = self.spec
        wire = {str(s): key for s, key in payload.items()}
        rdd = sc.parallelize([(spec, wire)], 1)
        result: dict[str, Any] = rdd.map(_task).collect()[0]
        return result

    def _finished(self, result: dict[str, Any]) -> None:
        with self.lock:
            self.results.append(result)
            for segment in result["segments_done"]:
                self.starts.pop(segment, None)
            _, left = (
                read_checkpoint(result["checkpoint"], self.source_name)
                if result["checkpoint"] is not None
                else (0, {})
            )
            self.starts.update(left)
            if self.store is not None:
                self.store.write(self._checkpoint())

    def _checkpoint(self) -> dict[str, Any] | None:
        return checkpoint_of(self.source_name, self.spec.total_segments, self.starts)

    def _report(self, duration: float, stopped: str | None) -> MigrationReport:
        results = sorted(self.results, key=lambda r: r["segments"][0])

        def total(name: str) -> int:
            return sum(int(r[name]) for r in results)

        def units(name: str) -> float | None:
            found = [r[name] for r in results if r[name] is not None]
            return sum(found) if found else None

        spec = self.spec
        target = spec.copy_options.get("target_table") or (
            _source_table(spec.target, spec.session, None) if spec.target is not None else None
        )
        return MigrationReport(
            source=self.source_name,
            target=target or self.source_name,
            scanned=total("scanned"),
            written=total("written"),
            skipped=total("skipped"),
            failed=total("failed"),
            retried=total("retried"),
            failures=tuple(
                Failure(f["key"], DynamORMError(f["error"])) for r in results for f in r["failures"]
            ),
            segments=tuple(
                sorted(
                    (SegmentReport(*s) for r in results for s in r["segment_reports"]),
                    key=lambda s: s.segment,
                )
            ),
            duration=duration,
            checkpoint=self._checkpoint(),
            stopped=stopped,
            dry_run=bool(spec.copy_options.get("dry_run")),
            read_units=units("read_units"),
            write_units=units("write_units"),
            conflicts=total("conflicts"),
            existing=total("existing"),
            already=total("already"),
            tasks=tuple(
                TaskReport(
                    tuple(r["segments"]),
                    r["started"],
                    r["duration"],
                    r["attempt"],
                    r["partition"],
                    r["scanned"],
                    r["written"],
                    r["write_units"],
                )
                for r in results
            ),
        )


def _task(job: tuple[_Spec, dict[str, Any]]) -> dict[str, Any]:
    """One task, on an executor: the library's copy of its segments, in a loop of its own."""
    spec, wire = job
    context = TaskContext.get()
    started = time.time()
    report = asyncio.run(_copy(spec, {int(s): key for s, key in wire.items()}))
    return {
        "segments": sorted(int(s) for s in wire),
        "segments_done": [s.segment for s in report.segments if s.done],
        "segment_reports": [
            (s.segment, s.scanned, s.written, s.done) for s in report.segments
        ],
        "checkpoint": report.checkpoint,
        "started": started,
        "duration": time.time() - started,
        "attempt": context.attemptNumber() if context is not None else 0,
        "partition": context.partitionId() if context is not None else 0,
        "failures": [{"key": f.key, "error": repr(f.error)} for f in report.failures],
        **{
            name: getattr(report, name)
            for name in (
                "scanned", "written", "skipped", "failed", "retried", "conflicts",
                "existing", "already", "read_units", "write_units",
            )
        },
    }  # fmt: skip


async def _copy(spec: _Spec, starts: dict[int, dict[str, Any] | None]) -> MigrationReport:
    async with Session(**spec.session) as db:
        name = _source_table(spec.source, spec.session, spec.copy_options.get("source_table"))
        resume = checkpoint_of(name, spec.total_segments, starts)
        return await db.tables.copy(
            spec.source,
            spec.target,
            transform=spec.transform,
            resume=resume,
            max_read_units=spec.read_units,
            max_write_units=spec.write_units,
            **spec.copy_options,
        )


def _source_table(source: Any, session: Mapping[str, Any], table_name: str | None) -> str:
    if isinstance(source, str):
        return table_name or source
    prefix = session.get("table_prefix", "")
    return Session(table_prefix=prefix).table_name(source, table_name)


def _cause(error: BaseException) -> str:
    """The error's last line of the form ``SomeError: message``: a failed Spark job carries
    the executor's Python traceback in its message."""
    found = [m.group(0) for m in _ERROR_LINE.finditer(str(error))]
    return (found[-1] if found else str(error).strip().splitlines()[-1:][0])[:300]


_ERROR_LINE = re.compile(r"^\s*[\w.]*(?:Error|Exception|Interrupt)\b: .*$", re.MULTILINE)


class _CheckpointFile:
    """The merged checkpoint, in a local file or at any URI Hadoop's file systems write."""

    def __init__(self, spark: SparkSession, location: str) -> None:
        self.spark = spark
        self.location = location
        scheme = urllib.parse.urlparse(location).scheme
        self.local = scheme == "" or len(scheme) == 1  # a path (a drive letter is no scheme)

    def read(self) -> dict[str, Any] | None:
        if self.local:
            path = Path(self.location)
            return _loaded(path.read_text()) if path.exists() else None
        fs, path = self._hadoop(self.location)
        if not fs.exists(path):
            return None
        lines = self.spark.sparkContext.textFile(self.location).collect()
        return _loaded("\n".join(lines))

    def write(self, checkpoint: dict[str, Any] | None) -> None:
        text = json.dumps({"checkpoint": checkpoint})
        if self.local:  # a temporary file and a rename: a kill leaves the old or the new
            path = Path(self.location)
            partial = path.with_name(path.name + ".partial")
            with open(partial, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, path)
            return
        fs, path = self._hadoop(self.location)
        partial_path = self._hadoop(self.location + ".partial")[1]
        out = fs.create(partial_path, True)
        out.write(bytearray(text.encode()))
        out.close()
        fs.delete(path, False)  # object stores rename over nothing only
        fs.rename(partial_path, path)

    def _hadoop(self, location: str) -> tuple[Any, Any]:
        jvm = self.spark.sparkContext._jvm
        assert jvm is not None
        path = jvm.org.apache.hadoop.fs.Path(location)
        conf = self.spark.sparkContext._jsc.hadoopConfiguration()
        return path.getFileSystem(conf), path


def _loaded(text: str) -> dict[str, Any] | None:
    try:
        saved = json.loads(text)
        checkpoint = saved["checkpoint"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"the checkpoint file does not hold a checkpoint: {exc}") from None
    if checkpoint is not None and not isinstance(checkpoint, dict):
        raise ValidationError("the checkpoint file does not hold a checkpoint")
    return checkpoint
