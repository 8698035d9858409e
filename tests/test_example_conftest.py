"""examples/conftest_example: a user's own test suite on the dynamorm_async fixtures, run by
pytest in a subprocess in two set-ups.

- From the repository, whose pytest settings already pass ``-p
  dynamorm_async.testing.pytest_plugin``, so the example's ``pytest_plugins`` names a plugin
  that is registered already. pytest registers a plugin once per name, so this is a no-op:
  ``--trace-config`` shows one registration and the plugin's report header appears once.
  This run starts an engine of its own through ``DYNAMORM_TEST_ENGINE``, as a user's would.
- As a user's project: the example copied into a directory of its own with the pytest
  settings its conftest documents, where ``pytest_plugins`` alone enables the plugin. This
  run reuses the test's engine through ``DYNAMODB_ENDPOINT``, which saves starting another.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "conftest_example"
TIMEOUT = 120  # seconds for a whole nested run, engine start-up included
REGISTERED = "PLUGIN registered: <module 'dynamorm_async.testing.pytest_plugin'"
USER_SETTINGS = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


def pytest_environment(**engine: str) -> dict[str, str]:
    """This environment without what would steer the nested run elsewhere, plus ``engine``."""
    drop = ("DYNAMORM_TEST_ENGINE", "DYNAMODB_ENDPOINT", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(engine)
    return env


def engine_environment(engine: str, endpoint: str) -> dict[str, str]:
    """How the nested run finds its engine: by name, or this run's own when it is external."""
    if engine == "external":
        return {"DYNAMODB_ENDPOINT": endpoint}
    return {"DYNAMORM_TEST_ENGINE": engine}


async def run_pytest(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    """``python -m pytest`` in ``cwd``; its exit status and output (killed if it hangs)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",  # leave the repository's pytest cache alone
        "--trace-config",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode()


def assert_passed_with_one_plugin(status: int, out: str, engine: str) -> None:
    assert status == 0, out
    assert "3 passed" in out, out
    assert out.count(REGISTERED) == 1, out
    headers = [line for line in out.splitlines() if line.startswith("dynamorm_async engine:")]
    assert len(headers) == 1 and headers[0].startswith(f"dynamorm_async engine: {engine}"), out


async def test_the_example_suite_passes_from_the_repository(
    dynamodb_engine: str, dynamodb_endpoint: str
) -> None:
    """``python -m pytest examples/conftest_example`` from the repository: three tests pass
    on the engine named by DYNAMORM_TEST_ENGINE, and the plugin, named both by the
    repository's ``-p`` and by the example's ``pytest_plugins``, is registered once."""
    env = pytest_environment(**engine_environment(dynamodb_engine, dynamodb_endpoint))
    status, out = await run_pytest(ROOT, env, "examples/conftest_example")
    assert "configfile: pyproject.toml" in out  # the repository's settings, with -p
    assert_passed_with_one_plugin(status, out, dynamodb_engine)


async def test_the_example_suite_passes_as_a_project_of_its_own(
    dynamodb_endpoint: str, tmp_path: Path
) -> None:
    """Copied into a project of its own with the settings its conftest documents, the
    example passes with ``pytest_plugins`` alone enabling the plugin (registered once)."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "pytest.ini").write_text(USER_SETTINGS)
    env = pytest_environment(DYNAMODB_ENDPOINT=dynamodb_endpoint)
    status, out = await run_pytest(project, env)
    assert "configfile: pytest.ini" in out
    assert_passed_with_one_plugin(status, out, "external")
