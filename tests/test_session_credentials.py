"""Credentials and the session: refreshable credentials on every event loop, configuration
that cannot work reported as ``SessionError``, and credentials kept out of every error."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from credentials_server import ADVISORY_WINDOW, AUTH_TOKEN, MANDATORY_WINDOW, CredentialsServer
from models import Thing, create_table

from dynamorm_async import (
    ConditionFailed,
    RequestFailed,
    Session,
    SessionError,
    TableNotFound,
    ValidationError,
)
from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, FaultProxy

_AWS_VARIABLES = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
)


@pytest.fixture
def bare_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No AWS region, credentials, profile or config files, and no instance metadata."""
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def use_container_credentials(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point botocore's container provider at ``url``, as ECS, EKS and Lambda do."""
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN)


@pytest.fixture
def credentials_server(
    bare_aws_environment: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CredentialsServer]:
    """A credentials endpoint on loopback, stopped after the test; the process environment
    points at it (and has no other credentials)."""
    with CredentialsServer() as server:
        use_container_credentials(monkeypatch, server.url)
        yield server


async def _drop_things(db: Session) -> None:
    try:
        await (await db.client()).delete_table(TableName=db.table_name(Thing))
    finally:
        await db.close()


# Inside the mandatory window: every request waits for a refresh.
DUE = MANDATORY_WINDOW / 2
# Fresh for a moment only: the requests still running seldom refresh it again, and by the next
# invocation it is inside the advisory window, so that invocation's first request does.
FRESH_FOR_A_MOMENT = ADVISORY_WINDOW + timedelta(milliseconds=50)


def test_refreshed_container_credentials_work_on_every_event_loop(
    credentials_server: CredentialsServer, dynamodb_endpoint: str, dynamodb_table_prefix: str
) -> None:
    """A module-level session used by 200 ``asyncio.run`` invocations of 20 concurrent
    requests each, with container credentials from a server on loopback that are refreshed
    on every invocation while the other requests wait: every request succeeds, on every
    loop."""
    server = credentials_server
    server.lifetime = FRESH_FOR_A_MOMENT
    db = Session(region=REGION, endpoint_url=dynamodb_endpoint, table_prefix=dynamodb_table_prefix)

    async def invocation(n: int) -> list[Any]:
        if n == 0:
            await create_table(db, Thing)
        # The put refreshes the credentials, aged into the advisory window, to a set that is
        # due; of the 20 concurrent gets after it the first refreshes that set while the
        # others wait for it on the refresh lock.
        server.lifetime = DUE
        await db.put(Thing("t", n))
        server.lifetime = FRESH_FOR_A_MOMENT
        return await asyncio.gather(
            *(db.get(Thing, "t", n) for _ in range(20)), return_exceptions=True
        )

    failures: list[str] = []
    try:
        for n in range(200):
            _let_credentials_age(server)
            results = asyncio.run(invocation(n))
            failures += [repr(r) for r in results if r != Thing("t", n)]
    finally:
        asyncio.run(_drop_things(db))
    assert failures == [], f"{len(failures)} of 4000 requests failed, first: {failures[0]}"
    assert server.refused == 0
    # Each invocation refreshed a due set while its concurrent requests waited.
    assert server.lifetimes.count(FRESH_FOR_A_MOMENT) >= 200


def _let_credentials_age(server: CredentialsServer) -> None:
    """Wait until the last set served has left the fresh period (an invocation usually takes
    longer than that already). Nothing to await: it is the clock botocore reads."""
    ages_at = server.expirations[-1] - ADVISORY_WINDOW if server.expirations else None
    if ages_at is not None:
        time.sleep(max(0.0, (ages_at - datetime.now(timezone.utc)).total_seconds()) + 0.001)


# -- configuration that cannot work ------------------------------------------------------------


@pytest.mark.parametrize("where", ["argument", "environment"])
async def test_a_malformed_region_is_a_session_error_naming_it(
    where: str, bare_aws_environment: None, monkeypatch: pytest.MonkeyPatch, dynamodb_endpoint: str
) -> None:
    """A region that is no region name, given to the session or in AWS_DEFAULT_REGION:
    SessionError at the first request, naming the region, botocore's error chained."""
    from botocore.exceptions import InvalidRegionError

    if where == "environment":
        monkeypatch.setenv("AWS_DEFAULT_REGION", "not a region!")
        db = Session(endpoint_url=dynamodb_endpoint, **DUMMY_CREDENTIALS)
    else:
        db = Session(region="not a region!", endpoint_url=dynamodb_endpoint, **DUMMY_CREDENTIALS)
    try:
        with pytest.raises(SessionError, match="'not a region!' is not an AWS region") as caught:
            await db.get(Thing, "t", 1)
        if db.transport != "lean":  # the lean transport checks the name itself
            assert isinstance(caught.value.__cause__, InvalidRegionError)
        with pytest.raises(SessionError, match="not a region!"):  # and again: nothing cached
            await db.client()
    finally:
        await db.close()


