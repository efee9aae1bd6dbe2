"""Create (or update) an admin-registered client. Idempotent: keyed by its name.

Prints one JSON object with client_id and, when a secret was generated, client_secret:
the only time the secret is ever shown.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from authserver.errors import InvalidTarget
from authserver.models import Resource, ResourceAccess
from authserver.protocol.resources import canonicalize
from authserver.token_endpoint import grant_types
from clients.models import Client
from enterprise.jose import RefusedAssertion, keyset_from_json


class Command(BaseCommand):
    help = (
        "add_client --name NAME --confidential --grant client_credentials --resource URI "
        "--scope NAME [--scope ...]. A second run updates the client (no new secret unless "
        "--rotate-secret)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--confidential", action="store_true")
        parser.add_argument(
            "--grant", action="append", default=[], choices=sorted(grant_types.TO_DOT)
        )
        parser.add_argument("--resource", action="append", default=[], metavar="URI")
        parser.add_argument("--scope", action="append", default=[], metavar="NAME")
        parser.add_argument("--redirect-uri", action="append", default=[], metavar="URI")
        parser.add_argument("--rotate-secret", action="store_true")
        parser.add_argument("--trusted", action="store_true", help="skip the consent screen")
        # RFC 7523 §2.2: the client authenticates with a JWT signed by its own key; no secret.
        parser.add_argument("--jwks-uri", metavar="URL", help="private_key_jwt with these keys")
        parser.add_argument("--jwks", metavar="FILE", help="private_key_jwt with a JWK Set file")

    def handle(self, *args, **opts) -> None:
        grants = opts["grant"] or [grant_types.CLIENT_CREDENTIALS]
        if grant_types.CLIENT_CREDENTIALS in grants and not opts["confidential"]:
            raise CommandError("client_credentials needs --confidential (RFC 6749 §4.4)")
        jwks = self.jwks(opts)
        if (jwks or opts["jwks_uri"]) and not opts["confidential"]:
            raise CommandError("--jwks/--jwks-uri need --confidential")
        resources = []
        for uri in opts["resource"]:
            try:
                resource = Resource.objects.filter(canonical=canonicalize(uri)).first()
            except InvalidTarget as exc:
                raise CommandError(exc.description) from None
            if resource is None:
                raise CommandError(f"unknown resource {uri!r}; add it with add_resource first")
            defined = set(resource.scopes.values_list("name", flat=True))
            missing = set(opts["scope"]) - defined
            if missing and len(opts["resource"]) == 1:
                raise CommandError(f"{uri} defines no scope {' '.join(sorted(missing))}")
            resources.append((resource, [s for s in opts["scope"] if s in defined]))

        with transaction.atomic():
            client = Client.objects.filter(name=opts["name"]).first()
            created = client is None
            client = client or Client(name=opts["name"])
            client.client_type = (
                Client.CLIENT_CONFIDENTIAL if opts["confidential"] else Client.CLIENT_PUBLIC
            )
            client.grant_types = grants
            client.authorization_grant_type = grant_types.dot_grant_type(grants)
            client.token_endpoint_auth_method = (
                Client.AuthMethod.CLIENT_SECRET_BASIC
                if opts["confidential"]
                else Client.AuthMethod.NONE
            )
            client.jwks, client.jwks_uri = jwks, opts["jwks_uri"] or ""
            if jwks or opts["jwks_uri"]:
                client.token_endpoint_auth_method = Client.AuthMethod.PRIVATE_KEY_JWT
            client.redirect_uris = " ".join(opts["redirect_uri"])
            client.skip_authorization = opts["trusted"]
            client.verified = True  # created by an operator
            secret = None
            wants_secret = client.token_endpoint_auth_method != Client.AuthMethod.PRIVATE_KEY_JWT
            if opts["confidential"] and wants_secret and (created or opts["rotate_secret"]):
                secret = client.set_new_secret()
            client.save()
            for resource, scopes in resources:
                ResourceAccess.objects.update_or_create(
                    client=client, resource=resource, defaults={"scope": " ".join(scopes)}
                )
        out = {"client_id": client.client_id, "created": created}
        if secret:
            out["client_secret"] = secret
        self.stdout.write(json.dumps(out))

    @staticmethod
    def jwks(opts) -> dict | None:
        if opts["jwks"] and opts["jwks_uri"]:
            raise CommandError("give --jwks or --jwks-uri, not both (RFC 7591 §2)")
        if not opts["jwks"]:
            return None
        with open(opts["jwks"], encoding="utf-8") as handle:
            document = json.load(handle)
        try:
            if not keyset_from_json(document)["keys"]:
                raise CommandError("the JWK Set has no usable public key")
        except RefusedAssertion as exc:
            raise CommandError(exc.description) from None
        return document
