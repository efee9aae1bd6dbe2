"""The user a decision is about, with their groups, read fresh in one statement.

Users and group memberships change without renewing the cache generation (a sign-in writes
``last_login``), so the decision point reads them at every decision. On PostgreSQL the same
statement reads the cache generation: when it equals the one the request decided on, every
cached fact (clients, servers, scopes, group and tool rules, Cedar policies) was current at
that moment, and no second round trip is needed to confirm it (docs/ARCHITECTURE.md, "One
cache rule"). Elsewhere (SQLite) nothing is cached and the user is read with the ORM.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet

from authserver.models import CacheGeneration
from authserver.token_endpoint import sql as statements

NO_ROW = object()  # the generation could not be read with the user


def load_user(pk: int, *, cached: bool) -> tuple[object | None, object]:
    """The user with primary key ``pk`` (its groups prefetched, so the group and tool rules
    read no more) or None, and the cache generation read with it (NO_ROW when not read)."""
    model = get_user_model()
    if not cached or connection.vendor != "postgresql":
        return model.objects.filter(pk=pk).prefetch_related("groups").first(), NO_ROW
    sql, attnames = _statement()
    # Prepared once per connection and bound on the server, as the token endpoint's own
    # statements (authserver.token_endpoint.sql): parsed and planned once, not per decision.
    row = statements.fetchone(sql, [pk])
    if row is None:  # no generation row: nothing confirmed, the caller checks as before
        return model.objects.filter(pk=pk).prefetch_related("groups").first(), NO_ROW
    generation, group_ids, group_names, *values = row
    if values[attnames.index(model._meta.pk.attname)] is None:
        return None, int(generation)
    user = model.from_db(connection.alias, attnames, values)
    _prefetch_groups(user, zip(group_ids, group_names, strict=True))
    return user, int(generation)


def _prefetch_groups(user, rows) -> None:
    """Fill the user's ``groups`` as ``prefetch_related("groups")`` would."""
    field = type(user)._meta.get_field("groups")
    group_model = field.related_model
    groups = [group_model.from_db(connection.alias, ["id", "name"], row) for row in rows]
    queryset = QuerySet(model=group_model)  # what user.groups.all() returns from now on
    queryset._result_cache = groups
    queryset._prefetch_done = True
    user._prefetched_objects_cache = {field.name: queryset}


@cache
def _statement() -> tuple[str, list[str]]:
    """SELECT generation, group ids, group names, the user's columns: one row always (the
    generation's), the user's columns NULL when there is no such user. Table and column
    names come from the models; the only parameter is the primary key."""
    model = get_user_model()
    meta = model._meta
    field = meta.get_field("groups")
    through = field.remote_field.through._meta.db_table
    groups = field.related_model._meta.db_table
    mine = f"{through}.{field.m2m_column_name()} = u.{meta.pk.column}"
    join = f"{groups} g JOIN {through} ON {through}.{field.m2m_reverse_name()} = g.id"
    fields = meta.concrete_fields
    columns = ", ".join(f"u.{f.column}" for f in fields)
    sql = (
        f"SELECT gen.value, ARRAY(SELECT g.id FROM {join} WHERE {mine} ORDER BY g.id), "  # noqa: S608
        f"ARRAY(SELECT g.name FROM {join} WHERE {mine} ORDER BY g.id), {columns} "
        f"FROM {CacheGeneration._meta.db_table} gen "
        f"LEFT JOIN {meta.db_table} u ON u.{meta.pk.column} = %s WHERE gen.id = 1"
    )
    return sql, [f.attname for f in fields]
