"""Which groups may reach an MCP server, or one of its scopes (docs/IDENTITY.md, "Groups and
central policy"): show, set, add, remove, clear. Groups are named, never created here; a
bad name, scope or server is refused with what exists, and nothing changes."""

from __future__ import annotations

import json

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from authserver.errors import InvalidTarget
from authserver.models import Resource
from authserver.protocol.resources import canonicalize
from authserver.resources import grouppolicy

ACTOR = "manage.py mcp_server_groups"


class Command(BaseCommand):
    help = (
        "mcp_server_groups URI [--scope NAME] [--set G ... | --add G ... | --remove G ... | "
        "--clear]: limit an MCP server (or one scope of it) to members of these groups; "
        "no change flag shows the current groups. Empty means everyone."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("uri", help="the MCP server's resource URI, as registered")
        parser.add_argument("--scope", help="one scope of it instead of the whole server")
        change = parser.add_mutually_exclusive_group()
        change.add_argument("--set", nargs="+", metavar="GROUP", help="exactly these groups")
        change.add_argument("--add", nargs="+", metavar="GROUP")
        change.add_argument("--remove", nargs="+", metavar="GROUP")
        change.add_argument("--clear", action="store_true", help="everyone again")

    def handle(self, *args, **opts) -> None:
        target, label = self._target(opts["uri"], opts["scope"])
        current = set(target.allowed_groups.all())
        named = self._groups(opts["set"] or opts["add"] or opts["remove"] or [])
        if opts["set"] is not None:
            add, remove = named - current, current - named
        elif opts["add"] is not None:
            add, remove = named - current, set()
        elif opts["remove"] is not None:
            not_there = sorted(g.name for g in named - current)
            if not_there:
                raise CommandError(f"not allowed on {label} now: {', '.join(not_there)}")
            add, remove = set(), named
        elif opts["clear"]:
            add, remove = set(), current
        else:
            add = remove = set()
        groups = sorted(g.name for g in current)
        if add or remove:
            groups = grouppolicy.change_allowed_groups(target, add=add, remove=remove, actor=ACTOR)
        self.stdout.write(json.dumps({"target": label, "allowed_groups": groups}))

    def _target(self, uri: str, scope_name: str | None):
        try:
            canonical = canonicalize(uri)
        except InvalidTarget as exc:
            raise CommandError(exc.description) from None
        resource = Resource.objects.filter(canonical=canonical).first()
        if resource is None:
            raise CommandError(f"no MCP server registered as {uri} (see add_resource)")
        if scope_name is None:
            return resource, resource.identifier
        scope = resource.scopes.filter(name=scope_name).first()
        if scope is None:
            known = " ".join(sorted(resource.scopes.values_list("name", flat=True))) or "none"
            raise CommandError(
                f"{resource.identifier} has no scope {scope_name!r} (it has: {known})"
            )
        return scope, f"{resource.identifier} scope {scope_name}"

    def _groups(self, names: list[str]) -> set[Group]:
        found = {g.name: g for g in Group.objects.filter(name__in=names)}
        missing = sorted(set(names) - set(found))
        if missing:
            raise CommandError(f"no such group: {', '.join(missing)} (groups are not created here)")
        return set(found.values())
