"""Tests of the throughput room: ``TokenBucket`` on a fake clock (and its ``take`` on real
asyncio, about a second in all), ``Budget``'s estimates and settling, ``check_rate``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamorm_async import ValidationError
from dynamorm_async._observe.events import Capacity, RequestEvent
from dynamorm_async._throughput.bucket import TokenBucket
from dynamorm_async._throughput.budget import (
    SESSION_OPERATIONS,
    Budget,
    Reservation,
    budget_for,
    check_rate,
    using,
)
from dynamorm_async._transport.translate import THROTTLING_CODES

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Clock:
    """A fake monotonic clock: ``now`` is moved by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def wait_out(bucket: TokenBucket, clock: Clock) -> None:
    """Advance ``clock`` until ``bucket.delay()`` is 0 (a hair past it, for rounding)."""
    for _ in range(10):
        if (wait := bucket.delay()) == 0:
            return
        clock.now += max(wait, 1e-9)
    raise AssertionError("the bucket never came out of debt")


# --- TokenBucket on a fake clock -----------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, -1, -0.5, float("nan")])
def test_a_limit_not_above_zero_is_refused(limit: float) -> None:
    with pytest.raises(ValueError, match="above 0"):
        TokenBucket(limit)


def test_a_fresh_bucket_lets_one_reservation_go_then_charges_its_debt() -> None:
    clock = Clock()
    bucket = TokenBucket(10, clock=clock)
    assert bucket.rate() == 10
    assert bucket.delay() == 0
    bucket.reserve(25)
    assert bucket.delay() == pytest.approx(2.5)
    clock.now += 1
    assert bucket.delay() == pytest.approx(1.5)
    clock.now += 1.5
    assert bucket.delay() == 0


def test_idle_time_saves_up_at_most_burst_seconds_of_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(100, clock=clock, burst=0.5)
    clock.now += 3600
    bucket.reserve(50)  # exactly the 0.5 s saved up
    assert bucket.delay() == 0
    bucket.reserve(10)
    assert bucket.delay() == pytest.approx(0.1)


@given(reserved=st.floats(0, 500), consumed=st.floats(0, 500))
@FAST
def test_correct_moves_the_tokens_by_reserved_minus_consumed(
    reserved: float, consumed: float
) -> None:
    clock = Clock()
    bucket = TokenBucket(10, clock=clock)
    bucket.reserve(1000)  # deep in debt: the delay shows the tokens, the clock stands still
    before = bucket.delay()
    bucket.correct(reserved, consumed)
    assert bucket.delay() == pytest.approx(before - (reserved - consumed) / 10)


def test_a_throttle_halves_the_rate_once_per_cooldown_and_it_recovers() -> None:
    clock = Clock()
    bucket = TokenBucket(100, clock=clock, recovery=0.1, cooldown=1.0)
    bucket.throttled()
    assert bucket.throttles == 1
    assert bucket.rate() == pytest.approx(50)
    clock.now += 0.5
    bucket.throttled()  # within the cooldown: the same burst of throttles
    assert bucket.throttles == 1
    assert bucket.rate() == pytest.approx(55)  # recovering by 10 units/s each second
    clock.now += 0.5
    bucket.throttled()  # the cooldown is over: halve what it has now
    assert bucket.throttles == 2
    assert bucket.rate() == pytest.approx(30)
    clock.now += 6.9
    assert bucket.rate() < 100
    clock.now += 0.2
    assert bucket.rate() == 100


# A step: idle seconds, then units reserved (once out of debt), then maybe a throttle.
STEP = st.tuples(st.floats(0, 2), st.floats(0.01, 300), st.booleans())
SCHEDULE = st.lists(STEP, min_size=1, max_size=40)
PARAMS = st.fixed_dictionaries(
    {
        "limit": st.floats(0.5, 5000),
        "burst": st.floats(0, 2),
        "floor": st.floats(0.01, 1),
        "recovery": st.floats(0, 1),
        "cooldown": st.floats(0, 3),
    }
)


@given(params=PARAMS, schedule=SCHEDULE)
@FAST
def test_reservations_never_outrun_the_limit_in_any_window(
    params: dict[str, float], schedule: list[tuple[float, float, bool]]
) -> None:
    clock = Clock()
    limit = params["limit"]
    bucket = TokenBucket(clock=clock, **params)
    start = clock.now
    made: list[tuple[float, float]] = []  # (when, units)
    for idle, units, throttle in schedule:
        clock.now += idle
        wait_out(bucket, clock)
        bucket.reserve(units)
        made.append((clock.now, units))
        if throttle:
            bucket.throttled()
        rate = bucket.rate()
        assert params["floor"] * limit * (1 - 1e-9) <= rate <= limit
    # From the start: nothing is saved up yet.
    total = sum(u for _, u in made)
    largest = max(u for _, u in made)
    slack = 1e-6 * (total + limit)
    assert total <= limit * (clock.now - start) + largest + slack
    # Any window of reservations i..j: what was saved up (burst) plus the rate, plus the
    # last reservation, whose debt is paid after it.
    for i in range(len(made)):
        units = 0.0
        for j in range(i, len(made)):
            units += made[j][1]
            allowed = limit * (made[j][0] - made[i][0]) + params["burst"] * limit + made[j][1]
            assert units <= allowed + slack


