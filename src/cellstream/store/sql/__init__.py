"""SQL store backends: the schema (one SQLAlchemy MetaData), its Alembic migrations, and SQLite."""
