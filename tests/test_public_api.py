"""The public face: one sorted __all__, and an import that stays cheap for cold starts."""

from __future__ import annotations

import json
import subprocess
import sys

import dynamorm_async
import dynamorm_async.testing


def test_all_is_sorted_and_lists_every_public_name() -> None:
    """__all__ is sorted and equals the public names the package defines."""
    # Names loaded on first use (the table manager, migrations) count as defined.
    public = {n for n in dir(dynamorm_async) if not n.startswith("_")}
    public -= {"annotations", "importlib", "TYPE_CHECKING", "Any"}
    modules = {n for n in public if type(getattr(dynamorm_async, n)).__name__ == "module"}
    assert dynamorm_async.__all__ == sorted(dynamorm_async.__all__)
    assert set(dynamorm_async.__all__) == public - modules


def test_every_public_name_has_a_docstring() -> None:
    """Everything exported is documented."""
    missing = [n for n in dynamorm_async.__all__ if not getattr(dynamorm_async, n).__doc__]
    assert missing == []


def test_testing_module_exports_are_sorted() -> None:
    """dynamorm_async.testing has its own sorted __all__."""
    names = dynamorm_async.testing.__all__
    assert names == sorted(names)
    assert all(hasattr(dynamorm_async.testing, n) for n in names)


_PROBE = """
import json, sys
import attrs
import dynamorm_async
from dynamorm_async import GlobalIndex, Session, attr, model, size, to_item, from_item
import dynamorm_async.testing

@model(table="users", hash_key="user_id", indexes=[GlobalIndex("by_mail", hash_key="email")])
@attrs.define
class User:
    user_id: str
    email: str

item = to_item(User("u1", "a@b.c"))
assert from_item(User, item) == User("u1", "a@b.c")
db = Session(region="eu-west-1", table_prefix="dev_", on_request=print)
assert db.table_name(User) == "dev_users" and db.state == "unopened"
condition = (attr("email") == "a@b.c") & (size(attr("email")) > 3)
HEAVY = ("aiobotocore", "botocore", "aiohttp", "boto3", "opentelemetry", "pyspark")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
print(json.dumps(heavy))
"""


def test_import_define_and_convert_import_no_aws_client_libraries() -> None:
    """In a fresh interpreter, importing the package, defining a model, converting an item,
    constructing a Session (with a request callback) and building a condition import none of
    aiobotocore, botocore, aiohttp, boto3, opentelemetry or pyspark (the first four cost
    ~200 ms of cold start; the others are optional extras)."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


def test_the_table_manager_and_migrations_load_on_first_use() -> None:
    """A handler that only reads and writes items never loads the table manager; asking for
    any of its names (or ``db.tables``) loads it."""
    probe = """
import sys
import dynamorm_async
from dynamorm_async import Session
lazy = [f"dynamorm_async._tables.{m}" for m in ("lifecycle", "migrate", "copy")]
assert not any(m in sys.modules for m in lazy)
from dynamorm_async import MigrationReport, TableManager
assert TableManager.__module__ == "dynamorm_async._tables.migrate"
assert isinstance(Session(region="eu-west-1").tables, TableManager)
assert "MigrationReport" in dir(dynamorm_async)
try:
    dynamorm_async.NoSuchName
except AttributeError as exc:
    assert "NoSuchName" in str(exc)
else:
    raise AssertionError("no AttributeError")
"""
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)
