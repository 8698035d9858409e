"""botocore's exceptions (and the lean transport's, which carry the same names and answer
shape) -> the ``DynamORMError`` tree, by DynamoDB's error code.

One table maps codes to classes (as aiodynamo does); the botocore exception is always chained
by the caller (``raise translate(exc, ...) from exc``). Messages name the operation, the
table and the key; DynamoDB's own message is kept, credentials never appear: a server may
echo the signed request (its access key id and session token) in its message, so the
credentials are scrubbed from what we build and from the botocore exception we chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._errors import (
    CancellationReason,
    ConditionFailed,
    DynamORMError,
    RequestFailed,
    SessionError,
    TableAlreadyExists,
    TableNotFound,
    Throttled,
    TransactionCanceled,
    ValidationError,
    scrub,
)
from .._lean.errors import CHECKSUM_MISMATCH

__all__ = [
    "CHECKSUM_MISMATCH",
    "CREDENTIAL_ERRORS",
    "THROTTLING_CODES",
    "TRANSPORT_ERRORS",
    "Context",
    "damaged_answer",
    "mro_names",
    "scrub_exception",
    "translate",
]

# DynamoDB's codes for a request refused for want of throughput.
THROTTLING_CODES = (
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
)
_BY_CODE: dict[str, type[RequestFailed]] = {
    "ConditionalCheckFailedException": ConditionFailed,
    "ResourceNotFoundException": TableNotFound,
    "ResourceNotFound": TableNotFound,  # moto's DescribeTimeToLive says it this way
    **dict.fromkeys(THROTTLING_CODES, Throttled),
    "TransactionCanceledException": TransactionCanceled,
}
# botocore exceptions raised when no answer came: worth retrying.
TRANSPORT_ERRORS = (
    "EndpointConnectionError",
    "ConnectionClosedError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "HTTPClientError",
    "ProxyConnectionError",
    "SSLError",
)
# botocore exceptions about credentials: raised when a client opens, or by the signer when
# refreshing them fails (a credentials endpoint that is gone, an expired SSO login).
CREDENTIAL_ERRORS = (
    "NoCredentialsError",
    "PartialCredentialsError",
    "CredentialRetrievalError",
    "UnknownCredentialError",
    "RefreshWithMFAUnsupportedError",
    "MetadataRetrievalError",
    "TokenRetrievalError",
    "SSOTokenLoadError",
    "UnauthorizedSSOTokenError",
)
_SETUP = (*CREDENTIAL_ERRORS, "NoRegionError", "InvalidRegionError", "ProfileNotFound")
# The roots of botocore's exceptions and the lean transport's: nothing else is translated,
# or scrubbed in place.
_BOTOCORE_ROOTS = {"ClientError", "BotoCoreError", "LeanError"}
# An error answer: botocore's, or the lean transport's with the same response shape.
_ANSWERS = {"ClientError", "LeanServiceError"}


class Context:
    """What a request was about, for error messages and error attributes."""

    __slots__ = ("key", "operation", "table")

    def __init__(self, operation: str, table: str | None, key: dict[str, Any] | None) -> None:
        self.operation = operation
        self.table = table
        self.key = key

    def describe(self) -> str:
        where = f" on table {self.table!r}" if self.table else ""
        key = f" for key {self.key!r}" if self.key else ""
        return f"{self.operation}{where}{key}"


def mro_names(exc: BaseException) -> set[str]:
    """The names of ``exc``'s classes: botocore's exceptions are matched by name, so that
    nothing here imports botocore."""
    return {cls.__name__ for cls in type(exc).__mro__}


def damaged_answer(response: dict[str, Any], ctx: Context) -> RequestFailed:
    """The error for an answer that still failed its checksum after botocore's retries."""
    attempts = int(response["ResponseMetadata"].get("RetryAttempts", 0)) + 1
    return RequestFailed(
        f"{ctx.describe()} failed: the answer did not match its x-amz-crc32 checksum on "
        f"{'any of the ' + str(attempts) + ' attempts' if attempts > 1 else 'the only attempt'}"
        ", so it was damaged on the way and is not used (a write may still have been applied)",
        code="ChecksumError",
        operation=ctx.operation,
        table=ctx.table,
        key=ctx.key,
    )


def translate(
    exc: BaseException, ctx: Context, secrets: Iterable[str | None] = ()
) -> DynamORMError | None:
    """The ``DynamORMError`` for a botocore exception; None for anything else (re-raise it).

    ``secrets`` are the credentials the request was signed with: they, and what a signed
    request carries, are scrubbed from the error built and from ``exc`` itself (which the
    caller chains), so neither holds them.
    """
    names = mro_names(exc)
    if not names & _BOTOCORE_ROOTS:
        return None
    secrets = tuple(secrets)
    scrub_exception(exc, secrets)
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and names & _ANSWERS:
        return _from_response(response, ctx)
    if names & set(_SETUP):
        return SessionError(f"{ctx.describe()} could not be sent: {exc}")
    if names & set(TRANSPORT_ERRORS):
        code = next(n for n in (type(exc).__name__, *TRANSPORT_ERRORS) if n in names)
        return RequestFailed(
            f"{ctx.describe()} failed: no answer from DynamoDB ({code}: {exc})",
            code=code,
            operation=ctx.operation,
            table=ctx.table,
            key=ctx.key,
        )
    if "ParamValidationError" in names:
        return ValidationError(
            f"{ctx.describe()} was refused before sending: {exc}",
            operation=ctx.operation,
            table=ctx.table,
        )
    return None


def scrub_exception(exc: BaseException, secrets: Iterable[str | None]) -> None:
    """Remove credentials from a botocore exception in place: its message (``args``), the
    values its message was formatted from (``kwargs``) and the error answer it holds
    (``response``; a stored ``Item`` in it is data, left as it is)."""
    secrets = tuple(secrets)
    exc.args = tuple(scrub(a, secrets) if isinstance(a, str) else a for a in exc.args)
    fields = getattr(exc, "kwargs", None)
    if isinstance(fields, dict):
        for name, value in fields.items():
            if isinstance(value, str):
                fields[name] = scrub(value, secrets)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        _scrub_tree(response, secrets)


def _scrub_tree(node: Any, secrets: tuple[str | None, ...]) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if isinstance(value, str):
            node[key] = scrub(value, secrets)
        elif isinstance(value, (dict, list)) and key != "Item":
            _scrub_tree(value, secrets)


def _from_response(response: dict[str, Any], ctx: Context) -> DynamORMError:
    error = response.get("Error") or {}
    code = str(error.get("Code") or "Unknown")
    message = str(error.get("Message") or "").strip()
    text = f"{ctx.describe()} failed: {code}" + (f": {message}" if message else "")
    context: dict[str, Any] = {
        "code": code,
        "operation": ctx.operation,
        "table": ctx.table,
        "key": ctx.key,
    }
    if code == "ValidationException":
        return ValidationError(text, operation=ctx.operation, table=ctx.table, code=code)
    if code == "ResourceInUseException" and ctx.operation == "CreateTable":
        return TableAlreadyExists(text, **context)
    cls = _BY_CODE.get(code, RequestFailed)
    if cls is ConditionFailed:
        return ConditionFailed(text, item=response.get("Item"), **context)
    if cls is TransactionCanceled:
        reasons = [
            CancellationReason(str(r.get("Code") or "None"), r.get("Message"), r.get("Item"))
            for r in response.get("CancellationReasons") or []
        ]
        return TransactionCanceled(text, reasons=reasons, **context)
    return cls(text, **context)
