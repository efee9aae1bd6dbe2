"""Issue an RFC 7591 §3 initial access token for REGISTRATION_MODE=initial_access_token.

Prints the token once; only its HMAC is stored. Revoke it in the admin.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from clients import policy


class Command(BaseCommand):
    help = (
        "issue_initial_access_token --label TEXT [--days N] [--max-uses N]: prints a bearer "
        "token that allows POST /register (RFC 7591 §3)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--label", required=True, help="who or what it is for")
        parser.add_argument("--days", type=int, default=7, help="lifetime in days (default 7)")
        parser.add_argument("--max-uses", type=int, default=None, help="default: unlimited")

    def handle(self, *args, **opts) -> None:
        days = max(1, opts["days"])
        max_uses = opts["max_uses"]
        if max_uses is not None and max_uses < 1:
            max_uses = 1
        token, plaintext = policy.issue_initial_access_token(
            label=opts["label"],
            expires_at=timezone.now() + timedelta(days=days),
            max_uses=max_uses,
        )
        out = {
            "initial_access_token": plaintext,
            "label": token.label,
            "expires_at": token.expires_at.isoformat(),
            "max_uses": token.max_uses,
        }
        self.stdout.write(json.dumps(out))
