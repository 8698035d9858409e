"""The copy as a Spark job, on a real local Spark (``local[2,3]``: two cores, a failed
task tried up to three times) and the module's DynamoDB engine."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pyspark = pytest.importorskip("pyspark")

from pyspark.sql import SparkSession  # noqa: E402
from spark_models import (  # noqa: E402
    UserV1,
    UserV2,
    expected,
    upgrade,
    upgrade_failing_always,
    upgrade_failing_first,
    users,
)

from dynamorm_async import MigrationError, Session, ValidationError  # noqa: E402
from dynamorm_async import spark as dynamorm_spark  # noqa: E402
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION  # noqa: E402

HERE = Path(__file__).parent
pytestmark = pytest.mark.skipif(
    os.environ.get("DYNAMORM_TEST_ENGINE", "dynamodb-local") != "dynamodb-local",
    reason="the Spark job runs on DynamoDB Local (one Spark session; moto adds nothing here)",
)


@pytest.fixture(scope="module")
def spark(dynamodb_endpoint: str) -> Iterator[SparkSession]:
    """One local Spark for the module; its executors find the engine and credentials in
    the environment, as on Glue, and import the models from the shipped module."""
    os.environ.update(
        PYSPARK_PYTHON=sys.executable,  # the executors' Python: the one with the library
        SPARK_LOCAL_IP="127.0.0.1",
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb_endpoint,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID=DUMMY_CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=DUMMY_CREDENTIALS["aws_secret_access_key"],
    )
    session = (
        SparkSession.builder.master("local[2,3]")
        .appName("dynamorm_async tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("OFF")
    session.sparkContext.addPyFile(str(HERE / "spark_models.py"))
    try:
        yield session
    finally:
        session.stop()


@pytest_asyncio.fixture
async def db(dynamodb_session: Session) -> AsyncIterator[Session]:
    await dynamodb_session.tables.ensure(UserV1)
    await dynamodb_session.tables.ensure(UserV2)
    yield dynamodb_session


async def stored(db: Session) -> dict[tuple[str, str], UserV2]:
    return {(u.org, u.user_id): u async for u in db.scan(UserV2, consistent=True)}


def assert_exact(got: dict[tuple[str, str], Any], want: dict[tuple[str, str], Any]) -> None:
    missing = sorted(want.keys() - got.keys())
    extra = sorted(got.keys() - want.keys())
    differ = sorted(k for k in want.keys() & got.keys() if got[k] != want[k])
    assert not (missing or extra or differ), (
        f"{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected, "
        f"{len(differ)} different (e.g. {differ[:3]})"
    )


async def test_twenty_thousand_items_copied_by_a_spark_job_of_sixteen_segments(
    spark: SparkSession, db: Session
) -> None:
    """20,000 users through ``upgrade`` as a Spark job, 16 segments in 8 tasks: the target
    equals the expected items one by one, and the report adds up the tasks."""
    await db.batch_write(put=users(20_000), concurrency=16)
    report = dynamorm_spark.copy(
        spark,
        UserV1,
        UserV2,
        transform=upgrade,
        total_segments=16,
        segments_per_task=2,
        session={"table_prefix": db.table_prefix},
    )
    assert report.complete and report.scanned == report.written == 20_000
    assert len(report.tasks) == 8 and len(report.segments) == 16
    assert sum(t.written for t in report.tasks) == 20_000
    assert_exact(await stored(db), expected(20_000))


async def test_a_task_that_fails_its_first_attempt_is_retried_and_the_copy_is_exact(
    spark: SparkSession, db: Session
) -> None:
    """The transform raises in the first attempt of one task (keyed on Spark's attempt
    number): Spark runs it again, which rewrites the same items, and the result is exact.
    A task that fails every attempt stops the job with MigrationError and a checkpoint
    that holds its segments."""
    await db.batch_write(put=users(2_000), concurrency=16)
    report = dynamorm_spark.copy(
        spark, UserV1, UserV2, transform=upgrade_failing_first, total_segments=8,
        session={"table_prefix": db.table_prefix},
    )  # fmt: skip
    assert report.complete
    assert sorted(t.attempt for t in report.tasks) == [0] * 7 + [1]
    assert_exact(await stored(db), expected(2_000))
    with pytest.raises(MigrationError, match="a task failed after Spark's retries") as caught:
        dynamorm_spark.copy(
            spark, UserV1, UserV2, transform=upgrade_failing_always, total_segments=8,
            session={"table_prefix": db.table_prefix},
        )  # fmt: skip
    checkpoint = caught.value.report.checkpoint
    assert checkpoint is not None and len(checkpoint["segments"]) >= 1


async def test_a_stopped_job_resumes_from_its_checkpoint_file_without_reading_done_segments(
    spark: SparkSession, db: Session, tmp_path: Path
) -> None:
    """A job of 8 one-segment tasks is cancelled (every Spark job of it) once its checkpoint
    file shows three finished; it stops with MigrationError. Run again with the same
    checkpoint_path, it copies only the segments the file still holds (the finished ones are
    not read again), and the target is exact."""
    await db.batch_write(put=users(4_000), concurrency=16)
    path = tmp_path / "job.checkpoint.json"
    stop = threading.Event()

    def cancel_after_three() -> None:
        while not stop.is_set():
            if path.exists():
                saved = json.loads(path.read_text())["checkpoint"]
                if saved is not None and len(saved["segments"]) <= 5:
                    spark.sparkContext.cancelAllJobs()
                    return
            stop.wait(0.05)

    watcher = threading.Thread(target=cancel_after_three)
    watcher.start()
    try:
        with pytest.raises(MigrationError) as caught:
            await asyncio.to_thread(
                dynamorm_spark.copy, spark, UserV1, UserV2, transform=upgrade,
                total_segments=8, max_write_units=1_000, checkpoint_path=str(path),
                session={"table_prefix": db.table_prefix},
            )  # fmt: skip
    finally:
        stop.set()
        watcher.join()
    stopped = caught.value.report
    left = json.loads(path.read_text())["checkpoint"]
    assert left is not None and left == stopped.checkpoint
    unfinished = {int(s) for s in left["segments"]}
    finished = {s.segment for s in stopped.segments if s.done}
    assert len(finished) >= 3 and not finished & unfinished
    resumed = dynamorm_spark.copy(
        spark, UserV1, UserV2, transform=upgrade, total_segments=8,
        session={"table_prefix": db.table_prefix}, checkpoint_path=str(path),
    )  # fmt: skip
    assert resumed.complete and {s.segment for s in resumed.segments} == unfinished
    assert json.loads(path.read_text()) == {"checkpoint": None}
    assert_exact(await stored(db), expected(4_000))


async def test_the_write_budget_holds_over_the_whole_job(spark: SparkSession, db: Session) -> None:
    """max_write_units=400 split across the two tasks that run at once: the write units the
    job consumed per second, from its first task's start to its last one's end, stay
    within 10% of 400."""
    await db.batch_write(put=users(4_000), concurrency=16)
    report = dynamorm_spark.copy(
        spark, UserV1, UserV2, transform=upgrade, total_segments=8, segments_per_task=4,
        max_write_units=400, session={"table_prefix": db.table_prefix},
    )  # fmt: skip
    assert report.complete and len(report.tasks) == 2 and report.write_units is not None
    start = min(t.started for t in report.tasks)
    end = max(t.started + t.duration for t in report.tasks)
    rate = report.write_units / (end - start)
    assert 360 <= rate <= 440, f"{rate:.0f} write units/s at a budget of 400"


def test_bad_options_are_refused_on_the_driver(spark: SparkSession) -> None:
    for options, message in [
        ({"on_progress": print}, "does not take on_progress"),
        ({"deadline": time.monotonic()}, "does not take deadline"),
        ({"total_segments": 0}, "total_segments"),
        ({"segments_per_task": 0}, "segments_per_task"),
        ({"max_write_units": -1}, "max_write_units takes units per second"),
        ({"resume": {"v": 1}}, "invalid resume checkpoint"),
    ]:
        with pytest.raises(ValidationError, match=message):
            dynamorm_spark.copy(spark, UserV1, UserV2, transform=upgrade, **options)
