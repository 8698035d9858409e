"""The tour ``make demo`` runs: the same code, against the test engine."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


async def test_the_demo_tour_runs(
    dynamodb_endpoint: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every step of the tour runs and says what it did; the tour deletes its own tables."""
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    # Registered first: the models' string annotations resolve through sys.modules.
    monkeypatch.setitem(sys.modules, "demo", demo)
    spec.loader.exec_module(demo)
    await demo.tour(dynamodb_endpoint)
    out = capsys.readouterr().out
    for expected in (
        "read back, equal to what was written: True",
        "VersionConflict: expected version 1, table has 2",
        "deleted: True",
        "newest 5: ['2026-11-20-0001'",
        "second order refused, nothing written",
        "the second order was not stored either: True",
        "scanned 5000, wrote 5000, failed 0",
        "deleted the demo's tables",
    ):
        assert expected in out
