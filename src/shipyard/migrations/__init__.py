"""The one Alembic tree of the metadata database (``versions/``) and the code that applies it."""
