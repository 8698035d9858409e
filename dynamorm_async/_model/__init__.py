"""Models: what ``@model`` records about an attrs class (keys, indexes, stored names, managed
attributes), and the type introspection every layer above shares. Imports only ``_errors``."""
