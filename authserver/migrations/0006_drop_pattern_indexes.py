"""Drop the ``varchar_pattern_ops`` twins Django adds on PostgreSQL beside every indexed
CharField. They only serve ``LIKE 'x%'`` queries, which nothing here runs on these columns
(tokens and codes are found by exact checksum, jti or code; admin search uses exact or
case-insensitive matches), yet every token issued paid for inserting into them. Keep on the hot
path only the state revocation, introspection and the audit trail need
(docs/TOKEN-ENDPOINT.md, "What it writes").
"""

from django.db import migrations

PATTERN_INDEXES = {
    "authserver_accesstoken": ("jti", "token_checksum"),
    "authserver_auditevent": ("client_id", "kind", "user_id"),
    "authserver_grant": ("code",),
    "authserver_dpopproofjti": ("jti",),
}


def drop(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # only PostgreSQL gets these indexes
    with connection.cursor() as cursor:
        for table, columns in PATTERN_INDEXES.items():
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
                " AND indexname LIKE %s",
                [table, "%\\_like"],
            )
            for name, definition in cursor.fetchall():
                if any(f"({column} varchar_pattern_ops)" in definition for column in columns):
                    cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("authserver", "0005_dpop_token_exchange_list_issuer")]
    operations = [migrations.RunPython(drop, migrations.RunPython.noop, elidable=False)]
