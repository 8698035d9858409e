"""examples/single_table.py: the shop in one table, run against the test engine.

The tour runs in this process on the test's session (its table prefix), keeping the table,
so that what it printed and what the table holds can both be checked; the script itself
runs once as a command, configured from the environment as a user runs it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from environments import aws_environment

from dynamorm_async import Session

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "single_table.py"
TIMEOUT = 120  # seconds for one run of the script


def load_example() -> ModuleType:
    """The script as a module (its table and entities; nothing runs)."""
    name = "example_single_table"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # attrs resolves the string annotations through it
        spec.loader.exec_module(module)
    return sys.modules[name]


async def stored(db: Session, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item of ``table`` by (pk, sk), read with consistent scans."""
    client = await db.client()
    items: dict[tuple[str, str], dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = await client.scan(**kwargs)
        for item in page["Items"]:
            items[item["pk"]["S"], item["sk"]["S"]] = item
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def section(out: str, title: str) -> list[str]:
    """The lines the tour printed under the heading that starts with ``title``."""
    after = out.split(f"\n== {title}", 1)
    assert len(after) == 2, f"no step {title!r} in:\n{out}"
    return after[1].split("\n== ", 1)[0].strip().splitlines()[1:]


ADA_ORDER_1 = "ORDER#2026-03-02T09:30:00.000000+00:00#o-1001"
ALAN_ORDER = "ORDER#2026-03-21T14:05:00.000000+00:00#o-1005"


async def test_the_tour_prints_each_access_pattern_and_leaves_the_shop_in_the_table(
    dynamodb_session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each access pattern finds exactly what was seeded for it, in plain words; afterwards
    (``keep=True``) the table holds the 15 items, with keys formatted from the templates,
    the transaction's order counted once and Grace's index key following her new e-mail."""
    db = dynamodb_session
    example = load_example()
    assert await example.shop(db, keep=True) == 0
    out = capsys.readouterr().out
    table = db.table_name(example.Customer)

    assert section(out, "Seeding") == [f"stored 12 items of three types in {table}"]
    assert section(out, "A customer by id") == [
        "Ada Lovelace <ada@example.com>, orders placed: 3",
        "batch_get of c-grace and c-bob: ['Grace Hopper', None]",
    ]
    assert section(out, "A customer by e-mail") == ["grace@example.com is Grace Hopper"]
    assert section(out, "Ada's orders from 1 to 10 March") == [
        "order o-1001 of 02 March 2026, placed, total 12.60",
        "order o-1002 of 09 March 2026, placed, total 7.00",
    ]
    assert sorted(section(out, "Order o-1001 and its lines")) == sorted(
        [
            "order o-1001 of 02 March 2026, placed, total 12.60",
            "  line 1: 2 x notebook at 4.50",
            "  line 2: 3 x pen at 1.20",
        ]
    )
    assert section(out, "Ada and all her orders") == [
        "Customer: Ada Lovelace <ada@example.com>, orders placed: 3",
        "Order: order o-1003 of 20 March 2026, placed, total 15.50",
        "Order: order o-1002 of 09 March 2026, placed, total 7.00",
        "Order: order o-1001 of 02 March 2026, placed, total 12.60",
        "(her order lines share the partition: they are read, and skipped as not asked for)",
        "a scan of Customer returns the customers only: "
        "['Ada Lovelace', 'Alan Turing', 'Grace Hopper']",
    ]
    assert section(out, "Alan places an order") == [
        "placed o-1005 with 2 lines; now Alan Turing <alan@example.com>, orders placed: 1",
        "placing o-1005 again is refused (ConditionalCheckFailed), nothing is written",
    ]
    assert section(out, "Grace changes her e-mail") == [
        "grace@example.com is nobody",
        "grace@navy.mil is Grace Hopper",
    ]
    assert section(out, "A stream consumer") == [
        f"pk CUSTOMER#c-alan, sk {ALAN_ORDER}, _type Order",
        "  -> Order: order o-1005 of 21 March 2026, placed, total 29.00",
        f"pk CUSTOMER#c-alan, sk {ALAN_ORDER}#LINE#001, _type Line",
        "  -> Line: line 1: 10 x chalk at 0.40",
        f"pk CUSTOMER#c-alan, sk {ALAN_ORDER}#LINE#002, _type Line",
        "  -> Line: line 2: 1 x board at 25.00",
        "pk CUSTOMER#c-alan, sk PROFILE, _type Customer",
        "  -> Customer: Alan Turing <alan@example.com>, orders placed: 1",
        "an image of type 'Coupon', which no entity claims: DeserializationError",
    ]
    assert "deleted" not in out  # keep=True

    items = await stored(db, table)
    assert Counter(i["_type"]["S"] for i in items.values()) == {
        "Customer": 3,
        "Order": 5,
        "Line": 7,
    }
    ada = items["CUSTOMER#c-ada", "PROFILE"]
    assert (ada["gsi1pk"], ada["gsi1sk"]) == ({"S": "EMAIL#ada@example.com"}, {"S": "CUSTOMER"})
    grace = items["CUSTOMER#c-grace", "PROFILE"]
    assert grace["email"] == {"S": "grace@navy.mil"}
    assert grace["gsi1pk"] == {"S": "EMAIL#grace@navy.mil"}
    order = items["CUSTOMER#c-ada", ADA_ORDER_1]
    assert (order["gsi1pk"], order["gsi1sk"]) == ({"S": "ORDER#o-1001"}, {"S": "ORDER"})
    line = items["CUSTOMER#c-ada", ADA_ORDER_1 + "#LINE#002"]
    assert (line["gsi1pk"], line["gsi1sk"]) == ({"S": "ORDER#o-1001"}, {"S": "LINE#002"})
    assert items["CUSTOMER#c-alan", "PROFILE"]["orders_placed"] == {"N": "1"}  # not 2
    assert items["CUSTOMER#c-alan", ALAN_ORDER]["version"] == {"N": "1"}

    capsys.readouterr()
    assert await example.shop(db) == 2  # an existing table is left alone
    assert f"{table} exists already" in capsys.readouterr().out
    assert await stored(db, table) == items


async def test_the_script_runs_from_the_command_line_and_deletes_its_table(
    dynamodb_session: Session, dynamodb_endpoint: str
) -> None:
    """``python examples/single_table.py`` against the endpoint and prefix of the
    environment: exit status 0, every step printed, and the table gone afterwards."""
    db = dynamodb_session
    example = load_example()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=aws_environment(dynamodb_endpoint, db.table_prefix),
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    out = stdout.decode()
    assert process.returncode == 0, out + stderr.decode()
    table = db.table_name(example.Customer)
    assert out.startswith(f"created {table}: key pk and sk; index gsi1\n"), out
    assert out.count("\n== ") == 9  # every step
    assert "grace@navy.mil is Grace Hopper" in out
    assert out.rstrip().endswith(f"deleted {table}")
    assert not await db.tables.exists(example.app)
