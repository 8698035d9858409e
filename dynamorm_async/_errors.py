"""The exceptions dynamorm_async raises, all under one root.

::

    DynamORMError
     ├── ModelError              a model class is declared wrongly (raised when it is defined)
     ├── ValidationError         bad input, caught before any request is sent
     ├── DeserializationError    a stored item does not fit the model it is loaded into
     └── EngineError             a local DynamoDB engine could not be fetched or started

Every error carries the data that explains it as attributes (the model, the field, the
value's type), and errors raised while handling another exception chain it
(``raise ... from exc``), so the original cause is never lost.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DeserializationError",
    "DynamORMError",
    "EngineError",
    "ModelError",
    "ValidationError",
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

    Raised before any request is sent, so nothing is written. ``model`` is the model class
    (``None`` for a bare value), ``field`` the dotted path of the offending attribute
    (``"address.city"``, ``"lines[2].qty"``), ``value_type`` the Python type that was given.
    """

    def __init__(
        self,
        message: str,
        *,
        model: type | None = None,
        field: str | None = None,
        value_type: type | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.field = field
        self.value_type = value_type


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


class EngineError(DynamORMError):
    """A local DynamoDB engine (for development and tests) could not be fetched or started."""
