"""Alembic migrations of the common store (run them through storage.migrate)."""
