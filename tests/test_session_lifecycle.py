"""The session's life cycle: lazy client, one client per event loop, honest closing,
configuration from arguments or the AWS chain, and no secrets in what it prints."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from models import Thing, create_table

from dynamorm_async import (
    RequestFailed,
    Session,
    SessionClosed,
    SessionError,
    ValidationError,
)
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION


def make_session(endpoint: str, prefix: str = "", **options: Any) -> Session:
    return Session(
        region=REGION, endpoint_url=endpoint, table_prefix=prefix, **DUMMY_CREDENTIALS, **options
    )


def counting_botocore_session() -> tuple[Any, list[str]]:
    """An aiobotocore session that records every client it creates (botocore's own
    ``creating-client-class`` event)."""
    from aiobotocore.session import get_session

    created: list[str] = []
    session = get_session()
    session.register("creating-client-class.dynamodb", lambda **_: created.append("client"))
    return session, created


@contextlib.contextmanager
def no_resource_warnings() -> Iterator[None]:
    """Fail if anything (an unclosed aiohttp session, a socket) warns while collected."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        yield
        gc.collect()
    leaks = [w for w in seen if issubclass(w.category, ResourceWarning)]
    assert leaks == [], [str(w.message) for w in leaks]


def dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_constructing_a_session_does_nothing_until_the_first_request() -> None:
    """A session on an endpoint where nothing listens is built, entered and closed without
    error; only a request finds out, as RequestFailed naming the operation and table."""
    from botocore.config import Config

    db = make_session(
        dead_endpoint(), config=Config(retries={"max_attempts": 1}, connect_timeout=1)
    )
    assert db.state == "unopened"
    async with db:
        assert db.state == "unopened"
        with pytest.raises(RequestFailed) as caught:
            await db.get(Thing, "x", 1)
    assert caught.value.code == "EndpointConnectionError"
    assert caught.value.operation == "GetItem" and caught.value.table == "things"
    assert "GetItem on table 'things'" in str(caught.value)
    assert db.state == "closed"


async def test_a_hundred_concurrent_first_requests_open_one_client(
    db: Session, dynamodb_endpoint: str, dynamodb_table_prefix: str
) -> None:
    """100 coroutines that make their first request at the same moment share one client."""
    botocore_session, created = counting_botocore_session()
    fresh = make_session(
        dynamodb_endpoint, dynamodb_table_prefix, botocore_session=botocore_session
    )
    await db.put(Thing("t", 1))
    try:
        results = await asyncio.gather(*(fresh.get(Thing, "t", 1) for _ in range(100)))
        assert results == [Thing("t", 1)] * 100
        assert created == ["client"]
        assert await fresh.client() is await fresh.client()
    finally:
        await fresh.close()


def test_each_asyncio_run_gets_its_own_client_and_closes_it(
    dynamodb_endpoint: str, dynamodb_table_prefix: str
) -> None:
    """A module-level session used by consecutive ``asyncio.run`` calls (a Lambda handler
    per invocation) works in each: a client per loop, closed with its loop, no warnings."""
    botocore_session, created = counting_botocore_session()
    db = make_session(dynamodb_endpoint, dynamodb_table_prefix, botocore_session=botocore_session)

    problems: list[dict[str, Any]] = []

    async def invocation(n: int) -> Thing | None:
        # What goes wrong while a loop shuts down is reported to its exception handler.
        asyncio.get_running_loop().set_exception_handler(lambda _, c: problems.append(c))
        if n == 0:
            await create_table(db, Thing)
        await db.put(Thing("t", n))
        return await db.get(Thing, "t", n)

    try:
        with no_resource_warnings():
            assert asyncio.run(invocation(0)) == Thing("t", 0)
            assert asyncio.run(invocation(1)) == Thing("t", 1)
            assert asyncio.run(invocation(2)) == Thing("t", 2)
        assert created == ["client"] * 3
        assert db.state == "open"
        assert problems == []
    finally:
        asyncio.run(_drop_things(db))
    assert db.state == "closed"


async def _drop_things(db: Session) -> None:
    await (await db.client()).delete_table(TableName=db.table_name(Thing))
    await db.close()


def test_a_reused_loop_keeps_one_client(dynamodb_endpoint: str, dynamodb_table_prefix: str) -> None:
    """A handler that reuses one loop (``loop.run_until_complete`` per invocation) keeps one
    client across invocations."""
    botocore_session, created = counting_botocore_session()
    db = make_session(dynamodb_endpoint, dynamodb_table_prefix, botocore_session=botocore_session)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(create_table(db, Thing))
        for n in range(3):
            loop.run_until_complete(db.put(Thing("t", n)))
        assert created == ["client"]
        loop.run_until_complete(_drop_things(db))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def test_threads_with_their_own_loops_share_a_session(
    dynamodb_endpoint: str, dynamodb_table_prefix: str
) -> None:
    """Two threads, each running its own event loop at the same time, use one session."""
    db = make_session(dynamodb_endpoint, dynamodb_table_prefix)
    asyncio.run(create_table(db, Thing))
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        async def work() -> None:
            for i in range(20):
                await db.put(Thing(f"thread{n}", i))
                assert await db.get(Thing, f"thread{n}", i) == Thing(f"thread{n}", i)

        try:
            asyncio.run(work())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    asyncio.run(_drop_things(db))
    assert errors == []


