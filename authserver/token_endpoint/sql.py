"""Running the hot path's raw statements: one row back, server-side parameter binding.

Django's psycopg backend binds parameters on the client (it quotes each value into the SQL
text) and turns psycopg's statement preparation off; for a forty-parameter statement that
costs more than PostgreSQL's work on it. On PostgreSQL these few statements run on a
server-binding psycopg cursor of Django's own connection instead: each is prepared once per
connection and its parameters travel apart from the text. Django's execute wrappers still
see every statement, and database errors come out as Django's (``wrap_database_errors``).
"""

from __future__ import annotations

import functools

from django.db import connection


def _execute_server_bound(sql: str, params, many: bool, context: dict):
    import psycopg

    with psycopg.Cursor(connection.connection) as cursor:
        # Prepared on first use and reused on this connection (Django turns psycopg's own
        # automatic preparation off; this asks for it per statement).
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()


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
