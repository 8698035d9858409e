"""examples/local_dev.py, run as a script: against the test's engine, and serving a local
database of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from environments import aws_environment

from dynamorm_async import Session
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "local_dev.py"
TIMEOUT = 90  # seconds; starting DynamoDB Local takes a few
TABLES = ("customers", "orders", "products", "login_tokens")


async def run(endpoint: str, prefix: str) -> tuple[int, str]:
    """Run the script once against ``endpoint``; its exit status and output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=aws_environment(endpoint, prefix),
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_the_first_run_creates_every_table_and_the_second_changes_nothing(
    dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """The first run creates the four tables, with their global and local indexes and TTL,
    in one pass and says so; the second finds them all and changes nothing (same tables,
    same creation times, same indexes)."""
    db = dynamodb_session
    client = await db.client()
    status, out = await run(dynamodb_endpoint, db.table_prefix)
    assert status == 0, out
    for table in TABLES:
        assert re.search(rf"^  created +{db.table_prefix}{table} ", out, re.MULTILINE), out
    assert "indexes by_status, by_total; TTL on expires_at" in out
    assert "4 tables: 4 created, 0 already there, 0 not matching" in out

    async def describe_all() -> dict[str, dict[str, object]]:
        tables = {}
        for table in TABLES:
            desc = (await client.describe_table(TableName=db.table_prefix + table))["Table"]
            tables[table] = {
                "created": desc["CreationDateTime"],
                "keys": desc["KeySchema"],
                "global": sorted(i["IndexName"] for i in desc.get("GlobalSecondaryIndexes", [])),
                "local": sorted(i["IndexName"] for i in desc.get("LocalSecondaryIndexes", [])),
            }
        return tables

    first = await describe_all()
    assert first["orders"]["global"] == ["by_status"] and first["orders"]["local"] == ["by_total"]
    assert first["products"]["global"] == ["by_category"]

    status, out = await run(dynamodb_endpoint, db.table_prefix)
    assert status == 0, out
    for table in TABLES:
        assert re.search(rf"^  already there +{db.table_prefix}{table} ", out, re.MULTILINE)
    assert "4 tables: 0 created, 4 already there, 0 not matching" in out
    assert await describe_all() == first


async def test_a_table_that_does_not_match_its_model_is_reported_and_left_alone(
    dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """A products table keyed on another attribute is reported with its difference and
    exit status 1, left as it is; the other tables are created all the same."""
    db = dynamodb_session
    client = await db.client()
    products = db.table_prefix + "products"
    await client.create_table(
        TableName=products,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    status, out = await run(dynamodb_endpoint, db.table_prefix)
    assert status == 1, out
    assert re.search(rf"^  MISMATCH +{products} .*sku", out, re.MULTILINE), out
    assert "3 created, 0 already there, 1 not matching" in out
    desc = (await client.describe_table(TableName=products))["Table"]
    assert desc["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


async def test_without_an_endpoint_it_serves_a_database_until_interrupted(
    dynamodb_engine: str,
) -> None:
    """With no AWS_ENDPOINT_URL_DYNAMODB, the script starts a database of its own (the test's
    engine), creates the tables there, prints the variables to export and keeps it running;
    Ctrl-C stops it, and the database process with it."""
    engine = "moto" if dynamodb_engine == "external" else dynamodb_engine
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "--engine",
        engine,
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=aws_environment(None, ""),
    )
    lines: list[str] = []
    engine_pid: int | None = None
    try:
        assert process.stdout is not None
        while not lines or "Press Ctrl-C" not in lines[-1]:
            line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
            assert line, "".join(lines)
            lines.append(line.decode())
        out = "".join(lines)
        found = re.search(r"is running at (\S+) \(process (\d+)\)", out)
        assert found, out
        endpoint, engine_pid = found[1], int(found[2])
        assert f"export AWS_ENDPOINT_URL_DYNAMODB={endpoint}\n" in out
        assert "4 tables: 4 created" in out

        db = Session(
            region=REGION,
            endpoint_url=endpoint,
            aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
        )
        async with db:
            names = (await (await db.client()).list_tables())["TableNames"]
        assert sorted(names) == sorted(TABLES)

        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode == 0, out + rest.decode()
        assert f"Stopping {engine}" in rest.decode()
        with pytest.raises(ProcessLookupError):  # the database's process group is gone
            os.killpg(engine_pid, 0)
        host, port = endpoint.removeprefix("http://").split(":")
        with pytest.raises(OSError):  # and nothing answers where it was
            await asyncio.open_connection(host, int(port))
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if engine_pid is not None:  # it runs in a process group of its own
            with contextlib.suppress(ProcessLookupError):
                os.killpg(engine_pid, signal.SIGKILL)
