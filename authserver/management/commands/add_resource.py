"""Register (or update) an MCP server as a resource. Idempotent: keyed by its URI."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from authserver.errors import InvalidTarget
from authserver.models import Resource, Scope
from authserver.models.external import client_model
from authserver.protocol.resources import canonicalize


def parse_scope_arg(value: str) -> tuple[str, str]:
    name, sep, description = value.partition("=")
    if not sep or not name or not description:
        raise CommandError(f"--scope takes NAME=DESCRIPTION, got {value!r}")
    return name.strip(), description.strip()


class Command(BaseCommand):
    help = (
        "Register an MCP server: add_resource URI --name NAME --scope NAME=DESCRIPTION "
        "[--scope ...] [--default-scope NAME ...]. A second run updates, never duplicates."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("uri", help="exactly the `resource` of the server's RFC 9728 metadata")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", action="append", default=[], metavar="NAME=DESCRIPTION")
        parser.add_argument("--default-scope", action="append", default=[], metavar="NAME")
        parser.add_argument(
            "--tools",
            action="append",
            default=[],
            metavar="SCOPE=tool1,tool2",
            help="MCP tools a scope unlocks (shown on the consent screen)",
        )
        parser.add_argument("--lifetime", type=int, default=None, help="access token seconds")
        parser.add_argument("--disable", action="store_true")
        parser.add_argument(
            "--introspection-client",
            metavar="CLIENT_ID",
            help="the confidential client the server authenticates as at /introspect and at "
            "the AuthZEN decision point (docs/AUTHZEN.md)",
        )

    def handle(self, *args, **opts) -> None:
        scopes = dict(parse_scope_arg(v) for v in opts["scope"])
        tools = {}
        for value in opts["tools"]:
            name, _, listed = value.partition("=")
            tools[name] = [t for t in listed.split(",") if t]
        unknown = (set(opts["default_scope"]) | set(tools)) - set(scopes)
        if unknown:
            raise CommandError(f"not declared with --scope: {' '.join(sorted(unknown))}")
        try:
            canonical = canonicalize(opts["uri"])
        except InvalidTarget as exc:
            raise CommandError(exc.description) from None

        pep = None
        if opts["introspection_client"]:
            pep = client_model().objects.filter(client_id=opts["introspection_client"]).first()
            if pep is None or pep.is_public:
                raise CommandError("--introspection-client must name a confidential client")

        with transaction.atomic():
            resource = Resource.objects.filter(canonical=canonical).first() or Resource()
            created = resource.pk is None
            resource.identifier = opts["uri"]
            resource.name = opts["name"]
            resource.enabled = not opts["disable"]
            if opts["lifetime"] is not None:
                resource.access_token_lifetime = opts["lifetime"]
            if pep is not None:
                resource.introspection_client = pep
            try:
                resource.full_clean(exclude=["canonical"])
            except ValidationError as exc:
                raise CommandError(
                    "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
                ) from None
            resource.save()
            for name, description in scopes.items():
                scope = Scope.objects.filter(resource=resource, name=name).first() or Scope(
                    resource=resource, name=name
                )
                scope.description = description
                scope.is_default = name in opts["default_scope"]
                if name in tools:
                    scope.tools = tools[name]
                try:
                    scope.full_clean()
                except ValidationError as exc:
                    raise CommandError(f"scope {name!r}: {exc.messages[0]}") from None
                scope.save()
        self.stdout.write(
            json.dumps(
                {
                    "resource": resource.identifier,
                    "created": created,
                    "scopes": sorted(resource.scopes.values_list("name", flat=True)),
                }
            )
        )
