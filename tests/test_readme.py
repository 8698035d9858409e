"""Every Python code block in the README runs (the front door must not rot)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_code_blocks() -> None:
    """The README shows code; the tests below run each block."""
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index: int) -> None:
    """README block number ``index`` runs; its own asserts check what it shows. Blocks that
    need the pytest fixtures (the conftest example) only define functions here."""
    namespace: dict[str, object] = {"__name__": f"readme_block_{index}"}
    if index:
        # Later blocks continue the quickstart (attrs is imported there), as a reader would.
        exec(compile(BLOCKS[0], "README-0", "exec", dont_inherit=True), namespace)
    exec(compile(BLOCKS[index], f"README-{index}", "exec", dont_inherit=True), namespace)
