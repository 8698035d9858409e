"""The lean transport against aiobotocore: the same faults, injected over real HTTP by the
fault proxy, must end the same way on both (the attempts the server saw, the error raised);
plus what only the lean transport does (clock-skew correction) and how ``auto`` chooses."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from models import Thing, create_table

from dynamorm_async import (
    ConditionFailed,
    DynamORMError,
    RequestFailed,
    Session,
    SessionError,
    Throttled,
    ValidationError,
    attr,
)
from dynamorm_async._transport.choose import LeanChoice, choose
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, FaultProxy

TRANSPORTS = ("lean", "aiobotocore")


@pytest.fixture
def proxy(dynamodb_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(dynamodb_endpoint) as running:
        yield running


@pytest_asyncio.fixture
async def table(dynamodb_session: Session) -> AsyncIterator[str]:
    """The ``Thing`` table (the fixture session's prefix), holding one item."""
    await create_table(dynamodb_session, Thing)
    await dynamodb_session.put(Thing("t", 1, data="stored"))
    yield dynamodb_session.table_prefix


def via(endpoint: str, prefix: str, transport: str, **kwargs: Any) -> Session:
    return Session(
        region=REGION,
        endpoint_url=endpoint,
        table_prefix=prefix,
        transport=transport,
        **DUMMY_CREDENTIALS,
        **kwargs,
    )


async def outcome(db: Session, call: str) -> tuple[str, str | None]:
    """What a call ended with: ``ok`` or the error class, and the error's code."""
    try:
        if call == "get":
            await db.get(Thing, "t", 1)
        elif call == "put":
            await db.put(Thing("t", 2))
        else:
            await db.put(Thing("t", 1), condition=attr("name").not_exists())
    except DynamORMError as exc:
        return type(exc).__name__, getattr(exc, "code", None)
    finally:
        await db.close()
    return "ok", None


# (rule, arguments, call): the same answers for both transports.
SCENARIOS = [
    ("fail", {"code": "ProvisionedThroughputExceededException", "times": 2}, "get"),
    ("fail", {"code": "ThrottlingException", "times": None}, "get"),
    ("fail", {"code": "TransactionInProgressException", "times": 1}, "put"),
    ("fail", {"code": "RequestLimitExceeded", "times": 1}, "put"),
    ("fail", {"code": "InternalServerError", "status": 500, "times": 3}, "put"),
    ("fail", {"code": "ServiceUnavailable", "status": 503, "times": 1}, "get"),
    ("fail", {"code": "RequestTimeoutException", "status": 400, "times": 1}, "get"),
    ("fail", {"code": "ValidationException", "times": 1}, "get"),
    ("fail", {"code": "AccessDeniedException", "times": 1}, "put"),
    ("fail", {"code": "NotARealCode", "status": 501, "times": 1}, "get"),
    ("drop", {"times": 1}, "get"),
    ("drop", {"times": None}, "put"),
    ("corrupt", {"times": 2}, "get"),
    ("corrupt", {"times": None}, "get"),
    (None, {}, "conditional"),
]


@pytest.mark.parametrize(("rule", "arguments", "call"), SCENARIOS)
async def test_both_transports_retry_and_fail_alike(
    proxy: FaultProxy, table: str, rule: str | None, arguments: dict[str, Any], call: str
) -> None:
    seen: dict[str, tuple[int, tuple[str, str | None]]] = {}
    for transport in TRANSPORTS:
        proxy.clear()
        before = proxy.count()
        if rule is not None:
            getattr(proxy, rule)(None, **arguments)
        # Faults without end: 3 attempts (not the default 5) keep the backoff short.
        config = None
        if rule is not None and arguments.get("times", 1) is None:
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "total_max_attempts": 3})
        db = via(proxy.endpoint, table, transport, config=config)
        result = await outcome(db, call)
        assert db.transport == transport
        seen[transport] = (proxy.count() - before, result)
    assert seen["lean"] == seen["aiobotocore"], seen


async def test_the_retry_quota_runs_out_alike(proxy: FaultProxy, table: str) -> None:
    """500 tokens, 5 per retry: 30 requests failing at once get 100 retries between them,
    then no more, on both transports (each session has a quota of its own)."""
    proxy.fail(None, code="InternalServerError", status=500, times=None)
    counts = {}
    for transport in TRANSPORTS:
        before = proxy.count()
        db = via(proxy.endpoint, table, transport)
        results = await asyncio.gather(
            *(db.get(Thing, "t", 1) for _ in range(30)), return_exceptions=True
        )
        await db.close()
        assert all(isinstance(r, RequestFailed) for r in results)
        counts[transport] = proxy.count() - before
    assert counts == {"lean": 130, "aiobotocore": 130}


