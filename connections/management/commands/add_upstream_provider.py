"""Add (or update) an upstream provider, from a preset (github, google) or explicit endpoints.

The client secret is read from the UPSTREAM_CLIENT_SECRET environment variable or stdin,
never from the command line (which other users can see in the process list).
"""

from __future__ import annotations

import json
import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connections import upstream, vault
from connections.models import UpstreamProvider
from connections.presets import PRESETS


class Command(BaseCommand):
    help = "Add or update an upstream OAuth provider users can connect."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the name MCP servers pass as audience, e.g. github")
        parser.add_argument("--preset", choices=sorted(PRESETS))
        parser.add_argument("--name")
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--discovery-url")
        parser.add_argument("--authorization-endpoint")
        parser.add_argument("--token-endpoint")
        parser.add_argument("--revocation-endpoint")
        parser.add_argument("--userinfo-endpoint")
        parser.add_argument("--scopes")
        parser.add_argument("--rotates-refresh-tokens", action="store_true", default=None)

    def handle(self, *args, **opts) -> None:
        fields = dict(PRESETS.get(opts["preset"] or "", {}))
        if opts["discovery_url"]:
            fields["discovery_url"] = opts["discovery_url"]
            fields.update(upstream.discover(opts["discovery_url"]))
        for name in (
            "name",
            "authorization_endpoint",
            "token_endpoint",
            "revocation_endpoint",
            "userinfo_endpoint",
            "scopes",
            "rotates_refresh_tokens",
        ):
            if opts[name] is not None:
                fields[name] = opts[name]
        fields.setdefault("name", opts["slug"])
        if not fields.get("authorization_endpoint") or not fields.get("token_endpoint"):
            raise CommandError("give --preset, --discovery-url or both endpoints")
        secret = os.environ.get("UPSTREAM_CLIENT_SECRET") or sys.stdin.readline().strip()
        if not secret:
            raise CommandError("no client secret (UPSTREAM_CLIENT_SECRET or stdin)")
        with transaction.atomic():
            provider, created = UpstreamProvider.objects.select_for_update().get_or_create(
                slug=opts["slug"], defaults={"client_id": opts["client_id"], **fields}
            )
            for name, value in {"client_id": opts["client_id"], **fields}.items():
                setattr(provider, name, value)
            vault.seal(provider, "client_secret_encrypted", secret)
            provider.save()
        self.stdout.write(json.dumps({"slug": provider.slug, "created": created}))
