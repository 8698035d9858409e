"""The UserV1 -> UserV2 migration of ``migrate_users.py`` as a Spark job: the library's copy,
split into tasks of a few scan segments each, run on Spark's executors. Locally it runs on
``local[2]`` (two cores); the same code runs as an AWS Glue job or on EMR.

    python examples/spark_copy.py --seed 20000 --segments 16 --max-write-units 2000

With no ``AWS_ENDPOINT_URL_DYNAMODB`` set it starts DynamoDB Local for the run. The merged
checkpoint is written to ``--checkpoint`` after every finished task: run the same command
again after a stop and the job goes on from it (finished segments are not read again).

On AWS Glue: install the library with ``--additional-python-modules dynamorm_async``, ship
the module that defines the models and the transform with ``--extra-py-files`` (here
``migrate_users.py``), give ``--checkpoint s3a://bucket/path.json``, and leave out
``--master``; the executors take credentials and region from the job's role. On EMR, the
same with ``spark-submit --py-files migrate_users.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from migrate_users import UserV1, UserV2, local_database, make_users, upgrade
from pyspark.sql import SparkSession

from dynamorm_async import MigrationReport, Session
from dynamorm_async import spark as dynamorm_spark


async def prepare(prefix: str, seed: int) -> None:
    """Create both tables, and store ``seed`` V1 users first when asked."""
    async with Session(table_prefix=prefix) as db:
        await db.tables.ensure(UserV1)
        await db.tables.ensure(UserV2)
        if seed:
            await db.batch_write(put=make_users(seed), concurrency=16)
            print(f"Stored {seed:,} V1 users in {db.table_name(UserV1)}.", flush=True)


async def count(prefix: str) -> tuple[int, int]:
    async with Session(table_prefix=prefix) as db:
        return await db.scan(UserV1).count(), await db.scan(UserV2).count()


def spark_session(master: str | None) -> SparkSession:
    """The job's Spark: ``master`` locally; on Glue or EMR the cluster's (None)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors: this Python
    builder = SparkSession.builder.appName("users v1 -> v2")
    if master is not None:
        builder = (
            builder.master(master)
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    # The executors import the models and the transform from this module.
    spark.sparkContext.addPyFile(str(Path(__file__).with_name("migrate_users.py")))
    return spark


def describe(report: MigrationReport) -> None:
    print(f"Copied {report.source} -> {report.target} as a Spark job.")
    print(f"  read {report.scanned:,} users, wrote {report.written:,} in {report.duration:.1f} s")
    slowest = max(t.duration for t in report.tasks)
    print(f"  {len(report.tasks)} tasks; the slowest took {slowest:.1f} s")
    if report.write_units is not None:
        print(f"  write units consumed: {report.write_units:,.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="UserV1 -> UserV2 as a Spark job.")
    parser.add_argument("--seed", type=int, default=0, help="store N generated V1 users first")
    parser.add_argument("--segments", type=int, default=16, help="parallel scan segments")
    parser.add_argument("--segments-per-task", type=int, default=2)
    parser.add_argument("--max-write-units", type=float, default=None)
    parser.add_argument("--checkpoint", default="users_spark.checkpoint.json")
    parser.add_argument("--master", default="local[2]", help="'' on a cluster (Glue, EMR)")
    args = parser.parse_args(argv)
    prefix = os.environ.get("TABLE_PREFIX", "")
    with local_database():
        asyncio.run(prepare(prefix, args.seed))
        spark = spark_session(args.master or None)
        try:
            report = dynamorm_spark.copy(
                spark,
                UserV1,
                UserV2,
                transform=upgrade,
                total_segments=args.segments,
                segments_per_task=args.segments_per_task,
                max_write_units=args.max_write_units,
                checkpoint_path=args.checkpoint,
                session={"table_prefix": prefix},
            )
        finally:
            spark.stop()
        describe(report)
        source, target = asyncio.run(count(prefix))
        verdict = "one for each V1 user" if source == target else "a MISMATCH"
        print(f"  check: {target:,} V2 users for {source:,} V1 users: {verdict}")
        if Path(args.checkpoint).exists():
            os.remove(args.checkpoint)  # done: nothing to resume
        return 0 if source == target else 1


if __name__ == "__main__":
    sys.exit(main())