async def test_a_clock_off_by_an_hour_is_corrected_from_the_servers_date(
    proxy: FaultProxy, table: str
) -> None:
    """The server refuses the request's time and says its own in ``Date``: the lean
    transport signs again with the corrected clock and keeps the correction; botocore has
    no clock-skew correction and fails."""

    def ahead() -> dict[str, str]:
        return {"Date": formatdate(time.time() + 3600, usegmt=True)}

    skewed = {
        "code": "InvalidSignatureException",
        "message": "Signature expired: 20261202T100000Z is now earlier than ...",
        "headers": ahead,
    }
    proxy.fail("GetItem", **skewed)
    db = via(proxy.endpoint, table, "lean")
    assert (await db.get(Thing, "t", 1)).data == "stored"
    await db.get(Thing, "t", 1)
    await db.close()
    dates = [h["X-Amz-Date"] for h in proxy.headers[-3:]]
    signed = [time.mktime(time.strptime(d, "%Y%m%dT%H%M%SZ")) - time.timezone for d in dates]
    assert abs(signed[0] - time.time()) < 120  # the first attempt: our clock
    assert all(abs(s - time.time() - 3600) < 120 for s in signed[1:])  # then the server's

    proxy.fail("GetItem", **skewed)
    db = via(proxy.endpoint, table, "aiobotocore")
    with pytest.raises(RequestFailed) as caught:
        await db.get(Thing, "t", 1)
    await db.close()
    assert caught.value.code == "InvalidSignatureException"


async def test_a_signature_error_with_a_matching_clock_is_not_retried(
    proxy: FaultProxy, table: str
) -> None:
    proxy.fail(
        "GetItem",
        code="InvalidSignatureException",
        message="The request signature we calculated does not match",
        headers={"Date": formatdate(time.time(), usegmt=True)},
    )
    before = proxy.count()
    db = via(proxy.endpoint, table, "lean")
    with pytest.raises(RequestFailed) as caught:
        await db.get(Thing, "t", 1)
    await db.close()
    assert caught.value.code == "InvalidSignatureException"
    assert proxy.count() - before == 1


async def test_error_answers_carry_the_same_data_on_both_transports(
    dynamodb_endpoint: str, table: str
) -> None:
    """The stored item of a failed condition, and a throttled batch's error, alike."""
    items = {}
    for transport in TRANSPORTS:
        db = via(dynamodb_endpoint, table, transport)
        with pytest.raises(ConditionFailed) as caught:
            await db.put(Thing("t", 1), condition=attr("name").not_exists())
        await db.close()
        items[transport] = caught.value.item
    assert items["lean"] == items["aiobotocore"] == Thing("t", 1, data="stored")


async def test_binary_values_round_trip_alike(dynamodb_endpoint: str, table: str) -> None:
    raw = {}
    for transport in TRANSPORTS:
        db = via(dynamodb_endpoint, table, transport)
        await db.put(Thing("bin", 1, data=transport))
        client = await db.client()  # aiobotocore's, on both
        raw[transport] = await client.get_item(
            TableName=db.table_name(Thing), Key={"name": {"S": "bin"}, "size": {"N": "1"}}
        )
        await db.close()
    assert raw["lean"]["Item"]["data"] == {"S": "lean"}


async def test_throttling_beyond_every_attempt_raises_throttled_on_both(
    proxy: FaultProxy, table: str
) -> None:
    from botocore.config import Config

    for transport in TRANSPORTS:
        proxy.clear()
        proxy.fail("GetItem", times=None)
        before = proxy.count()
        config = Config(retries={"mode": "standard", "total_max_attempts": 2})
        db = via(proxy.endpoint, table, transport, config=config)
        with pytest.raises(Throttled):
            await db.get(Thing, "t", 1)
        await db.close()
        assert proxy.count() - before == 2


# -- how auto chooses -------------------------------------------------------------------


def _choose(environ: dict[str, str], **kwargs: Any) -> LeanChoice:
    arguments: dict[str, Any] = {
        "region": None,
        "endpoint_url": None,
        "credentials": {},
        "profile": None,
        "uses_botocore": None,
        "forced": False,
        **kwargs,
    }
    environ = {"AWS_CONFIG_FILE": "/none/c", "AWS_SHARED_CREDENTIALS_FILE": "/none/k", **environ}
    return choose(environ=environ, **arguments)


def _choice(environ: dict[str, str], **kwargs: Any) -> str | None:
    """Why auto takes aiobotocore; None when it takes the lean transport."""
    return _choose(environ, **kwargs).reason


LAMBDA = {
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_SESSION_TOKEN": "token",
}


