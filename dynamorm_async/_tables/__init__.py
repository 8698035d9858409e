"""The table manager (``db.tables``): table life cycle, descriptions and data migrations
(copy, auto_migrate, reports and checkpoints). Works on ``SessionBase``; loaded on first use."""
