"""Case-insensitive user and group lookups (SCIM userName / displayName, RFC 7644 §3.4.2.2)
are served by an index, not a scan of every user (accounts migration 0005)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

pytestmark = pytest.mark.django_db


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # A handful of test rows makes any scan cheap; ask whether an index *can* serve it.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("queryset", "index"),
    [
        (lambda: User.objects.filter(username__iexact="Ada@Example.com"),
         "accounts_index_user_upper_username"),
        (lambda: User.objects.exclude(pk=1).filter(username__iexact="ada"),
         "accounts_index_user_upper_username"),
        (lambda: Group.objects.filter(name__iexact="Engineering"),
         "accounts_index_group_upper_name"),
    ],
)  # fmt: skip
def test_a_scim_patch_carrying_username_does_not_scan_every_user(queryset, index):
    User.objects.create(username="ada@example.com")
    Group.objects.create(name="engineering")
    text = plan(queryset())
    assert index in text, text
    assert "Seq Scan" not in text, text
