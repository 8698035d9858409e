"""The lean transport's exceptions.

They carry the names of botocore's (``ClientError``'s ``response``, ``ConnectTimeoutError``,
``ReadTimeoutError``, ...), so ``_transport.translate`` turns both transports' errors into the
same ``DynamORMError`` by the same table, without importing botocore.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CHECKSUM_MISMATCH",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "CredentialRetrievalError",
    "EndpointConnectionError",
    "LeanError",
    "LeanServiceError",
    "NoCredentialsError",
    "ReadTimeoutError",
    "TransportFailure",
]


class LeanError(Exception):
    """The root of the lean transport's exceptions."""


class LeanServiceError(LeanError):
    """DynamoDB answered with an error; ``response`` is shaped as botocore's ``ClientError``
    response: ``Error`` (``Code``, ``Message``), ``ResponseMetadata`` and the error's own
    fields (``Item``, ``CancellationReasons``)."""

    def __init__(self, response: dict[str, Any], operation: str) -> None:
        error = response["Error"]
        super().__init__(
            f"An error occurred ({error['Code']}) when calling the {operation} operation: "
            f"{error['Message']}"
        )
        self.response = response
        self.operation_name = operation


class TransportFailure(LeanError):
    """No answer came: the connection could not be made, broke, or timed out."""


class EndpointConnectionError(TransportFailure):
    """The connection to the endpoint could not be made."""


class ConnectTimeoutError(TransportFailure):
    """The connection was not made within the connect timeout."""


class ReadTimeoutError(TransportFailure):
    """No whole answer came within the read timeout."""


class ConnectionClosedError(TransportFailure):
    """The connection ended before a whole answer came."""


class NoCredentialsError(LeanError):
    """No credentials were found where the lean transport looks for them."""


class CredentialRetrievalError(LeanError):
    """The credentials endpoint could not be reached or gave no usable credentials."""


# Set in ``ResponseMetadata`` of an answer whose body did not match its ``x-amz-crc32``
# header on every attempt (both transports retry those, and hand back the last one).
CHECKSUM_MISMATCH = "DynamORMChecksumMismatch"