@given(
    limit=st.floats(1, 1000),
    floor=st.floats(0.01, 1),
    recovery=st.floats(0.01, 1),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=20),
)
@FAST
def test_a_throttle_halves_to_the_floor_and_the_limit_comes_back(
    limit: float, floor: float, recovery: float, gaps: list[float]
) -> None:
    clock = Clock()
    bucket = TokenBucket(limit, clock=clock, floor=floor, recovery=recovery, cooldown=1.0)
    last: float | None = None
    for gap in gaps:
        clock.now += gap
        before, count = bucket.rate(), bucket.throttles
        bucket.throttled()
        if last is not None and clock.now - last < 1.0:
            assert (bucket.rate(), bucket.throttles) == (before, count)
        else:
            assert bucket.throttles == count + 1
            assert bucket.rate() == pytest.approx(max(floor * limit, before / 2))
            last = clock.now
        assert floor * limit * (1 - 1e-9) <= bucket.rate() <= limit
    clock.now += (1 - floor) / recovery + 1e-6
    assert bucket.rate() == limit


# --- TokenBucket.take on real asyncio ------------------------------------------------------------


async def test_take_paces_concurrent_callers_at_the_limit() -> None:
    limit, units, takes, callers = 400.0, 10.0, 10, 4
    bucket = TokenBucket(limit)
    order: list[int] = []

    async def caller(n: int) -> None:
        for _ in range(takes):
            await bucket.take(units)
            order.append(n)

    started = time.monotonic()
    await asyncio.gather(*(caller(n) for n in range(callers)))
    elapsed = time.monotonic() - started
    total = units * takes * callers
    assert len(order) == takes * callers
    assert elapsed >= (total - 0.25 * limit - units) / limit
    # Served in the order they came: no caller gets ahead of another by more than the one
    # reservation the first caller made before the others queued.
    for k in range(len(order)):
        counts = [order[: k + 1].count(n) for n in range(callers)]
        assert max(counts) - min(counts) <= 2, order


def test_a_bucket_outlives_its_event_loop() -> None:
    bucket = TokenBucket(100, burst=0.0)

    async def contend() -> None:
        await asyncio.gather(*(bucket.take(5) for _ in range(3)))

    asyncio.run(contend())
    started = time.monotonic()
    asyncio.run(contend())  # a new loop: the lock must not be the old loop's
    # The second loop starts in debt: 15 units, the last one's 5 paid after it.
    assert time.monotonic() - started >= (15 - 5) / 100


# --- Budget, check_rate --------------------------------------------------------------------------


def blob(size: int) -> dict[str, Any]:
    """A wire item of exactly ``size`` bytes as DynamoDB counts it (size >= 3)."""
    return {"pk": {"S": "x" * (size - 2)}}


async def taken(operation: str, params: dict[str, Any]) -> dict[str, float]:
    budget = Budget(1e9, 1e9)
    reservation = await budget.reserve(operation, params)
    return {table: units for table, _, units in reservation.taken}


@pytest.mark.parametrize(
    ("size", "units"), [(3, 1), (1024, 1), (1025, 2), (1536, 2), (4096, 4), (4097, 5)]
)
async def test_put_item_reserves_its_size_in_kilobyte_steps(size: int, units: float) -> None:
    assert await taken("PutItem", {"TableName": "t", "Item": blob(size)}) == {"t": units}


async def test_batch_write_reserves_each_put_by_size_and_each_delete_as_one() -> None:
    puts = [{"PutRequest": {"Item": blob(1536)}} for _ in range(25)]
    assert await taken("BatchWriteItem", {"RequestItems": {"t": puts}}) == {"t": 50}
    deletes = [{"DeleteRequest": {"Key": {"pk": {"S": "a"}}}}]
    params = {"RequestItems": {"t": puts[:3], "u": deletes}}
    assert await taken("BatchWriteItem", params) == {"t": 6, "u": 1}


async def test_other_estimates() -> None:
    assert await taken("UpdateItem", {"TableName": "t"}) == {"t": 1}
    assert await taken("DeleteItem", {"TableName": "t"}) == {"t": 1}
    assert await taken("GetItem", {"TableName": "t"}) == {"t": 1}
    assert await taken("Scan", {"TableName": "t"}) == {"t": 1}  # no page read yet
    keys: dict[str, Any] = {"t": {"Keys": [{}, {}, {}]}, "u": {"Keys": [{}]}}
    assert await taken("BatchGetItem", {"RequestItems": keys}) == {"t": 3, "u": 1}
    actions = [
        {"Put": {"TableName": "t", "Item": blob(1536)}},
        {"Delete": {"TableName": "t", "Key": {}}},
        {"ConditionCheck": {"TableName": "u", "Key": {}}},
    ]
    assert await taken("TransactWriteItems", {"TransactItems": actions}) == {"t": 6, "u": 2}
    gets = [{"Get": {"TableName": "t", "Key": {}}}] * 2
    assert await taken("TransactGetItems", {"TransactItems": gets}) == {"t": 4}
    budget = Budget(None, 100)  # no limit on reads: nothing to reserve
    assert budget.bucket("t", "read") is None
    assert (await budget.reserve("Scan", {"TableName": "t"})).taken == []
    assert (await budget.reserve("PutItem", {"TableName": "t", "Item": blob(3)})).kind == "write"


