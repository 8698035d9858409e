"""The session's operations: items, reads (query, scan, cursors), batches and transactions,
all on ``SessionBase`` (converter, table names, the one request path)."""
