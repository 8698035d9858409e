"""Which transport a session sends with, and the lean transport's settings.

``auto`` takes the lean transport exactly where it does what aiobotocore would do with the
same configuration, and aiobotocore everywhere else:

- no ``profile=``, ``botocore_session=``, ``aioboto3_session=`` or ``config=``;
- a region from ``region=``, ``AWS_REGION`` or ``AWS_DEFAULT_REGION``;
- credentials from the arguments, the environment (``AWS_ACCESS_KEY_ID``...) or, with
  neither, a container endpoint (``AWS_CONTAINER_CREDENTIALS_*``) and no web identity;
- no shared config or credentials file with anything in it (``~/.aws/config``,
  ``~/.aws/credentials`` or their ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE``): it
  may set anything, from the endpoint to a credential process;
- no FIPS or dual-stack endpoint asked for, and no proxy for the endpoint's scheme.

``transport="lean"`` insists: what the lean transport cannot do is an error that names it.
The settings are read when the session opens its first client, not when it is made.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from .._errors import SessionError, ValidationError
from .._lean.credentials import (
    Credentials,
    CredentialSource,
    container_loader,
    from_environment,
    missing,
)
from .._lean.errors import CredentialRetrievalError

__all__ = ["TRANSPORTS", "LeanChoice", "choose", "lean_config", "resolve_transport"]

TRANSPORTS = ("auto", "lean", "aiobotocore")
ENVIRONMENT_VARIABLE = "DYNAMORM_TRANSPORT"
# botocore's region names: letters, digits and dashes, starting with a letter or digit.
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# Regions whose endpoint is dynamodb.<region>.amazonaws.com(.cn).
_STANDARD_REGION = re.compile(r"^(?:[a-z]{2}|us-gov|cn)-[a-z]+-\d+$")
# The parts of a botocore Config the lean transport follows.
_LEAN_CONFIG = frozenset(
    {"connect_timeout", "read_timeout", "retries", "max_pool_connections", "tcp_keepalive"}
)


def resolve_transport(
    transport: str | None,
    *,
    botocore_session: Any,
    aioboto3_session: Any,
    profile: str | None,
    config: Any,
) -> str:
    """The transport asked for: the argument, else ``DYNAMORM_TRANSPORT``, else ``auto``.

    ``transport="lean"`` with botocore's configuration (a session, a profile, config
    settings it cannot follow) is a ``ValidationError``; ``DYNAMORM_TRANSPORT=lean`` is a
    default for the sessions that can take it, and the others take aiobotocore.
    """
    explicit = transport is not None
    if transport is None:
        transport = os.environ.get(ENVIRONMENT_VARIABLE) or "auto"
    if transport not in TRANSPORTS:
        source = "transport" if explicit else ENVIRONMENT_VARIABLE
        raise ValidationError(
            f"{source} must be one of {', '.join(map(repr, TRANSPORTS))}, got {transport!r}"
        )
    if transport != "lean":
        return transport
    given = [
        name
        for name, value in (
            ("botocore_session", botocore_session),
            ("aioboto3_session", aioboto3_session),
            ("profile", profile),
        )
        if value is not None
    ]
    try:
        if given:
            raise ValidationError(
                f"transport='lean' does not use {', '.join(given)}: that is botocore's "
                "configuration (use transport='aiobotocore' or 'auto')"
            )
        if config is not None:
            lean_config(config)  # refuses the settings the lean transport cannot follow
    except ValidationError:
        if explicit:
            raise
        return "aiobotocore"
    return transport


def lean_config(config: Any) -> dict[str, Any]:
    """The timeouts, attempts and pool size a botocore ``Config`` sets for the lean
    transport; ``ValidationError`` naming the settings it cannot follow."""
    given: dict[str, Any] = dict(getattr(config, "_user_provided_options", None) or {})
    unsupported = sorted(set(given) - _LEAN_CONFIG - {"parameter_validation"})
    if given.get("parameter_validation"):
        unsupported.append("parameter_validation=True")
    retries = dict(given.get("retries") or {})
    if retries.get("mode", "standard") != "standard":
        unsupported.append(f"retries mode {retries['mode']!r}")
    extra = sorted(set(retries) - {"mode", "total_max_attempts", "max_attempts"})
    unsupported += [f"retries[{k!r}]" for k in extra]
    if unsupported:
        raise ValidationError(
            "the lean transport follows connect_timeout, read_timeout, retries (standard "
            "mode, total_max_attempts or max_attempts) and max_pool_connections of a config; "
            f"it cannot follow {', '.join(unsupported)}: use transport='aiobotocore' (or "
            "'auto') for them"
        )
    out: dict[str, Any] = {}
    for name, key in (
        ("connect_timeout", "connect_timeout"),
        ("read_timeout", "read_timeout"),
        ("max_pool_connections", "pool_size"),
    ):
        if name in given:
            out[key] = given[name]
    if "total_max_attempts" in retries:
        out["max_attempts"] = int(retries["total_max_attempts"])
    elif "max_attempts" in retries:
        out["max_attempts"] = int(retries["max_attempts"]) + 1
    return out


class LeanChoice:
    """What the lean transport opens with (or, with ``reason`` set, why it cannot)."""

    __slots__ = ("ca_bundle", "credentials", "endpoint_url", "reason", "region")

    def __init__(
        self,
        *,
        region: str = "",
        endpoint_url: str = "",
        credentials: CredentialSource | None = None,
        ca_bundle: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.credentials = credentials
        self.ca_bundle = ca_bundle
        self.reason = reason


def choose(
    *,
    region: str | None,
    endpoint_url: str | None,
    credentials: Mapping[str, str],
    profile: str | None,
    uses_botocore: str | None,
    environ: Mapping[str, str],
    forced: bool,
) -> LeanChoice:
    """The lean transport's settings, or the reason it cannot serve this configuration
    (``forced``: raised as ``SessionError`` when it is the environment's doing).

    ``uses_botocore`` names an argument only aiobotocore can use (``profile``, a session).
    """
    if uses_botocore:
        return LeanChoice(reason=uses_botocore)
    region = region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if not region:
        return _refuse(
            forced,
            "no AWS region: pass Session(region=...), set AWS_REGION or AWS_DEFAULT_REGION",
        )
    if not _REGION.match(region):
        raise SessionError(
            f"{region!r} is not an AWS region name (such as 'eu-west-1'): check "
            "Session(region=...) and AWS_REGION / AWS_DEFAULT_REGION"
        )
    if not forced:
        for name, default in (
            ("AWS_CONFIG_FILE", "~/.aws/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        ):
            path = os.path.expanduser(environ.get(name) or default)
            if _holds_something(path):
                return LeanChoice(reason=f"the shared AWS file {path} may configure the client")
    for name in ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"):
        if environ.get(name, "").lower() == "true":
            return _refuse(forced, f"{name} asks for an endpoint the lean transport does not use")
    source = _credentials(credentials, environ, profile)
    if isinstance(source, str):
        if not forced:
            return LeanChoice(reason=source)
        # As botocore does: the client opens, and each request fails naming the reason.
        source = CredentialSource(None, missing(source))
    endpoint = (
        endpoint_url
        or environ.get("AWS_ENDPOINT_URL_DYNAMODB")
        or environ.get("AWS_ENDPOINT_URL")
        or None
    )
    if endpoint is None:
        if not _STANDARD_REGION.match(region):
            return _refuse(forced, f"the endpoint of region {region!r} is botocore's to resolve")
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        endpoint = f"https://dynamodb.{region}.{suffix}"
    proxy = _proxy_for(endpoint, environ)
    if proxy:
        return _refuse(forced, f"{proxy} sends requests through a proxy")
    ca_bundle = environ.get("AWS_CA_BUNDLE") or None
    return LeanChoice(region=region, endpoint_url=endpoint, credentials=source, ca_bundle=ca_bundle)


def _holds_something(path: str) -> bool:
    """Whether a shared AWS file can configure anything: it exists and is not empty
    (``/dev/null``, as tests and CI often point these variables at, configures nothing)."""
    try:
        return os.stat(path).st_size > 0
    except OSError:
        return False


def _refuse(forced: bool, reason: str) -> LeanChoice:
    if forced:
        raise SessionError(f"the lean transport cannot open: {reason}")
    return LeanChoice(reason=reason)


def _credentials(
    given: Mapping[str, str], environ: Mapping[str, str], profile: str | None
) -> CredentialSource | str:
    """The lean transport's credentials, or why it has none (a reason, as text)."""
    if given:
        return CredentialSource(
            Credentials(
                given["aws_access_key_id"],
                given["aws_secret_access_key"],
                given.get("aws_session_token"),
            )
        )
    found = from_environment(environ)
    if found is not None:
        return CredentialSource(found)
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") or environ.get("AWS_PROFILE") or profile:
        return "credentials come from a profile or a web identity: botocore resolves those"
    try:
        loader = container_loader(environ)
    except CredentialRetrievalError as exc:
        return str(exc).removeprefix("cannot load AWS credentials: ")
    if loader is None:
        return "none given, none in the environment and no container credentials endpoint"
    return CredentialSource(None, loader)


def _proxy_for(endpoint: str, environ: Mapping[str, str]) -> str | None:
    """The proxy variable that applies to ``endpoint``, if any (``NO_PROXY`` honoured)."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    names = (f"{parts.scheme.upper()}_PROXY", f"{parts.scheme}_proxy", "ALL_PROXY", "all_proxy")
    name = next((n for n in names if environ.get(n)), None)
    if name is None:
        return None
    host = (parts.hostname or "").lower()
    exempt = (environ.get("NO_PROXY") or environ.get("no_proxy") or "").lower()
    for entry in (e.strip() for e in exempt.split(",")):
        if not entry:
            continue
        if entry == "*" or host == entry.lstrip(".") or host.endswith("." + entry.lstrip(".")):
            return None
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                return None
        except ValueError:
            pass
    return name
