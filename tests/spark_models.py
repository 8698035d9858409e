"""Models and transforms of the Spark copy tests: a module the executors import (the test
ships it with ``SparkContext.addPyFile``)."""

from __future__ import annotations

from typing import Any

import attrs
from pyspark import TaskContext

from dynamorm_async import model


@model(table="spark_v1", hash_key="org", range_key="user_id")
@attrs.define
class UserV1:
    org: str
    user_id: str
    first: str
    last: str
    age: int


@model(table="spark_v2", hash_key="org", range_key="user_id")
@attrs.define
class UserV2:
    org: str
    user_id: str
    full_name: str
    adult: bool


def users(n: int) -> list[UserV1]:
    return [UserV1(f"o{i % 37}", f"u{i:06d}", f"F{i}", f"L{i % 101}", i % 90) for i in range(n)]


def upgrade(u: UserV1) -> UserV2:
    return UserV2(u.org, u.user_id, f"{u.first} {u.last}", u.age >= 18)


def upgrade_failing_first(u: UserV1) -> UserV2:
    """``upgrade``, raising in the first attempt of the task that meets user u000007, so
    Spark retries that task."""
    context = TaskContext.get()
    if u.user_id == "u000007" and context is not None and context.attemptNumber() == 0:
        raise RuntimeError("injected: the first attempt of this task fails")
    return upgrade(u)


def upgrade_failing_always(u: UserV1) -> UserV2:
    """``upgrade``, failing for good on user u000007 (every attempt)."""
    if u.user_id == "u000007":
        raise RuntimeError("injected: this item cannot be transformed")
    return upgrade(u)


def expected(n: int) -> dict[tuple[str, str], Any]:
    return {(u.org, u.user_id): upgrade(u) for u in users(n)}
