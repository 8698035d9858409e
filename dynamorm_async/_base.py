"""The base of a session's operation groups (items, reads, batches, transactions): the
converter, table names and transport that ``Session`` provides, and shared helpers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ._codecs import AttributeValue
from ._compile import ExpressionContext
from ._convert import Converter
from ._errors import DeserializationError, ValidationError
from ._hooks import dump_hook
from ._model import ModelInfo, model_info
from ._translate import Context

__all__ = ["SessionBase"]


class SessionBase:
    """What every group of operations builds on. ``Session`` provides the converter, the
    table names and the transport (``_send``); the helpers here load and dump as the
    operations need."""

    converter: Converter

    def table_name(self, model: type, table_name: str | None = None) -> str:
        raise NotImplementedError

    async def _send(self, operation: str, params: dict[str, Any], ctx: Context) -> Any:
        raise NotImplementedError

    def _model_of(self, obj: Any, operation: str) -> ModelInfo:
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
        return model_info(type(obj))

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
