"""What every issued token pays for in the database: only the state revocation,
introspection and the audit trail need (docs/TOKEN-ENDPOINT.md, "What it writes")."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db
HOT_TABLES = (
    "authserver_accesstoken",
    "authserver_auditevent",
    "authserver_grant",
    "authserver_dpopproofjti",
)


def indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


@pytest.mark.parametrize("table", HOT_TABLES)
def test_hot_tables_carry_no_like_pattern_indexes(table):
    found = indexes(table)
    assert found, f"{table} has no indexes at all?"
    assert not [d for d in found.values() if "varchar_pattern_ops" in d]


def test_lookups_the_token_endpoint_and_revocation_need_keep_their_indexes():
    defs = " ".join(indexes("authserver_accesstoken").values())
    for column in ("(jti)", "(token_checksum)", "(expires)", "(token_family)", "(kid)"):
        assert column in defs, column
