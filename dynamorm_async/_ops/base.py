"""The base of a session: its converter, its table names and the one path every request
takes (``_send``), with the helpers the operation groups (items, reads, batches,
transactions) and the table manager share."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .._errors import DeserializationError, ValidationError
from .._expr.compile import ExpressionContext
from .._model.models import ModelInfo, is_table_name, model_info
from .._observe.observers import Observers
from .._throughput.budget import Budget, budget_for
from .._transport.client import Clients
from .._transport.translate import CHECKSUM_MISMATCH, Context, damaged_answer, translate
from .._wire.codecs import AttributeValue
from .._wire.convert import Converter
from .._wire.hooks import dump_hook

__all__ = ["SessionBase"]

_log = logging.getLogger("dynamorm_async")

_METHODS = {
    "PutItem": "put_item",
    "GetItem": "get_item",
    "DeleteItem": "delete_item",
    "UpdateItem": "update_item",
    "Query": "query",
    "Scan": "scan",
    "BatchGetItem": "batch_get_item",
    "BatchWriteItem": "batch_write_item",
    "TransactGetItems": "transact_get_items",
    "TransactWriteItems": "transact_write_items",
    "CreateTable": "create_table",
    "DescribeTable": "describe_table",
    "DeleteTable": "delete_table",
    "UpdateTable": "update_table",
    "UpdateTimeToLive": "update_time_to_live",
    "DescribeTimeToLive": "describe_time_to_live",
    "ListTables": "list_tables",
}


class SessionBase:
    """What every group of operations, and the table manager, builds on: the converter, the
    table names and the transport (``_send``). ``Session`` adds the public face (argument
    checks, life cycle, ``db.tables``)."""

    def __init__(
        self,
        clients: Clients,
        converter: Converter,
        table_prefix: str,
        observers: Observers | None = None,
        budget: Budget | None = None,
    ) -> None:
        self._clients = clients
        self.converter = converter
        self.table_prefix = table_prefix
        self._observers = observers or Observers()
        self._names: dict[type, tuple[str, str]] = {}  # model -> (prefix, its table name)
        self._infos: dict[type, ModelInfo] = {}  # per item of a batch: one lookup
        self._budget = budget  # the session's, for its scans and batch writes

    def table_name(self, model: type, table_name: str | None = None) -> str:
        """The physical table name of ``model``: ``table_prefix`` + the model's table, or
        ``table_name`` when given (taken as is)::

            Session(table_prefix="dev_").table_name(Order)   # 'dev_orders'
        """
        if table_name is None and isinstance(model, type):
            cached = self._names.get(model)
            if cached is not None and cached[0] == self.table_prefix:
                return cached[1]  # checked once per model and prefix, not per item
        info = model_info(model)
        name = self.table_prefix + info.table if table_name is None else table_name
        if not is_table_name(name):
            raise ValidationError(
                f"{info.cls.__qualname__}: {name!r} is not a valid table name (3 to 255 "
                "letters, digits, '_', '-' or '.')",
                model=info.cls,
            )
        if table_name is None and isinstance(model, type):
            self._names[model] = (self.table_prefix, name)
        return name

    async def _send(self, operation: str, params: dict[str, Any], ctx: Context) -> Any:
        client = await self._clients.get()
        observers = self._observers
        budget = budget_for(operation, self._budget)
        if budget is not None:  # observers are active: a budget needs the figures
            reservation = await budget.reserve(operation, params)
            observers.hook(client)
            return await observers.send(
                operation,
                params,
                ctx,
                lambda p: self._call(client, operation, p, ctx),
                reservation.settle,
            )
        if observers.active or _log.isEnabledFor(logging.DEBUG):
            observers.hook(client)
            return await observers.send(
                operation, params, ctx, lambda p: self._call(client, operation, p, ctx)
            )
        return await self._call(client, operation, params, ctx)

    async def _call(self, client: Any, operation: str, params: dict[str, Any], ctx: Context) -> Any:
        try:
            response = await getattr(client, _METHODS[operation])(**params)
        except Exception as exc:
            # A server may echo the signed request: keep the credentials out of the error.
            error = translate(exc, ctx, self._clients.secrets())
            if error is None:
                raise
            raise error from exc
        if CHECKSUM_MISMATCH in response.get("ResponseMetadata", ()):
            raise damaged_answer(response, ctx)
        return response

    def _model_of(self, obj: Any, operation: str) -> ModelInfo:
        known = self._infos.get(type(obj))
        if known is not None:  # a model class seen before: its checks passed then
            return known
        if isinstance(obj, type):
            raise ValidationError(
                f"{operation} takes a model instance, got the class {obj.__qualname__}",
                value_type=obj,
            )
        if not attrs.has(type(obj)):
            raise ValidationError(
                f"{operation} takes a model instance, got {type(obj).__qualname__}",
                value_type=type(obj),
            )
        info = self._infos[type(obj)] = model_info(type(obj))
        return info

    def _dump_datetime(self, value: datetime) -> AttributeValue:
        hook = dump_hook(self.converter, datetime)
        av: AttributeValue = hook(value)
        return av

    def _load(self, info: ModelInfo, item: Mapping[str, AttributeValue] | None) -> Any:
        return None if item is None else self.converter.load_item(info.cls, item)

    def _load_or_raw(self, info: ModelInfo, item: Any) -> Any:
        """The stored item returned with a failed condition, as the model when it loads."""
        if item is None:
            return None
        try:
            return self.converter.load_item(info.cls, item)
        except DeserializationError:
            return item

    def _partial(self, info: ModelInfo, item: Mapping[str, AttributeValue]) -> dict[str, Any]:
        """A projected item as ``{field name: value}``, each loaded by its declared type;
        a nested attribute that was projected in part is loaded as plain values."""
        out: dict[str, Any] = {}
        for f in info.fields:
            av = item.get(f.stored_name)
            if av is None:
                continue
            try:
                out[f.name] = self.converter.load_value(av, f.type)
            except DeserializationError:
                out[f.name] = self.converter.load_value(av, Any)
        return out

    @staticmethod
    def _expression_params(
        params: dict[str, Any], ctx: ExpressionContext, conditions: list[str]
    ) -> None:
        if conditions:
            params["ConditionExpression"] = " AND ".join(
                c if len(conditions) == 1 else f"({c})" for c in conditions
            )
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if ctx.names:
            params["ExpressionAttributeNames"] = ctx.names
        if ctx.values:
            params["ExpressionAttributeValues"] = ctx.values
