"""The wire converter: attrs objects <-> DynamoDB AttributeValue maps (codecs, cattrs hooks,
the generated per-class functions, the item size check). Builds on ``_model.models``."""
