"""Every Python code block in the README runs against the local database (the front door
must not rot).

The README holds three kinds of blocks:

- scripts (they end in ``if __name__ == "__main__":``), like the quickstart: each runs in a
  fresh interpreter, configured only through the environment, as a reader would run it;
- snippets, which continue the quickstart: they run in order, in one namespace, with
  top-level ``await`` and ``db`` an open ``Session`` on the engine;
- excerpts of the examples (their first line names the file, ``# examples/...``): each must
  appear word for word in that file, whose own test runs it.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from environments import aws_environment

from dynamorm_async import Session

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def kind(block: str) -> str:
    if block.startswith("# examples/"):
        return "excerpt"
    if 'if __name__ == "__main__":' in block:
        return "script"
    return "snippet"


def numbered(wanted: str) -> list[int]:
    return [i for i, block in enumerate(BLOCKS) if kind(block) == wanted]


def title(index: int) -> str:
    return f"README block {index} ({BLOCKS[index].splitlines()[0].strip()!r})"


def test_the_readme_shows_each_kind_of_block() -> None:
    assert kind(BLOCKS[0]) == "script", "the README starts with a runnable quickstart"
    assert len(numbered("snippet")) >= 6
    assert len(numbered("excerpt")) >= 3


@pytest.mark.parametrize("index", numbered("excerpt"))
def test_excerpts_are_in_their_example(index: int) -> None:
    """An excerpt shows the example's code as it is; the example's test runs it."""
    first, _, code = BLOCKS[index].partition("\n")
    path = ROOT / first.removeprefix("# ").split()[0]
    assert path.is_file(), f"{title(index)} names {path}, which does not exist"
    assert code.strip() in path.read_text(), f"{title(index)} is not in {path} as shown"


async def engine_tables(db: Session) -> set[str]:
    client = await db.client()
    names: set[str] = set()
    async for page in client.get_paginator("list_tables").paginate():
        names.update(page["TableNames"])
    return names


@pytest.mark.parametrize("index", numbered("script"))
async def test_scripts_run_as_a_reader_runs_them(
    index: int, tmp_path: Path, dynamodb_endpoint: str, dynamodb_session: Session
) -> None:
    """The script runs in a fresh interpreter, told where the database is only through the
    standard AWS environment variables; the tables it creates are dropped afterwards."""
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(BLOCKS[index])
    # Configured as a reader's script would be: only through the standard variables.
    env = aws_environment(dynamodb_endpoint)
    before = await engine_tables(dynamodb_session)
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(script)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, f"{title(index)} failed:\n{done.stderr}"
    finally:
        client = await dynamodb_session.client()
        for name in await engine_tables(dynamodb_session) - before:
            await client.delete_table(TableName=name)


async def test_snippets_run_in_order(dynamodb_session: Session) -> None:
    """The scripts' definitions (the quickstart's models), then every snippet in order, each
    with top-level await, sharing one namespace and ``db``."""
    namespace: dict[str, Any] = {"__name__": "readme", "db": dynamodb_session}
    for index, block in enumerate(BLOCKS):
        if kind(block) == "excerpt":
            continue
        code = compile(
            block, title(index), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )
        try:
            result = eval(code, namespace)
            if inspect.iscoroutine(result):
                await result
        except Exception as exc:
            raise AssertionError(f"{title(index)} failed: {exc!r}") from exc