def test_auto_takes_the_lean_transport_where_it_is_exact(tmp_path: Path) -> None:
    assert _choice(LAMBDA) is None  # Lambda: region and credentials in the environment
    assert _choice({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/x"}, region="us-east-1") is None
    assert _choice({}, region="eu-west-1", credentials=DUMMY_CREDENTIALS) is None
    # ... and aiobotocore wherever botocore's configuration decides something.
    assert "profile" in str(_choice(LAMBDA, uses_botocore="profile= is given"))
    assert "region" in str(_choice({"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}))
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-west-1\n")
    assert str(config) in str(_choice({**LAMBDA, "AWS_CONFIG_FILE": str(config)}))
    assert _choice({**LAMBDA, "AWS_USE_FIPS_ENDPOINT": "true"}) is not None
    assert _choice({**LAMBDA, "HTTPS_PROXY": "http://proxy:3128"}) is not None
    assert _choice({**LAMBDA, "HTTPS_PROXY": "http://p:1", "NO_PROXY": ".amazonaws.com"}) is None
    assert _choice({"AWS_REGION": "eu-west-1", "AWS_PROFILE": "dev"}) is not None
    assert _choice({"AWS_REGION": "eu-west-1"}) is not None  # instance metadata is botocore's
    assert _choice({**LAMBDA, "AWS_REGION": "us-isob-east-1"}) is not None  # its endpoint too


def test_forcing_the_lean_transport_names_what_it_cannot_do() -> None:
    with pytest.raises(SessionError, match="no AWS region"):
        _choice({}, forced=True, credentials=DUMMY_CREDENTIALS)
    with pytest.raises(SessionError, match="not an AWS region name"):
        _choice({}, region="Europe West", credentials=DUMMY_CREDENTIALS, forced=True)
    with pytest.raises(ValidationError, match="profile"):
        Session(transport="lean", profile="dev")
    with pytest.raises(ValidationError, match="transport must be one of"):
        Session(transport="fast")
    from botocore.config import Config

    with pytest.raises(ValidationError, match="proxies"):
        Session(transport="lean", config=Config(proxies={"https": "http://p:1"}))
    with pytest.raises(ValidationError, match="adaptive"):
        Session(transport="lean", config=Config(retries={"mode": "adaptive"}))
    Session(transport="lean", config=Config(read_timeout=3, retries={"max_attempts": 2}))


async def test_a_forced_lean_session_with_no_credentials_fails_on_its_first_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    db = Session(region=REGION, endpoint_url="http://127.0.0.1:9", transport="lean")
    with pytest.raises(SessionError, match="cannot load AWS credentials"):
        await db.get(Thing, "t", 1)
    await db.close()


# -- the cold start ----------------------------------------------------------------------

_COLD = r"""
import asyncio, json, sys, time
started = time.perf_counter()
import attrs
from dynamorm_async import Session, model

@model(table=sys.argv[2] + "things", hash_key="name", range_key="size")
@attrs.define
class Thing:
    name: str
    size: int
    data: str = "d"

db = Session(endpoint_url=sys.argv[1])

async def main():
    thing = await db.get(Thing, "t", 1)
    await db.close()
    return thing

thing = asyncio.run(main())
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("aiobotocore", "botocore", "aiohttp"))
print(json.dumps({"data": thing.data, "transport": db.transport, "heavy": heavy}))
"""


def test_a_fresh_lambda_process_answers_without_importing_aiobotocore(
    dynamodb_endpoint: str, table: str, tmp_path: Path
) -> None:
    """Environment credentials and region, as Lambda gives them, and no AWS files: the
    first request takes the lean transport and imports neither aiobotocore, botocore nor
    aiohttp."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DYNAMORM_"))}
    environ.update(
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID=DUMMY_CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=DUMMY_CREDENTIALS["aws_secret_access_key"],
        AWS_SESSION_TOKEN="token",
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
    )
    out = subprocess.run(
        [sys.executable, "-c", _COLD, dynamodb_endpoint, table],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        check=True,
    )
    assert json.loads(out.stdout) == {"data": "stored", "transport": "lean", "heavy": []}


def test_the_endpoint_comes_from_the_argument_the_environment_or_the_region() -> None:
    def endpoint(environ: dict[str, str], **kwargs: Any) -> str:
        return _choose(environ, **kwargs).endpoint_url

    assert endpoint(LAMBDA) == "https://dynamodb.eu-west-1.amazonaws.com"
    assert endpoint({**LAMBDA, "AWS_REGION": "cn-north-1"}) == (
        "https://dynamodb.cn-north-1.amazonaws.com.cn"
    )
    assert endpoint({**LAMBDA, "AWS_ENDPOINT_URL": "http://a:1"}) == "http://a:1"
    both = {**LAMBDA, "AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_DYNAMODB": "http://b:2"}
    assert endpoint(both) == "http://b:2"
    assert endpoint(both, endpoint_url="http://c:3") == "http://c:3"


def test_an_empty_shared_config_file_configures_nothing(tmp_path: Path) -> None:
    assert _choice({**LAMBDA, "AWS_CONFIG_FILE": os.devnull}) is None
    empty = tmp_path / "config"
    empty.write_text("")
    assert _choice({**LAMBDA, "AWS_CONFIG_FILE": str(empty)}) is None
