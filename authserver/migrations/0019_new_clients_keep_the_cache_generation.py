"""A new client no longer renews the token endpoint's cache generation (migration 0007).

Nothing can be cached about a client before it exists: unknown client ids are never
remembered (hotcache.Snapshot.get), and every other entry is keyed by an existing row's id.
So an INSERT into clients_client changes no cached decision; its UPDATEs and DELETEs still
renew the generation. Renewing it on every registration serialised registrations on the
generation row until each one committed, and emptied every worker's cache each time a
client registered (claude.ai and ChatGPT users register all day).

PostgreSQL only (SQLite caches nothing); replaces the trigger function, no table is touched.
"""

from importlib import import_module

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION authserver_bump_cache_generation() RETURNS trigger AS $$
BEGIN
    -- A client that did not exist cannot be in any process's cache (see the migration).
    IF TG_OP = 'INSERT' AND TG_TABLE_NAME = 'clients_client' THEN
        RETURN NULL;
    END IF;
    -- A client's last_used_at (and the updated stamp that comes with it) is bookkeeping,
    -- not something a cached decision depends on.
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'clients_client'
       AND (to_jsonb(OLD) - 'last_used_at' - 'updated')
           = (to_jsonb(NEW) - 'last_used_at' - 'updated') THEN
        RETURN NULL;
    END IF;
    -- A fresh number from a sequence, never reused: a rolled-back change leaves the row at
    -- its committed value, and the next committed change cannot land on a value some
    -- process cached under inside that rolled-back transaction.
    UPDATE authserver_cachegeneration
       SET value = nextval('authserver_cache_generation_seq') WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def new_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def old_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        earlier = import_module("authserver.migrations.0007_token_endpoint")
        schema_editor.execute(earlier.FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("authserver", "0018_index_live_tokens_by_client")]

    operations = [migrations.RunPython(new_function, old_function, elidable=False)]
