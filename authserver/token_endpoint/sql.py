"""Running the hot path's raw statements: one row back, server-side parameter binding.

Django's psycopg backend binds parameters on the client (it quotes each value into the SQL
text) and turns psycopg's statement preparation off; for a forty-parameter statement that
costs more than PostgreSQL's work on it. On PostgreSQL these few statements run on a
server-binding psycopg cursor of Django's own connection instead: each is prepared once per
connection (parsed and planned once, not on every request) and its parameters travel apart
from the text. Django's execute wrappers still see every statement, and database errors
come out as Django's (``wrap_database_errors``).
"""

from __future__ import annotations

import functools

from django.db import connection

# psycopg prepares nothing while a connection's prepare_threshold is None (Django's
# setting), ``prepare=True`` included. Raised to this only around our own statements, it
# prepares exactly those asked for: Django's queries never reach the count.
ONLY_WHEN_ASKED = 2**31


def _execute_server_bound(sql: str, params, many: bool, context: dict):
    import psycopg

    raw = connection.connection
    threshold = raw.prepare_threshold
    raw.prepare_threshold = ONLY_WHEN_ASKED  # this thread's own connection
    try:
        with psycopg.Cursor(raw) as cursor:
            # Parsed and planned once per connection, then only bound and executed.
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()
    finally:
        raw.prepare_threshold = threshold


def _execute_django(sql: str, params, many: bool, context: dict):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def fetchone(sql: str, params: dict | list) -> tuple | None:
    """Run one statement and return its first row (or None)."""
    if connection.vendor != "postgresql":
        return _execute_django(sql, params, False, {})
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    executor = _execute_server_bound
    for wrapper in reversed(connection.execute_wrappers):
        executor = functools.partial(wrapper, executor)
    with connection.wrap_database_errors:
        return executor(sql, params, False, {"connection": connection, "cursor": None})
