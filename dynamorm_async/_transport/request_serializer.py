"""A request serializer for DynamoDB that sends items as the converter made them.

botocore serializes every request by walking its input shape: each attribute of each item
goes through the ``AttributeValue`` structure handler, one call per member, before
``json.dumps``. The converter already produces AttributeValue dicts in the wire format, so
this serializer (a subclass of botocore's JSON serializer) keeps botocore's walk for
everything else and hands maps and lists of AttributeValue to ``json.dumps`` as they are,
base64-encoding binary values exactly as botocore does. The request body is byte for byte
the one botocore would send (tested), built without the walk.

botocore has no session component for request serializers, so ``install`` replaces the
serializer of a client the session created, and only when it is botocore's plain
``JSONSerializer`` (with parameter validation on, botocore wraps it, and it is left alone).
"""

from __future__ import annotations

from typing import Any

from botocore.serialize import JSONSerializer

from .._lean.binary_walk import convert_item, convert_value

__all__ = ["ItemJSONSerializer", "install"]

_ATTRIBUTE_VALUE = "AttributeValue"


class ItemJSONSerializer(JSONSerializer):  # type: ignore[misc]
    """botocore's JSON serializer, with maps and lists of AttributeValue passed through."""

    def _serialize_type_map(self, serialized: Any, value: Any, shape: Any, key: Any) -> None:
        if shape.value.name == _ATTRIBUTE_VALUE:
            serialized[key] = self._item(value)
        else:
            super()._serialize_type_map(serialized, value, shape, key)

    def _serialize_type_list(self, serialized: Any, value: Any, shape: Any, key: Any) -> None:
        member = shape.member
        if member.type_name == "map" and member.value.name == _ATTRIBUTE_VALUE:
            item = self._item
            serialized[key] = [item(each) for each in value]
        elif member.name == _ATTRIBUTE_VALUE:
            convert = self._value
            serialized[key] = [convert(each) for each in value]
        else:
            super()._serialize_type_list(serialized, value, shape, key)

    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any, key: Any) -> None:
        if key is not None and shape.name == _ATTRIBUTE_VALUE:
            serialized[key] = self._value(value)
        else:
            super()._serialize_type_structure(serialized, value, shape, key)

    def _item(self, item: dict[str, Any]) -> dict[str, Any]:
        return convert_item(item, self._get_base64)

    def _value(self, value: dict[str, Any]) -> dict[str, Any]:
        return convert_value(value, self._get_base64)


def install(client: Any) -> None:
    """Give ``client`` the item serializer, if it serializes with botocore's plain one."""
    current = getattr(client, "_serializer", None)
    if type(current) is JSONSerializer:
        replacement = ItemJSONSerializer.__new__(ItemJSONSerializer)
        replacement.__dict__.update(current.__dict__)  # keeps its settings
        client._serializer = replacement
