"""botocore's exceptions map to the DynamORMError tree by DynamoDB's error code, with the
request's context on the error. Pure: botocore exception objects, no engine."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from dynamorm_async import (
    ConditionFailed,
    DynamORMError,
    RequestFailed,
    SessionError,
    TableAlreadyExists,
    TableNotFound,
    Throttled,
    TransactionCanceled,
    ValidationError,
    VersionConflict,
)
from dynamorm_async._transport.translate import Context, translate
from dynamorm_async._wire.item_size import MAX_ITEM_BYTES, item_size

CTX = Context("PutItem", "orders", {"customer_id": "c1"})


def client_error(code: str, message: str = "it failed", **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, **extra}, "PutItem")


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("ConditionalCheckFailedException", ConditionFailed),
        ("ResourceNotFoundException", TableNotFound),
        ("ResourceNotFound", TableNotFound),
        ("ProvisionedThroughputExceededException", Throttled),
        ("ThrottlingException", Throttled),
        ("RequestLimitExceeded", Throttled),
        ("TransactionCanceledException", TransactionCanceled),
        ("InternalServerError", RequestFailed),
        ("ItemCollectionSizeLimitExceededException", RequestFailed),
    ],
)
def test_error_codes_map_to_classes_with_the_request_context(
    code: str, cls: type[RequestFailed]
) -> None:
    """Each code becomes its class; code, operation, table and key are on the error and in
    the message together with DynamoDB's own message."""
    error = translate(client_error(code), CTX)
    assert type(error) is cls
    assert isinstance(error, RequestFailed)
    assert (error.code, error.operation, error.table, error.key) == (
        code,
        "PutItem",
        "orders",
        {"customer_id": "c1"},
    )
    assert str(error) == (
        f"PutItem on table 'orders' for key {{'customer_id': 'c1'}} failed: {code}: it failed"
    )


def test_condition_failed_carries_the_returned_item() -> None:
    """The item DynamoDB returns with ReturnValuesOnConditionCheckFailure is kept."""
    error = translate(client_error("ConditionalCheckFailedException", Item={"a": {"S": "x"}}), CTX)
    assert isinstance(error, ConditionFailed) and error.item == {"a": {"S": "x"}}


def test_transaction_canceled_carries_one_reason_per_action() -> None:
    """CancellationReasons become CancellationReason objects, in action order."""
    reasons = [
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "no", "Item": {"a": {"S": "x"}}},
    ]
    error = translate(
        client_error("TransactionCanceledException", CancellationReasons=reasons), CTX
    )
    assert isinstance(error, TransactionCanceled)
    assert [r.code for r in error.reasons] == ["None", "ConditionalCheckFailed"]
    assert error.reasons[1].item == {"a": {"S": "x"}} and error.reasons[1].message == "no"


def test_server_side_validation_is_a_validation_error() -> None:
    """DynamoDB's ValidationException is bad input too, with the request's context."""
    error = translate(client_error("ValidationException", "Item size too large"), CTX)
    assert isinstance(error, ValidationError)
    assert (error.code, error.operation, error.table) == (
        "ValidationException",
        "PutItem",
        "orders",
    )


def test_resource_in_use_on_create_table_is_table_already_exists() -> None:
    """CreateTable of a taken name raises TableAlreadyExists; elsewhere the code stays
    generic."""
    create = Context("CreateTable", "orders", None)
    assert type(translate(client_error("ResourceInUseException"), create)) is TableAlreadyExists
    assert type(translate(client_error("ResourceInUseException"), CTX)) is RequestFailed


def test_transport_and_setup_errors() -> None:
    """No answer -> RequestFailed with the transport error's name; no credentials ->
    SessionError; a botocore parameter check -> ValidationError; anything else -> None."""
    down = translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), CTX)
    assert isinstance(down, RequestFailed) and down.code == "EndpointConnectionError"
    slow = translate(ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), CTX)
    assert isinstance(slow, RequestFailed) and slow.code == "ReadTimeoutError"
    assert isinstance(translate(NoCredentialsError(), CTX), SessionError)
    assert isinstance(translate(ParamValidationError(report="bad"), CTX), ValidationError)
    assert translate(KeyError("x"), CTX) is None


def test_every_error_is_a_dynamorm_error_and_version_conflict_is_a_condition_failure() -> None:
    """One root; catching ConditionFailed also catches VersionConflict."""
    assert issubclass(VersionConflict, ConditionFailed)
    for cls in (ConditionFailed, TableNotFound, Throttled, TransactionCanceled, SessionError):
        assert issubclass(cls, DynamORMError)


# -- item size -------------------------------------------------------------------------------


def test_item_size_follows_dynamodbs_rules() -> None:
    """Names and strings by UTF-8 bytes, numbers by significant digits, containers with
    their overhead."""
    assert item_size({"ab": {"S": "héllo"}}) == 2 + 6
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"n": {"N": "-0.000120"}}) == 1 + 2
    assert item_size({"b": {"B": b"\x00" * 10}, "t": {"BOOL": True}, "z": {"NULL": True}}) == 15
    assert item_size({"l": {"L": [{"S": "a"}, {"N": "1"}]}}) == 1 + 3 + (1 + 1) + (1 + 2)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + 1 + 1 + 1
    assert item_size({"s": {"SS": ["a", "bc"]}, "ns": {"NS": ["1", "22"]}}) == 1 + 3 + 2 + 4
    assert MAX_ITEM_BYTES == 409_600
