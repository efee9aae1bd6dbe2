"""Bind SCIM tokens and identities from before the provider binding to one provider."""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError

from accounts import principals
from accounts.scim.models import ScimToken

_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}", re.ASCII)  # as UPSTREAM_PROVIDERS ids


class Command(BaseCommand):
    help = (
        "bind_scim_provider PROVIDER_ID --token ID [--token ID ...]: the given unbound SCIM "
        "tokens and every unbound SCIM identity now belong to that sign-in provider, whose "
        "first sign-ins then link to those users. Only when that provider provisioned them all."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("provider", help="the sign-in provider id, e.g. okta")
        parser.add_argument("--token", type=int, action="append", default=[], required=True)

    def handle(self, *args, provider: str, token: list[int], **options) -> None:
        if not _ID.fullmatch(provider):
            raise CommandError("the provider id is a short lower-case slug, e.g. okta")
        unbound = set(
            ScimToken.objects.filter(pk__in=token, provider="").values_list("pk", flat=True)
        )
        if unbound != set(token):
            raise CommandError(f"not unbound SCIM tokens: {sorted(set(token) - unbound)}")
        tokens, identities = principals.bind_scim_provider(
            provider, token_ids=token, actor="manage.py bind_scim_provider"
        )
        self.stdout.write(f"bound {tokens} token(s) and {identities} identity(ies) to {provider}")
