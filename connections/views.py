"""The Connections page: connect an upstream account (code flow with PKCE and ``state``),
see each connection's health and who may use it, disconnect."""

from __future__ import annotations

import hmac
import logging
import secrets
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from authserver import audit
from authserver.protocol import metadata
from connections import intended, services, upstream
from connections.models import Connection, ConnectionPolicy, UpstreamProvider

log = logging.getLogger("connections")
PENDING = "connections.pending"
PENDING_MAX_AGE = 600  # seconds a started connect flow stays valid


def callback_url() -> str:
    """The redirect URI to register at each provider."""
    return metadata.origin(settings.ISSUER) + reverse("connections:callback")


@login_required
@never_cache
def connections(request: HttpRequest) -> HttpResponse:
    rows = (
        Connection.objects.filter(user=request.user)
        .exclude(status=Connection.Status.DISCONNECTED)
        .select_related("provider")
        .order_by("provider__name")
    )
    servers: dict[int, list[str]] = {}
    for policy in ConnectionPolicy.objects.filter(enabled=True).select_related("resource"):
        servers.setdefault(policy.provider_id, []).append(policy.resource.name)
    connected = {c.provider_id for c in rows}
    context = {
        "rows": [(c, sorted(set(servers.get(c.provider_id, [])))) for c in rows],
        "available": UpstreamProvider.objects.filter(enabled=True)
        .exclude(pk__in=connected)
        .order_by("name"),
    }
    return render(request, "connections/connections.html", context)


@login_required
@never_cache
def connect(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: a page with a Connect button (the URL vends hand to MCP servers); POST: go."""
    provider = get_object_or_404(UpstreamProvider, slug=slug, enabled=True)
    refused = refuse_other_person(request, provider)
    if refused is not None:
        return refused
    if request.method != "POST":
        return render(request, "connections/connect.html", {"provider": provider})
    verifier, challenge = upstream.new_pkce_pair()
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32) if upstream.is_openid(provider) else ""
    request.session[PENDING] = {
        "state": state,
        "verifier": verifier,
        "nonce": nonce,
        "provider": provider.slug,
        "started": int(time.time()),
    }
    return redirect(
        upstream.authorization_url(
            provider, redirect_uri=callback_url(), state=state, challenge=challenge, nonce=nonce
        )
    )


def refuse_other_person(request: HttpRequest, provider: UpstreamProvider) -> HttpResponse | None:
    """A link made for one user (``?for=``, from a vending error) acts for that user only: a
    forwarded link must not connect the signed-in person's account in their place. The
    refusal names whom to sign in as (masked), and is audited."""
    value = request.GET.get(intended.PARAMETER)
    if value is None:
        return None  # the person's own Connections page: it connects their own account
    try:
        user_id = intended.intended_user_id(value, provider.slug)
    except intended.LinkRefused as exc:
        reason, expected = str(exc), ""
    else:
        if user_id == request.user.pk:
            return None
        other = get_user_model().objects.filter(pk=user_id).first()
        reason = "another person"
        expected = intended.mask(other.get_username()) if other is not None else ""
    audit.record(
        "connection.connect_refused",
        actor=f"user:{request.user.pk}",
        user_id=request.user.pk,
        detail={"provider": provider.slug, "reason": reason},
    )
    context = {"provider": provider, "reason": reason, "expected": expected}
    return render(request, "connections/not_for_you.html", context, status=403)


@login_required
@never_cache
def callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(PENDING, None)  # single use, whatever happens next
    state = request.GET.get("state", "")
    # RFC 6749 §10.12: the state binds the response to this browser's request.
    if (
        not isinstance(pending, dict)
        or not hmac.compare_digest(state.encode(), str(pending.get("state", "")).encode())
        or time.time() - pending.get("started", 0) > PENDING_MAX_AGE
    ):
        messages.error(request, "That connection attempt expired or did not start here.")
        return redirect("connections:list")
    provider = UpstreamProvider.objects.filter(slug=pending["provider"], enabled=True).first()
    code = request.GET.get("code", "")
    if provider is None or request.GET.get("error") or not code:
        messages.error(request, "The connection was not completed.")
        return redirect("connections:list")
    try:
        # RFC 9207 §2.4: before the code goes anywhere, the response must come from the
        # provider this flow went to (a mix-up would hand us another provider's code).
        upstream.check_issuer(provider, request.GET.get("iss", ""))
        conn = services.complete_connect(
            request.user,
            provider,
            code=code,
            redirect_uri=callback_url(),
            verifier=pending["verifier"],
            nonce=str(pending.get("nonce") or ""),
            now=timezone.now(),
        )
    except upstream.UpstreamError as exc:
        log.warning("upstream code exchange failed: provider %s, error %s", provider.slug, exc.code)
        messages.error(request, f"{provider.name} refused the connection ({exc.code}).")
        return redirect("connections:list")
    messages.success(
        request, f"Connected {provider.name}{' as ' + conn.account if conn.account else ''}."
    )
    return redirect("connections:list")


@login_required
@require_POST
def disconnect(request: HttpRequest, pk: int) -> HttpResponse:
    conn = get_object_or_404(Connection, pk=pk, user=request.user)
    services.disconnect(conn, now=timezone.now(), actor="user")
    messages.success(request, f"Disconnected {conn.provider.name}; no MCP server can use it now.")
    return redirect("connections:list")
