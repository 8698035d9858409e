"""Observability: request events, consumed capacity, the tracer interface and units of work.
Builds on ``_transport``; the session's request path (``_ops.base``) reports to it."""
