"""Connection (vending) policies from the command line: list, set (create or update),
delete. docs/CONNECTIONS.md, "Adding providers"."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from connections import policies
from connections.models import ConnectionPolicy

ACTOR = "manage.py connection_policy"


class Command(BaseCommand):
    help = (
        "connection_policy list | set --client ID --resource URI --provider SLUG --scopes "
        "'a b' [--disabled] | delete --client ID --resource URI --provider SLUG"
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every policy, as JSON lines")
        for name in ("set", "delete"):
            each = sub.add_parser(name)
            each.add_argument("--client", required=True, help="the MCP server's client_id")
            each.add_argument("--resource", required=True, help="the MCP server's resource URI")
            each.add_argument("--provider", required=True, help="the upstream provider's slug")
            if name == "set":
                each.add_argument("--scopes", required=True, help="upstream scopes, at most")
                each.add_argument("--disabled", action="store_true", help="kept but not used")

    def handle(self, *args, action: str, **opts) -> None:
        if action == "list":
            for policy in ConnectionPolicy.objects.select_related(
                "client", "resource", "provider"
            ).order_by("pk"):
                self.stdout.write(json.dumps(_row(policy)))
            return
        try:
            key = policies.find_parts(opts["client"], opts["resource"], opts["provider"])
            if action == "set":
                outcome, described = policies.save_policy(
                    key, scopes=opts["scopes"], enabled=not opts["disabled"], actor=ACTOR
                )
                self.stdout.write(json.dumps({"policy": outcome, **described}))
            else:
                policies.delete_policy(key, actor=ACTOR)
                self.stdout.write(json.dumps({"policy": "deleted"}))
        except policies.PolicyRefused as exc:
            raise CommandError(str(exc)) from None


def _row(policy: ConnectionPolicy) -> dict:
    return {
        "client": policy.client.client_id,
        "resource": policy.resource.identifier,
        "provider": policy.provider.slug,
        "scopes": policy.scopes,
        "enabled": policy.enabled,
    }
