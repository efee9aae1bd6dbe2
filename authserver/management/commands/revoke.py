"""Revoke tokens by user, client, resource or token id (jti). Prints a JSON summary."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from authserver.models import AccessToken, Resource
from authserver.protocol.resources import canonicalize
from authserver.revocation import service as revocation
from clients.models import Client


class Command(BaseCommand):
    help = (
        "Revoke tokens: --user USERNAME | --client CLIENT_ID | --resource URI | --jti JTI. "
        "(Signing keys: rotate_keys --compromised KID.)"
    )

    def add_arguments(self, parser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--user")
        group.add_argument("--client")
        group.add_argument("--resource")
        group.add_argument("--jti")

    def handle(self, *args, **opts) -> None:
        now = timezone.now()
        actor = "operator"
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"no user {opts['user']!r}")
            revoked = revocation.revoke_user(user, now=now, actor=actor)
        elif opts["client"]:
            client = Client.objects.filter(client_id=opts["client"]).first()
            if client is None:
                raise CommandError(f"no client {opts['client']!r}")
            revoked = revocation.revoke_client(client, now=now, actor=actor)
        elif opts["resource"]:
            resource = Resource.objects.filter(canonical=canonicalize(opts["resource"])).first()
            if resource is None:
                raise CommandError(f"no resource {opts['resource']!r}")
            revoked = revocation.revoke_resource(resource, now=now, actor=actor)
        else:
            token = AccessToken.objects.filter(jti=opts["jti"]).first()
            if token is None:
                raise CommandError(f"no token with jti {opts['jti']!r}")
            revoked = revocation.revoke_token_row(token, now=now, actor=actor)
        self.stdout.write(json.dumps({"tokens_revoked": revoked}))
