"""A response parser for DynamoDB that hands items over as they came off the wire.

botocore parses every response by walking its output shape: each attribute of each item goes
through the ``AttributeValue`` structure handler, which looks up all ten possible type tags.
That walk costs tens of microseconds per item, far more than turning the item into a model.
The JSON that DynamoDB sends already *is* the AttributeValue format botocore returns, except
for binary values (base64 text on the wire, ``bytes`` after parsing). So this parser keeps
botocore's JSON parser for everything (errors, metadata, timestamps, every other shape) and
only short-cuts the maps and lists of ``AttributeValue``: they are returned as parsed by
``json.loads``, with ``B`` and ``BS`` values decoded exactly as botocore decodes them. The
result is the same value botocore would return, built without the walk.

It is installed through botocore's own extension point, the session's
``response_parser_factory`` component, on the botocore sessions a ``Session`` creates itself.
Everything else botocore does around parsing stays in place: error parsing and modeled error
fields, the ``x-amz-crc32`` check of its retry handler, retries.

One thing is added. botocore's standard retry mode retries an answer whose body does not match
its ``x-amz-crc32`` header, but when every attempt was damaged it returns the last damaged
answer as if it were good. This parser marks such an answer (``CHECKSUM_MISMATCH`` in its
``ResponseMetadata``), and the session refuses a marked answer with an error.
"""

from __future__ import annotations

from typing import Any
from zlib import crc32

from aiobotocore.parsers import AioJSONParser, AioResponseParserFactory

from .._lean.binary_walk import convert_item, convert_value
from .translate import CHECKSUM_MISMATCH

__all__ = ["ItemResponseParserFactory", "install"]

_ATTRIBUTE_VALUE = "AttributeValue"


class ItemJSONParser(AioJSONParser):  # type: ignore[misc]
    """botocore's JSON parser, with maps and lists of AttributeValue passed through."""

    # Whether the answer may hold a binary value. A JSON key B or BS always appears as the
    # bytes "B" or "BS" in the body (DynamoDB does not escape letters), so a body without
    # them holds no binary value, and its items are returned exactly as json.loads made them.
    _binary = True

    async def parse(self, response: dict[str, Any], shape: Any) -> Any:
        body = response.get("body")
        self._binary = not isinstance(body, bytes) or b'"B"' in body or b'"BS"' in body
        parsed = await super().parse(response, shape)
        metadata = parsed.get("ResponseMetadata") if isinstance(parsed, dict) else None
        if metadata is not None:
            expected = metadata.get("HTTPHeaders", {}).get("x-amz-crc32")
            if expected is not None and not _matches(response["body"], expected):
                metadata[CHECKSUM_MISMATCH] = True
        return parsed

    def _handle_map(self, shape: Any, value: Any) -> Any:
        if shape.value.name == _ATTRIBUTE_VALUE:
            return self._item(value)
        return super()._handle_map(shape, value)

    def _handle_list(self, shape: Any, node: Any) -> Any:
        member = shape.member
        if member.type_name == "map" and member.value.name == _ATTRIBUTE_VALUE:
            if not self._binary:
                return node  # json.loads gives None for a null element, as botocore does
            item = self._item
            # botocore keeps a null list element as None; so do we.
            return [None if each is None else item(each) for each in node]
        if member.name == _ATTRIBUTE_VALUE:
            return [None if each is None else self._value(each) for each in node]
        return super()._handle_list(shape, node)

    def _handle_structure(self, shape: Any, value: Any) -> Any:
        if shape.name == _ATTRIBUTE_VALUE and isinstance(value, dict):
            return self._value(value)
        return super()._handle_structure(shape, value)

    def _item(self, item: dict[str, Any]) -> dict[str, Any]:
        return convert_item(item, self._blob_parser) if self._binary else item

    def _value(self, value: dict[str, Any]) -> dict[str, Any]:
        return convert_value(value, self._blob_parser) if self._binary else value


def _matches(body: bytes, expected: str) -> bool:
    try:
        return crc32(body) & 0xFFFFFFFF == int(expected)
    except ValueError:  # a header that is not a number matches nothing
        return False


class ItemResponseParserFactory(AioResponseParserFactory):  # type: ignore[misc]
    """aiobotocore's parser factory, with ``ItemJSONParser`` for the JSON protocol."""

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "json":
            return ItemJSONParser(**self._defaults)
        return super().create_parser(protocol_name)


def install(aio_session: Any) -> None:
    """Make clients created from ``aio_session`` parse DynamoDB items without the walk."""
    aio_session.register_component("response_parser_factory", ItemResponseParserFactory())
