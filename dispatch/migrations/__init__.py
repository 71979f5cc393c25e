"""Alembic migrations of the dispatch database, shipped inside the package."""
