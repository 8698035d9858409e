"""Expressions: conditions, filters and key conditions (the builder), their compiler against
a model, and update actions. Builds on ``_wire`` for values."""
