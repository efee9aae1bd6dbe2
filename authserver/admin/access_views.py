"""Admin pages of the access review (authserver.admin.access_review), thin: parse, call one
query or one cut-off service, render.

* ``review/access/?user=<username or id>``: what a person's agents reach; CSV and JSON export.
* ``review/access/cut-off/`` (POST, CSRF): one row (agent at an MCP server) or everything of a
  person, through the revocation services, which audit and republish the revocation list.
* ``review/tool/?resource=<id>&tool=<name>``: who can call a tool; CSV and JSON export.
"""

from __future__ import annotations

import csv
import io
import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from accounts.models import Consent
from authserver import audit
from authserver.admin import access_review
from authserver.authorization import consent as consents
from authserver.models import AccessToken, RefreshToken, Resource
from authserver.revocation import service as revocation
from clients.models import Client
from connections import services as connections
from connections.models import Connection

VIEW = "authserver.view_accesstoken"
CUT_OFF = "authserver.change_accesstoken"
DISCONNECT = "connections.change_connection"
MAX_MATCHES = 20
EXPORT_COLUMNS = (
    "username",
    "client_name",
    "client_id",
    "resource_name",
    "resource",
    "scopes",
    "tools",
    "consented",
    "live_grants",
    "live_tokens",
    "connections",
    "last_used",
)


def _require(request: HttpRequest, *perms: str) -> None:
    if not all(request.user.has_perm(p) for p in perms):
        raise PermissionDenied


def _export(rows: list[access_review.AgentAccess], fmt: str, name: str) -> HttpResponse | None:
    if fmt == "json":
        body = json.dumps([r.as_dict() for r in rows], indent=2)
        response = HttpResponse(body, content_type="application/json")
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for r in rows:
            data = r.as_dict()
            writer.writerow(
                " ".join(v) if isinstance(v, list) else ("" if v is None else v)
                for v in (data[c] for c in EXPORT_COLUMNS)
            )
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        return None
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


def _find_people(query: str):
    User = get_user_model()
    if not query:
        return User.objects.none()
    match = Q(username__iexact=query) | Q(email__iexact=query)
    if query.isascii() and query.isdigit():
        match |= Q(pk=int(query))
    exact = User.objects.filter(match)
    if exact.count() == 1:
        return exact
    near = Q(username__icontains=query) | Q(email__icontains=query)
    return User.objects.filter(match | near).order_by("username")[:MAX_MATCHES]


def person_review(site, request: HttpRequest) -> HttpResponse:
    _require(request, VIEW)
    query = request.GET.get("user", "").strip()[:150]
    people = list(_find_people(query))
    person = people[0] if len(people) == 1 else None
    rows = access_review.person(person, now=timezone.now()) if person else []
    if person is not None:
        exported = _export(rows, request.GET.get("format", ""), f"access-{person.pk}")
        if exported is not None:
            return exported
    context = {
        **site.each_context(request),
        "title": "Access review",
        "subtitle": person.get_username() if person else None,
        "query": person.get_username() if person else query,
        "people": people if person is None else [],
        "person": person,
        "rows": rows,
        "can_cut_off": request.user.has_perm(CUT_OFF),
        "can_disconnect": request.user.has_perm(DISCONNECT),
        "export_query": urlencode({"user": person.pk}) if person else "",
    }
    return TemplateResponse(request, "admin/access_review.html", context)


def tool_review(site, request: HttpRequest) -> HttpResponse:
    _require(request, VIEW)
    resource, tool, rows = None, request.GET.get("tool", "").strip()[:200], []
    resource_id = request.GET.get("resource", "")
    if resource_id.isascii() and resource_id.isdigit():
        resource = Resource.objects.filter(pk=int(resource_id)).first()
    if resource is not None and tool:
        rows = access_review.tool_reach(resource, tool, now=timezone.now())
        exported = _export(rows, request.GET.get("format", ""), f"tool-{resource.pk}-{tool}")
        if exported is not None:
            return exported
    context = {
        **site.each_context(request),
        "title": "Who can call a tool",
        # Names only: the tool suggestions are the chosen MCP server's (ten thousand servers
        # with fifty tools each made every page half a million <option>s).
        "resources": Resource.objects.only("pk", "name").order_by("name"),
        "resource": resource,
        "tool": tool,
        "rows": rows,
        "export_query": urlencode({"resource": resource.pk, "tool": tool}) if resource else "",
    }
    return TemplateResponse(request, "admin/access_tool.html", context)


def cut_off(site, request: HttpRequest) -> HttpResponse:
    """POST only. ``user`` alone: everything; with ``client`` and ``resource``: one row."""
    _require(request, VIEW, CUT_OFF)
    person = get_object_or_404(get_user_model(), pk=_int(request.POST.get("user")))
    actor, now = f"admin:{request.user.pk}", timezone.now()
    back = f"{reverse('admin:access_review')}?{urlencode({'user': person.pk})}"
    if request.POST.get("client"):
        client = get_object_or_404(Client, pk=_int(request.POST.get("client")))
        identifier = request.POST.get("resource", "")[:512]
        revoked = _cut_off_row(person, client, identifier, now=now, actor=actor)
        messages.success(
            request,
            f"{client.name} can no longer reach {identifier or 'anything'} for "
            f"{person.get_username()}: {revoked} token(s) revoked.",
        )
        return redirect(back)
    _require(request, DISCONNECT)
    with transaction.atomic():
        for granted in Consent.objects.filter(user=person).select_related("client", "resource"):
            consents.withdraw(granted)
        revoked = revocation.revoke_user(person, now=now, actor=actor)
        disconnected = connections.disconnect_all(
            Connection.objects.filter(user=person), now=now, actor=actor
        )
        audit.record(
            "access.cut_off",
            actor=actor,
            user_id=person.pk,
            detail={"tokens_revoked": revoked, "connections": disconnected},
        )
    messages.success(
        request,
        f"Everything of {person.get_username()} is cut off: {revoked} token(s) revoked, "
        f"{disconnected} connection(s) disconnected, consents withdrawn.",
    )
    return redirect(back)


def _cut_off_row(person, client, identifier: str, *, now, actor: str) -> int:
    """One agent at one MCP server: its consent (with the grant's tokens) or, without a
    consent, its tokens there. The person's upstream connections stay: other agents use them."""
    with transaction.atomic():
        granted = Consent.objects.filter(
            user=person, client=client, resource__identifier=identifier
        ).first()
        resource = Resource.objects.filter(identifier=identifier).first()
        if granted is not None:
            revoked = consents.withdraw(granted)
        elif resource is not None:
            revoked = revocation.revoke_user_client_resource(person, client, resource, now=now)
        else:  # tokens bound to no registered MCP server: one by one, each family with it
            revoked = 0
            for token in RefreshToken.objects.filter(
                user=person, application=client, revoked__isnull=True
            ).filter(resource=[identifier] if identifier else []):
                revoked += revocation.revoke_token_row(token, now=now, actor=actor)
            for token in AccessToken.objects.filter(
                user=person, application=client, revoked_at__isnull=True
            ).filter(resource=[identifier] if identifier else []):
                revoked += revocation.revoke_token_row(token, now=now, actor=actor)
        audit.record(
            "access.cut_off",
            actor=actor,
            user_id=person.pk,
            client_id=client.client_id,
            resource=identifier,
            detail={"tokens_revoked": revoked},
        )
    return revoked


def _int(value) -> int:
    text = str(value or "")
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise PermissionDenied  # never a 500 for a forged form
    return int(text)