BASE = RequestEvent("BatchWriteItem", "t", ("t",), None, 0.01, 1, (), (), None, None, 0, None)


def event(operation: str = "BatchWriteItem", **changes: Any) -> RequestEvent:
    """A hand-built event: a BatchWriteItem on ``t`` that went well, but for ``changes``."""
    return attrs.evolve(BASE, operation=operation, **changes)


def settled(reserved: float, ev: RequestEvent) -> TokenBucket:
    """A bucket 1000 units in debt (``reserved`` for one request), settled with ``ev``."""
    bucket = TokenBucket(10, clock=Clock(), recovery=0.0)
    bucket.reserve(1000)
    Reservation(Budget(10, 10), "write", [("t", bucket, reserved)]).settle(ev)
    return bucket


@given(reserved=st.floats(0, 200), consumed=st.floats(0, 200))
@FAST
def test_settle_corrects_the_bucket_by_the_reported_capacity(
    reserved: float, consumed: float
) -> None:
    used = (Capacity("t", consumed, 0.0, consumed), Capacity("u", 9.0, 0.0, 9.0))
    bucket = settled(reserved, event(capacity=used))
    assert bucket.delay() == pytest.approx((1000 - reserved + consumed) / 10)
    assert bucket.throttles == 0


def test_settle_without_capacity_keeps_the_estimate_unless_throttled() -> None:
    assert settled(50, event()).delay() == pytest.approx(100)
    refused = settled(50, event(error="ProvisionedThroughputExceededException"))
    assert refused.delay() == pytest.approx((1000 - 50) / 10 * 2)  # refunded, rate halved
    failed = settled(50, event(error="ConditionalCheckFailedException"))
    assert failed.delay() == pytest.approx(100)
    assert failed.throttles == 0


@pytest.mark.parametrize(
    ("ev", "throttles"),
    [
        (event(retries=("5xx", "throttle")), 1),
        (event(unprocessed=3), 1),
        *((event(error=code), 1) for code in THROTTLING_CODES),
        (event(retries=("5xx", "connection")), 0),
        (event(error="InternalServerError"), 0),
    ],
)
def test_a_throttle_slows_the_bucket(ev: RequestEvent, throttles: int) -> None:
    assert settled(10, ev).throttles == throttles


async def test_a_scan_page_sets_the_next_estimate_and_budget_counts_throttles() -> None:
    budget = Budget(1e9, 1e9)
    page = await budget.reserve("Scan", {"TableName": "t"})
    page.settle(event("Scan", capacity=(Capacity("t", 37.5, 37.5, 0.0),), retries=("throttle",)))
    assert budget.throttles == 1
    nxt = await budget.reserve("Scan", {"TableName": "t"})
    assert [units for _, _, units in nxt.taken] == [37.5]
    nxt.settle(event("Scan", capacity=(Capacity("t", 0.0, 0.0, 0.0),)))
    after = await budget.reserve("Scan", {"TableName": "t"})
    assert [units for _, _, units in after.taken] == [0.5]  # never below half a unit


def test_budget_for_prefers_the_budget_in_force_and_respects_operations() -> None:
    session = Budget(None, 10, SESSION_OPERATIONS)
    scans = Budget(10, None, frozenset({"Scan"}))
    assert scans.paces("Scan") and not scans.paces("PutItem")
    assert Budget(1, 1).paces("PutItem")
    assert budget_for("BatchWriteItem", session) is session
    assert budget_for("PutItem", session) is None
    assert budget_for("Scan", None) is None
    with using(scans):
        assert budget_for("Scan", session) is scans
        assert budget_for("PutItem", session) is None
    assert budget_for("Scan", session) is session


@given(st.one_of(st.floats(min_value=1e-300, max_value=1e300), st.integers(1, 10**300)))
@FAST
def test_check_rate_takes_any_finite_number_above_zero(value: float) -> None:
    assert check_rate("max_read_units", value) == float(value)
    assert check_rate("max_read_units", None) is None


BAD_RATES = [0, -1, -0.5, float("nan"), float("inf"), -float("inf"), True, False, "10", "x" * 999]


@pytest.mark.parametrize("value", BAD_RATES, ids=lambda v: repr(v)[:12])
def test_check_rate_refuses_what_is_not_a_number_above_zero(value: Any) -> None:
    with pytest.raises(ValidationError, match="max_write_units") as info:
        check_rate("max_write_units", value)
    assert len(str(info.value)) < 200  # the value is cut short in the message


def test_check_rate_refuses_an_int_too_large_for_a_float() -> None:
    with pytest.raises(ValidationError, match="max_write_units"):
        check_rate("max_write_units", 10**400)
