"""The exceptions dynamorm_async raises, all under one root.

::

    DynamORMError
     ├── ModelError              a model class is declared wrongly (raised when it is defined)
     ├── ValidationError         bad input: caught before any request, or refused by DynamoDB
     ├── DeserializationError    a stored item does not fit the model it is loaded into
     ├── SessionError            the session cannot send requests (no region, no credentials)
     │    └── SessionClosed      the session was closed
     ├── StateError              a transaction or batch writer used in a state that forbids
     │                           it (after commit, outside ``async with``); also a RuntimeError
     ├── RequestFailed           DynamoDB answered with an error, or could not be reached
     │    ├── ConditionFailed    a condition expression was false (carries the stored item)
     │    │    └── VersionConflict   optimistic locking: the stored version differs
     │    ├── TableNotFound      the table does not exist
     │    ├── TableAlreadyExists CreateTable for a name that is taken
     │    ├── Throttled          throughput exceeded, after the client's retries were spent
     │    └── TransactionCanceled   a transaction was cancelled (carries one reason per action)
     ├── BatchIncomplete         a batch gave up with items left (carries every one of them)
     ├── MigrationError          a data copy stopped on an error (carries its report)
     ├── SchemaMismatch          an existing table's keys or indexes differ from the model
     ├── TableProtected          delete() of a table with deletion protection on
     ├── TableWaitTimeout        a table did not become ACTIVE (or go away) in time; also a
     │                           TimeoutError
     └── EngineError             a local DynamoDB engine could not be fetched or started

Every error carries the data that explains it as attributes (the model, the field, the table,
the key, the stored item, DynamoDB's error code), and errors raised while handling another
exception chain it (``raise ... from exc``), so the original cause is never lost. Messages
name the operation, the table and the key, never credentials.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "BatchIncomplete",
    "CancellationReason",
    "ConditionFailed",
    "DeserializationError",
    "DynamORMError",
    "EngineError",
    "MigrationError",
    "ModelError",
    "RequestFailed",
    "SchemaMismatch",
    "SessionClosed",
    "SessionError",
    "StateError",
    "TableAlreadyExists",
    "TableNotFound",
    "TableProtected",
    "TableWaitTimeout",
    "Throttled",
    "TransactionCanceled",
    "ValidationError",
    "VersionConflict",
    "scrub",
]


class DynamORMError(Exception):
    """Root of every error raised by dynamorm_async.

    Catch this to handle anything the library raises::

        try:
            item = to_item(order)
        except DynamORMError as exc:
            log.warning("rejected: %s", exc)
    """


class ModelError(DynamORMError):
    """A model class is declared wrongly; raised by ``@model`` when the class is defined.

    ``model`` is the class (or its name when the class could not be built) and ``field`` the
    offending field name, when one is to blame.
    """

    def __init__(self, message: str, *, model: Any = None, field: str | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.field = field


class ValidationError(DynamORMError):
    """Input that DynamoDB would reject or that cannot be stored faithfully.

    Raised before any request is sent (so nothing is written) when the library sees the
    problem itself. ``model`` is the model class (``None`` for a bare value), ``field`` the
    dotted path of the offending attribute (``"address.city"``, ``"lines[2].qty"``),
    ``value_type`` the Python type that was given.
    Input that only DynamoDB can judge (its ``ValidationException``) raises this too, with
    ``code``, ``operation`` and ``table`` set and the botocore error chained.
    """

    def __init__(
        self,
        message: str,
        *,
        model: type | None = None,
        field: str | None = None,
        value_type: type | None = None,
        operation: str | None = None,
        table: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.field = field
        self.value_type = value_type
        self.operation = operation
        self.table = table
        self.code = code


class DeserializationError(DynamORMError):
    """A stored item cannot be loaded into the model it was read for.

    ``model`` is the target class, ``field`` the attribute that did not fit (when known) and
    ``item`` the raw item as DynamoDB returned it.
    """

    def __init__(
        self,
        message: str,
        *,
        model: type | None = None,
        field: str | None = None,
        item: Any = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.field = field
        self.item = item


class SessionError(DynamORMError):
    """The session cannot send requests: no region configured, no credentials found, or
    credentials that are set only in part. The botocore error is chained."""


class SessionClosed(SessionError):
    """The session was closed; open a new ``Session`` to send more requests."""


class StateError(DynamORMError, RuntimeError):
    """A ``Transaction`` or ``BatchWriter`` was used in a state that does not allow it: an
    action added to a finished transaction, a batch writer used outside its ``async with``
    or entered twice. ``state`` is the state it was in. Also a ``RuntimeError``."""

    def __init__(self, message: str, *, state: str) -> None:
        super().__init__(message)
        self.state = state


class RequestFailed(DynamORMError):
    """DynamoDB answered a request with an error, or could not be reached.

    ``code`` is DynamoDB's error code (``"InternalServerError"``, ...) or, when no answer came,
    the name of the transport error (``"EndpointConnectionError"``, ``"ReadTimeoutError"``).
    ``operation`` is the API call (``"PutItem"``), ``table`` the physical table name and
    ``key`` the item's key as a dict of field names to values, when the request had one.
    The botocore exception is chained as ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        operation: str | None = None,
        table: str | None = None,
        key: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation
        self.table = table
        self.key = key