async def test_close_is_idempotent_and_a_closed_session_refuses_requests(
    dynamodb_endpoint: str,
) -> None:
    """close() twice is fine (also as aclose); afterwards every request, client() and
    ``async with`` raise SessionClosed."""
    db = make_session(dynamodb_endpoint)
    await db.client()
    assert db.state == "open"
    await db.close()
    await db.aclose()
    assert db.state == "closed"
    with pytest.raises(SessionClosed, match="closed"):
        await db.get(Thing, "t", 1)
    with pytest.raises(SessionClosed):
        await db.client()
    with pytest.raises(SessionClosed):
        async with db:
            pass
    assert isinstance(SessionClosed("x"), SessionError)


async def test_close_completes_even_when_the_caller_is_cancelled(dynamodb_endpoint: str) -> None:
    """Cancelling a coroutine that is closing the session does not stop the close: the
    client is closed all the same, and a later close() returns at once."""
    from botocore.config import Config
    from botocore.exceptions import HTTPClientError

    db = make_session(dynamodb_endpoint, config=Config(retries={"total_max_attempts": 1}))

    client = await db.client()
    await client.list_tables()
    closing = asyncio.ensure_future(db.close())
    await asyncio.sleep(0)
    closing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closing
    await db.close()
    assert db.state == "closed"
    with pytest.raises(HTTPClientError):  # its connection pool is gone
        await client.list_tables()


async def test_async_with_closes_the_session(dynamodb_endpoint: str) -> None:
    """Leaving ``async with`` closes the session."""
    async with make_session(dynamodb_endpoint) as db:
        await db.client()
    assert db.state == "closed"


async def test_config_is_merged_over_the_defaults(dynamodb_endpoint: str) -> None:
    """A caller's botocore Config overrides only what it sets; the defaults stay."""
    from botocore.config import Config

    db = make_session(
        dynamodb_endpoint, config=Config(read_timeout=3, retries={"mode": "adaptive"})
    )
    try:
        config = (await db.client()).meta.config
        assert config.read_timeout == 3
        assert config.retries["mode"] == "adaptive"
        assert config.connect_timeout == 2
        assert config.max_pool_connections == 64
    finally:
        await db.close()


async def test_defaults_for_lambda(dynamodb_endpoint: str) -> None:
    """Without config: short timeouts, standard retries, a pool big enough for services."""
    db = make_session(dynamodb_endpoint)
    try:
        config = (await db.client()).meta.config
        assert (config.connect_timeout, config.read_timeout) == (2, 10)
        assert config.retries == {"mode": "standard", "total_max_attempts": 5}
        assert config.max_pool_connections == 64
    finally:
        await db.close()


@pytest.fixture
def bare_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """An environment with no AWS region, credentials or config files, and no instance
    metadata lookups."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


async def test_region_and_credentials_come_from_the_environment(
    bare_aws_environment: None, monkeypatch: pytest.MonkeyPatch, db: Session
) -> None:
    """With no arguments, region and credentials come from the standard AWS chain."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_CREDENTIALS["aws_secret_access_key"])
    endpoint = (await db.client()).meta.endpoint_url
    plain = Session(endpoint_url=endpoint, table_prefix=db.table_prefix)
    try:
        await plain.put(Thing("env", 1))
        assert await db.get(Thing, "env", 1) == Thing("env", 1)
        assert (await plain.client()).meta.region_name == REGION
    finally:
        await plain.close()


async def test_no_region_is_a_clear_session_error(
    bare_aws_environment: None, dynamodb_endpoint: str
) -> None:
    """No region anywhere: SessionError saying how to give one, at the first request."""
    db = Session(endpoint_url=dynamodb_endpoint, **DUMMY_CREDENTIALS)
    with pytest.raises(SessionError, match="region"):
        await db.get(Thing, "t", 1)
    await db.close()


async def test_no_credentials_is_a_clear_session_error(
    bare_aws_environment: None, dynamodb_endpoint: str
) -> None:
    """No credentials anywhere: SessionError at the first request, naming the operation."""
    db = Session(region=REGION, endpoint_url=dynamodb_endpoint)
    with pytest.raises(SessionError, match="GetItem") as caught:
        await db.get(Thing, "t", 1)
    assert "credentials" in str(caught.value).lower()
    await db.close()


async def test_secrets_never_appear_in_repr_or_errors(dynamodb_endpoint: str) -> None:
    """The secret key and session token appear in no repr and no error message."""
    secret, token = "SeCrEtKeY0123456789", "ToKeN0123456789"
    db = Session(
        region=REGION,
        endpoint_url=dynamodb_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key=secret,
        aws_session_token=token,
        table_prefix="nowhere_",
    )
    with pytest.raises(RequestFailed) as caught:
        await db.get(Thing, "t", 1)
    texts = [repr(db), str(db), str(caught.value), repr(caught.value), repr(db._clients.options)]
    await db.close()
    for text in texts:
        assert secret not in text and token not in text


def test_bad_session_arguments_are_refused_up_front() -> None:
    """Arguments that cannot work raise ValidationError when the session is built."""
    from aiobotocore.session import get_session
    from botocore.session import get_session as get_sync_session

    with pytest.raises(ValidationError, match="table_prefix"):
        Session(table_prefix="bad prefix!")
    with pytest.raises(ValidationError, match="together"):
        Session(aws_access_key_id="only-the-id")
    with pytest.raises(ValidationError, match="AioSession"):
        Session(botocore_session=get_sync_session())
    with pytest.raises(ValidationError, match="not both"):
        Session(botocore_session=get_session(), aioboto3_session=object())
