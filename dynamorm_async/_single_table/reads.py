"""Key conditions of entity and collection queries, and the type filter that keeps every
read of an entity to that entity's items."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ValidationError
from .._expr.compile import ExpressionContext
from .._expr.conditions import Condition
from .._model.models import IndexInfo
from .table import Collection, EntityInfo
from .templates import Template

__all__ = ["collection_key_condition", "entity_key_condition", "type_filter"]


def type_filter(ctx: ExpressionContext, entity: Any) -> str:
    """``<type attribute> = <the entity's type>``."""
    return f"{ctx.name(entity.type_attribute)} = {ctx.add_value(entity.type_value)}"


def entity_key_condition(
    ctx: ExpressionContext,
    entity: EntityInfo,
    values: Any,
    condition: Condition | None,
    index: IndexInfo | None,
) -> tuple[str, Condition | None]:
    """The KeyConditionExpression of a query of ``entity`` (on the table, or ``index``) for
    the key fields ``values`` and the range ``condition``, and the condition on the field's
    own attribute that makes it exact (None when the key condition is exact already)."""
    cls = entity.cls.__qualname__
    hash_template, range_template = entity.templates(None if index is None else index.name)
    if not isinstance(values, Mapping):
        raise ValidationError(
            f"{cls} is an entity: query it with a mapping of its hash key fields "
            f"({', '.join(hash_template.fields) or 'none'}), got {values!r:.60}",
            model=entity.cls,
        )
    hash_values = {n: values[n] for n in hash_template.fields if n in values}
    missing = [n for n in hash_template.fields if n not in values]
    if missing:
        raise ValidationError(
            f"{cls}: the query needs {', '.join(map(repr, missing))} for the hash key "
            f"{hash_template.text!r}",
            model=entity.cls,
            field=missing[0],
        )
    rest = {n: v for n, v in values.items() if n not in hash_template.fields}
    known = range_template.fields if range_template is not None else ()
    unknown = [n for n in rest if n not in known]
    if unknown:
        raise ValidationError(
            f"{cls}: {unknown[0]!r} is in neither key template of the query "
            f"({hash_template.text!r}"
            + (f", {range_template.text!r})" if range_template is not None else ")"),
            model=entity.cls,
            field=str(unknown[0]),
        )
    hash_name, range_name = _key_names(entity, index)
    condition_text = f"{ctx.name(hash_name)} = {_text(ctx, hash_template, hash_values, cls)}"
    if range_template is None or range_name is None:
        if condition is not None:
            raise ValidationError(f"{cls}: the key has no range part, so range= cannot be used")
        return condition_text, None
    bounds = range_template.range_bounds(rest, condition)
    sort = ctx.name(range_name)
    if bounds.kind == "eq":
        condition_text += f" AND {sort} = {ctx.add_value({'S': bounds.low})}"
    elif bounds.kind == "begins":
        condition_text += f" AND begins_with({sort}, {ctx.add_value({'S': bounds.low})})"
    elif bounds.kind == "between":
        low, high = bounds.low, bounds.high
        if low is not None and high is not None:
            condition_text += (
                f" AND {sort} BETWEEN {ctx.add_value({'S': low})} AND {ctx.add_value({'S': high})}"
            )
        elif low is not None:
            condition_text += f" AND {sort} >= {ctx.add_value({'S': low})}"
        elif high is not None:
            condition_text += f" AND {sort} <= {ctx.add_value({'S': high})}"
    return condition_text, bounds.exact


def collection_key_condition(
    ctx: ExpressionContext, collection: Collection[Any], values: Any, index: IndexInfo | None
) -> str:
    """The KeyConditionExpression of a collection's query: the partition of the shared hash
    key template's ``values``."""
    template = collection.hash_template(None if index is None else index.name)
    if not isinstance(values, Mapping) or set(values) != set(template.fields):
        raise ValidationError(
            f"a query of {collection!r} takes a mapping of the fields of its shared hash key "
            f"{template.text!r} ({', '.join(template.fields) or 'none'}), got {values!r:.80}"
        )
    hash_name, _ = _key_names(collection.infos[0], index)
    return f"{ctx.name(hash_name)} = {_text(ctx, template, values, repr(collection))}"


def _key_names(entity: EntityInfo, index: IndexInfo | None) -> tuple[str, str | None]:
    info = entity.table.info
    if index is None:
        return info.hash_key.stored_name, info.range_key.stored_name if info.range_key else None
    return (
        index.hash_key.stored_name,
        index.range_key.stored_name if index.range_key is not None else None,
    )


def _text(ctx: ExpressionContext, template: Template, values: Mapping[str, Any], who: str) -> str:
    text = template.render(values)
    if text is None:
        raise ValidationError(f"{who}: a key field of {template.text!r} is None")
    return ctx.add_value({"S": text})