class ConditionFailed(RequestFailed):
    """A condition expression was false, so nothing was written.

    ``item`` is the stored item as the model (or as a raw item when it does not load into
    the model) when DynamoDB returned it, and ``None`` when no item with that key exists::

        try:
            await db.put(order, if_not_exists=True)
        except ConditionFailed as exc:
            print("already stored:", exc.item)
    """

    def __init__(self, message: str, *, item: Any = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.item = item


class VersionConflict(ConditionFailed):
    """Optimistic locking lost a race: the stored version is not the one in memory.

    ``expected`` is the version the object in memory had and ``actual`` the stored one
    (``None`` when the item is gone, or when it was read with a projection that left the
    version out). The object in memory is left unchanged: reload it and try again.
    """

    def __init__(self, message: str, *, expected: int, actual: int | None, **context: Any) -> None:
        super().__init__(message, **context)
        self.expected = expected
        self.actual = actual


class TableNotFound(RequestFailed):
    """The table does not exist (DynamoDB's ``ResourceNotFoundException``)."""


class TableAlreadyExists(RequestFailed):
    """A table of that name exists already (``ResourceInUseException`` on CreateTable)."""


class Throttled(RequestFailed):
    """DynamoDB throttled the request and the client's retries are spent
    (``ProvisionedThroughputExceededException``, ``ThrottlingException``,
    ``RequestLimitExceeded``)."""


class CancellationReason:
    """Why one action of a cancelled transaction failed: ``code`` (``"None"`` for actions
    that were fine, ``"ConditionalCheckFailed"``, ``"TransactionConflict"``, ...), DynamoDB's
    ``message``, the stored ``item`` when it was returned (as the model when it loads),
    ``action``, which action it was (``"put Order {'customer_id': 'c1', ...}"``) when known,
    and ``version_conflict``, True when the action's version check is what failed.
    """

    __slots__ = ("action", "code", "item", "message", "version_conflict")

    def __init__(
        self,
        code: str,
        message: str | None = None,
        item: Any = None,
        action: str | None = None,
        version_conflict: bool = False,
    ) -> None:
        self.code = code
        self.message = message
        self.item = item
        self.action = action
        self.version_conflict = version_conflict

    def __repr__(self) -> str:
        return (
            f"CancellationReason(code={self.code!r}, message={self.message!r}, "
            f"action={self.action!r})"
        )


class TransactionCanceled(RequestFailed):
    """A transaction was cancelled; nothing in it was written.

    ``reasons`` has one ``CancellationReason`` per action, in the order of the actions.
    """

    def __init__(self, message: str, *, reasons: list[CancellationReason], **context: Any) -> None:
        super().__init__(message, **context)
        self.reasons = reasons


class BatchIncomplete(DynamORMError):
    """A batch operation spent its retries with work left undone; nothing is dropped
    silently.

    ``unprocessed`` holds every item not done, as given: for ``batch_write`` the objects not
    written and the deletes not made, for ``batch_get`` the keys not read. ``done`` counts
    what succeeded; the last error (if any) is chained as ``__cause__``::

        try:
            await db.batch_write(put=orders)
        except BatchIncomplete as exc:
            await retry_later(exc.unprocessed)
    """

    def __init__(self, message: str, *, operation: str, unprocessed: list[Any], done: int) -> None:
        super().__init__(message)
        self.operation = operation
        self.unprocessed = unprocessed
        self.done = done


class MigrationError(DynamORMError):
    """A data copy stopped on an error (``on_error="raise"``), after the writes in flight.

    ``report`` is the ``MigrationReport`` so far (what was written, and a ``checkpoint`` to
    resume from once the cause is fixed), ``key`` the key (wire form) of the item whose
    transform or write failed, when one did; the original exception is ``__cause__``.
    """

    def __init__(self, message: str, *, report: Any, key: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.report = report
        self.key = key


class SchemaMismatch(DynamORMError):
    """An existing table's key schema or index keys differ from the model.

    ``differences`` lists each one in words; nothing about the table was changed::

        try:
            await db.tables.ensure(Order)
        except SchemaMismatch as exc:
            print(exc.table, exc.differences)
    """

    def __init__(self, message: str, *, table: str, model: type, differences: list[str]) -> None:
        super().__init__(message)
        self.table = table
        self.model = model
        self.differences = differences


class TableProtected(DynamORMError):
    """``delete()`` refused: the table has deletion protection on. Turn it off on purpose
    (in the console, CDK/Terraform or UpdateTable) first."""

    def __init__(self, message: str, *, table: str) -> None:
        super().__init__(message)
        self.table = table


class TableWaitTimeout(DynamORMError, TimeoutError):
    """A table did not reach the awaited state in time. ``last_status`` is the last status
    seen (``"ACTIVE, index by_status CREATING"``, ``"missing"``), ``waited`` the seconds spent.
    Also a ``TimeoutError``, so ``except TimeoutError`` catches it."""

    def __init__(self, message: str, *, table: str, last_status: str, waited: float) -> None:
        super().__init__(message)
        self.table = table
        self.last_status = last_status
        self.waited = waited


class EngineError(DynamORMError):
    """A local DynamoDB engine (for development and tests) could not be fetched or started."""


def whole_number(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    """``value`` when it is an int (not a bool) from ``low`` to ``high``; otherwise the
    ``ValidationError`` every count, size and limit check raises, in one shape::

        whole_number("page_size", 0)   # page_size must be a whole number >= 1, got 0
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f">= {low}" if high is None else f"from {low} to {high}"
        raise ValidationError(f"{name} must be a whole number {bound}, got {value!r}")
    return value


# What a signed request carries that a server may echo back: the access key id in the
# Authorization header's credential scope, the session token header, and key ids themselves
# (AKIA... long-term, ASIA... temporary).
_SIGNED_REQUEST_SECRETS = re.compile(
    r"(?<=Credential=)[^/,\s\"']+"
    r"|(?<=X-Amz-Security-Token)([\"']?\s*[:=]\s*[\"']?)[^\s,;&\"']+"
    r"|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    re.IGNORECASE,
)
# Shorter values cannot be real credentials (dummy ones for local engines are words such as
# "testing"); scrubbing them would garble every message that holds the word.
_SHORTEST_SECRET = 4
_REDACTED = "***"


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with credentials replaced by ``***``: each of ``secrets`` (access key ids,
    secret keys, session tokens) wherever it appears, and the access key id and session token
    of a signed request that a server echoed::

        scrub("bad token tok123456 in Credential=AKID9/20260101/...", ["tok123456"])
        # 'bad token *** in Credential=***/20260101/...'
    """
    for secret in sorted(
        {s for s in secrets if s and len(s) >= _SHORTEST_SECRET}, key=len, reverse=True
    ):
        text = text.replace(secret, _REDACTED)
    return _SIGNED_REQUEST_SECRETS.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    return (match.group(1) or "") + _REDACTED
