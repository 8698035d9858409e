"""examples/spark_copy.py runs the users migration as a Spark job on local[2] against the
module's engine, and the V2 table equals upgrade() of every V1 user."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

from dynamorm_async import Session
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION

EXAMPLES = Path(__file__).parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))
from migrate_users import UserV2, make_users, upgrade  # noqa: E402

pytestmark = pytest.mark.skipif(
    os.environ.get("DYNAMORM_TEST_ENGINE", "dynamodb-local") != "dynamodb-local",
    reason="the Spark job runs on DynamoDB Local",
)


async def test_the_spark_example_migrates_every_user(
    dynamodb_endpoint: str, dynamodb_session: Session, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "TABLE_PREFIX": dynamodb_session.table_prefix,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "spark_copy.py"), "--seed", "3000", "--segments", "8",
        "--checkpoint", str(tmp_path / "job.json"), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), 300)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    text = out.decode()
    assert process.returncode == 0, err.decode()[-2000:]
    assert "read 3,000 users, wrote 3,000" in text and "one for each V1 user" in text
    assert not (tmp_path / "job.json").exists()
    got = {u.user_id: u async for u in dynamodb_session.scan(UserV2)}
    assert got == {u.user_id: upgrade(u) for u in make_users(3000)}
