"""SCIM tokens from the command line: create one for a provider (printed once), list them
without secrets, revoke one. docs/IDENTITY.md, "SCIM provisioning"."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.scim import tokens
from accounts.scim.models import ScimToken

ACTOR = "manage.py scim_token"


class Command(BaseCommand):
    help = (
        "scim_token create NAME --provider ID (prints the token once); scim_token list "
        "[--json]; scim_token revoke TOKEN_ID."
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="a new token, printed once")
        create.add_argument("name", help="who uses it, e.g. 'Okta provisioning'")
        create.add_argument(
            "--provider",
            required=True,
            help="the sign-in provider id (e.g. okta) whose users the token provisions",
        )
        listing = sub.add_parser("list", help="every token, without secrets")
        listing.add_argument("--json", action="store_true")
        revoke = sub.add_parser("revoke", help="revoke a token by its id")
        revoke.add_argument("token_id", type=int)

    def handle(self, *args, action: str, **opts) -> None:
        try:
            if action == "create":
                token, plaintext = tokens.issue_token(
                    opts["name"], provider=opts["provider"], actor=ACTOR
                )
                self.stderr.write(
                    f"SCIM token {token.pk} for {token.provider}: shown once, store it now"
                )
                self.stdout.write(plaintext)
            elif action == "revoke":
                token = tokens.revoke_token(opts["token_id"], actor=ACTOR, now=timezone.now())
                self.stdout.write(f"revoked SCIM token {token.pk} ({token.name})")
            else:
                self._list(as_json=opts["json"])
        except tokens.TokenRefused as exc:
            raise CommandError(str(exc)) from None

    def _list(self, *, as_json: bool) -> None:
        rows = [
            {
                "id": t.pk,
                "name": t.name,
                "provider": t.provider,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in ScimToken.objects.order_by("pk")
        ]
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
            used = row["last_used_at"] or "never used"
            self.stdout.write(
                f"{row['id']}\t{row['provider'] or '(unbound)'}\t{row['name']}\t{state}\t{used}"
            )
