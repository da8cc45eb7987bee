"""Alembic migrations of roomchat's schema; ``roomchat db upgrade`` and every start-up run them."""
