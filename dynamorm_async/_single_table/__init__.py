"""Single-table design: several entity types in one table, key templates, collections."""