async def test_unreachable_container_credentials_are_a_session_error(
    credentials_server: CredentialsServer, monkeypatch: pytest.MonkeyPatch, dynamodb_endpoint: str
) -> None:
    """The credentials endpoint is gone: a session that never had credentials fails at its
    first request, and one whose credentials are due fails at the refresh, both with
    SessionError naming the credentials and the endpoint, the transport's error chained."""

    url = credentials_server.url
    credentials_server.lifetime = DUE
    had = Session(region=REGION, endpoint_url=dynamodb_endpoint, table_prefix="nowhere_")
    never = Session(region=REGION, endpoint_url=dynamodb_endpoint, table_prefix="nowhere_")
    try:
        with pytest.raises(TableNotFound):  # signed with the served credentials, and sent
            await had.get(Thing, "t", 1)
        credentials_server.stop()  # nothing listens on its port any more
        # botocore tries the endpoint three times, a second apart: both wait at once.
        first, refresh = await asyncio.gather(
            never.get(Thing, "t", 1), had.get(Thing, "t", 1), return_exceptions=True
        )
    finally:
        await had.close()
        await never.close()
    assert isinstance(first, SessionError), repr(first)
    assert "cannot load AWS credentials" in str(first) and url in str(first)
    assert type(first.__cause__).__name__ == "CredentialRetrievalError"
    assert isinstance(refresh, SessionError), repr(refresh)
    assert "GetItem on table 'nowhere_things'" in str(refresh) and url in str(refresh)
    assert type(refresh.__cause__).__name__ == "CredentialRetrievalError"


async def test_a_credentials_answer_without_credentials_is_a_session_error(
    credentials_server: CredentialsServer, dynamodb_endpoint: str
) -> None:
    """A credentials endpoint that answers without credentials: SessionError at the first
    request naming what is missing, the cause chained."""
    credentials_server.malformed = True
    db = Session(region=REGION, endpoint_url=dynamodb_endpoint)
    try:
        with pytest.raises(
            SessionError, match=r"cannot (open a DynamoDB client|load AWS credentials)"
        ) as caught:
            await db.get(Thing, "t", 1)
    finally:
        await db.close()
    assert "AccessKeyId" in str(caught.value)
    causes = []
    cause = caught.value.__cause__
    while cause is not None:  # botocore's KeyError, or the lean transport's error over it
        causes.append(cause)
        cause = cause.__cause__
    assert any(isinstance(c, KeyError) for c in causes), causes


# -- credentials kept out of errors ------------------------------------------------------------

# Alphanumeric, as DynamoDB Local wants key ids; none is a word an error message would hold.
GIVEN = {
    "aws_access_key_id": "AKIDGIVEN0123456789",
    "aws_secret_access_key": "givenSecretKey0123456789abcdef",
    "aws_session_token": "givenSessionToken0123456789abcdef",
}


def _echo_everything(secrets: dict[str, str]) -> Any:
    """An error message built from the signed request, as a server that echoes it would:
    the Authorization header, the session token header, and each credential bare."""

    def message(headers: Any) -> str:
        secrets["token header"] = headers.get("X-Amz-Security-Token", "")
        return (
            f"The request signature we calculated does not match. Authorization: "
            f"{headers.get('Authorization')}, X-Amz-Security-Token: "
            f"{headers.get('X-Amz-Security-Token')}; key {secrets['key']} token "
            f"{secrets['token']} secret {secrets['secret']}"
        )

    return message


def _texts_of(error: BaseException) -> list[str]:
    """Every message, repr and attribute of ``error`` and the exceptions chained to it, and
    the traceback as logging would print it."""
    texts = ["".join(traceback.format_exception(error))]
    seen: BaseException | None = error
    while seen is not None:
        texts += [str(seen), repr(seen), repr(seen.args), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    return texts


@pytest.fixture
def proxy(dynamodb_endpoint: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of the test engine, stopped after the test."""
    with FaultProxy(dynamodb_endpoint) as running:
        yield running


@pytest.mark.parametrize("source", ["given", "container"])
@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("UnrecognizedClientException", RequestFailed),
        ("ValidationException", ValidationError),
        ("ConditionalCheckFailedException", ConditionFailed),
    ],
)
async def test_credentials_echoed_by_the_server_are_scrubbed_from_errors(
    source: str,
    code: str,
    raised: type[Exception],
    bare_aws_environment: None,
    proxy: FaultProxy,
    request: pytest.FixtureRequest,
) -> None:
    """A server whose error message echoes the signed request and the credentials (given to
    the session, or served by a container credentials endpoint): neither the error raised
    nor the botocore error chained to it holds the access key id, the secret or the session
    token, in any message, repr or attribute."""
    server = request.getfixturevalue("credentials_server") if source == "container" else None
    db = Session(region=REGION, endpoint_url=proxy.endpoint, **(GIVEN if server is None else {}))
    try:
        if server is None:
            secrets = {
                "key": GIVEN["aws_access_key_id"],
                "secret": GIVEN["aws_secret_access_key"],
                "token": GIVEN["aws_session_token"],
            }
        else:
            with pytest.raises(TableNotFound):  # signed with the served credentials
                await db.get(Thing, "t", 1, table_name="missing_table")
            served = server.served[-1]
            secrets = {
                "key": served["AccessKeyId"],
                "secret": served["SecretAccessKey"],
                "token": served["Token"],
            }
        proxy.fail("GetItem", code=code, message=_echo_everything(secrets))
        with pytest.raises(raised) as caught:
            await db.get(Thing, "t", 1)
    finally:
        await db.close()
    assert secrets["token header"] == secrets["token"]  # the request did carry the token
    assert "The request signature we calculated does not match" in str(caught.value)
    for text in _texts_of(caught.value):
        for name in ("key", "secret", "token"):
            assert secrets[name] not in text, f"the {name} in: {text}"
