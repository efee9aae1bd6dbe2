"""The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1 §4.1) with remembered consent.

GET validates the request with oauthlib (client, exact redirect URI, PKCE S256, resource,
scopes), then signs the user in, then either approves at once (remembered consent, trusted
client) or shows the consent screen. The validated request waits in the session under a
random id, so the consent form carries nothing but that id and the user's choice.
"""

from __future__ import annotations

import secrets
import time

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.models import AbstractApplication as Client
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.oauth2.rfc6749.errors import InvalidClientIdError

from authserver.authorization import consent, unknown_client
from authserver.errors import (
    AccessDenied,
    ConsentRequired,
    InvalidRequest,
    LoginRequired,
    OAuthError,
    from_oauthlib,
    writer,
)
from authserver.models import Resource
from authserver.models.external import client_model
from authserver.resources import grouppolicy
from authserver.token_endpoint import grant_types
from authserver.token_endpoint.params import refuse_malformed_authorization_parameters
from authserver.tool_grants import consent as tool_consent

PENDING_TTL = 600  # seconds a consent screen stays answerable
_CREDENTIAL_KEYS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
    "authorization_details",  # RFC 9396, as requested (authserver.tool_grants)
)


def _schemes(client: Client | None) -> list[str]:
    return client.get_allowed_schemes() if client else ["http", "https"]


@method_decorator(never_cache, name="dispatch")
class AuthorizeView(OAuthLibMixin, View):
    def redirect(self, uri: str, client: Client | None) -> HttpResponse:
        return OAuth2ResponseRedirect(uri, _schemes(client))

    def error(self, request: HttpRequest, error: OAuthToolkitError) -> HttpResponse:
        """RFC 6749 §4.1.2.1: never redirect before the client and redirect URI are known good."""
        oauthlib_error = error.oauthlib_error
        exc = from_oauthlib(oauthlib_error)
        if isinstance(oauthlib_error, InvalidClientIdError):
            exc = _explained(request, oauthlib_error, exc)
        if isinstance(error, FatalClientError) or not oauthlib_error.redirect_uri:
            return writer.error_page(request, exc)
        client = client_model().objects.filter(client_id=oauthlib_error.client_id or "").first()
        return writer.error_redirect(
            oauthlib_error.redirect_uri, exc, state=oauthlib_error.state, schemes=_schemes(client)
        )

    def deny(self, credentials: dict, client: Client, error: type[OAuthError] = AccessDenied):
        return writer.error_redirect(
            credentials["redirect_uri"],
            error(),
            state=credentials.get("state"),
            schemes=_schemes(client),
        )

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if (refused := refuse_malformed_authorization_parameters(request)) is not None:
            return refused
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error(request, error)
        client = credentials["request"].client
        prompt = set(request.GET.get("prompt", "").split())
        # RFC 6749 §4.1.2.1 / OAuth 2.0 Multiple Response Types §5: metadata advertises
        # response_mode "query" only; any other mode is refused, not silently honoured.
        if request.GET.get("response_mode", "query") != "query":
            return self.deny(credentials, client, InvalidRequest)
        reauthenticate = reauthentication_needed(request, prompt)
        if reauthenticate is None:
            return self.deny(credentials, client, InvalidRequest)  # max_age not an integer
        if reauthenticate:
            if "none" in prompt:
                return self.deny(credentials, client, LoginRequired)
            logout(request)  # OIDC Core §3.1.2.1: prompt=login "MUST reauthenticate"
            return redirect_to_login(_without_reauth_params(request))
        if not request.user.is_authenticated:
            if "none" in prompt:
                return self.deny(credentials, client, LoginRequired)
            return redirect_to_login(request.get_full_path())

        resource = Resource.objects.get(pk=credentials["resource_id"])
        try:  # offer only what group policy allows (docs/IDENTITY.md)
            scopes = grouppolicy.scopes_for_authorization(request.user, resource, scopes)
        except grouppolicy.PolicyRefused as refused:
            return grouppolicy.access_denied_page(
                request,
                self.deny(credentials, client),
                refused.reason,
                prompt_none="none" in prompt,
            )
        decision = consent.decide(request.user, client, resource, scopes, force="consent" in prompt)
        declined, covered = tool_consent.remembered_tools(request.user, client, resource)
        tools = tool_consent.offer(
            resource,
            scopes,
            client=client,
            user=request.user,
            requested=credentials.get("authorization_details"),
            declined=declined,
            # A trusted client is never asked about tools its scopes gained (high-risk ones
            # still are: offer marks them whoever the client is).
            covered=None if client.skip_authorization else covered,
        )
        # New tools in a consented scope, high-risk tools, a declined tool asked for by name:
        # remembered consent does not cover them, the screen is shown (tool_grants.consent).
        if not decision.needs_consent and not (tools and tools["asks_again"]):
            details = tool_consent.approved_details(tools, resource, None)
            return self.approve(request, client, scopes, credentials, details)
        if "none" in prompt:
            return self.deny(credentials, client, ConsentRequired)

        request_id = secrets.token_urlsafe(16)
        remember_pending(
            request.session,
            request_id,
            {
                "user": request.user.pk,
                "expires": time.time() + PENDING_TTL,
                "scopes": scopes,
                "resource_id": resource.pk,
                "tools": tools,
                "credentials": {k: credentials[k] for k in _CREDENTIAL_KEYS if k in credentials},
            },
        )
        return render(
            request,
            "authserver/consent.html",
            {
                "request_id": request_id,
                "client": client,
                "resource": resource,
                "scopes": _describe(resource, scopes, decision, tools),
                "removed_tools": tools["removed"] if tools else [],
                "tools_shown": bool(tools),
                "redirect_host": _host(credentials["redirect_uri"]),
                "client_host": _host(client.client_uri) if client.client_uri else "",
                "logo_uri": client.logo_uri if client.logo_uri.startswith("https://") else "",
                # The refresh-token rule (token_endpoint.grants.base.refresh_wanted), aloud.
                "stays_connected": resource.issue_refresh_tokens
                and "offline_access" not in scopes
                and grant_types.REFRESH_TOKEN in (client.grant_types or []),
            },
        )

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        pending = request.session.pop(f"authz:{request.POST.get('request_id', '')}", None)
        if not pending or pending["user"] != request.user.pk or pending["expires"] < time.time():
            return writer.error_page(
                request,
                InvalidRequest(
                    "This approval request expired or was already answered. "
                    "Start again from the application."
                ),
            )
        credentials = pending["credentials"]
        clients = client_model().objects
        client = clients.filter(client_id=credentials["client_id"], is_active=True).first()
        resource = Resource.objects.filter(pk=pending["resource_id"], enabled=True).first()
        if client is None or resource is None:
            return writer.error_page(request, InvalidRequest("The application is not available."))
        if "allow" not in request.POST:
            consent.record_denial(request.user, client, resource, pending["scopes"])
            return self.deny(credentials, client)
        consent.record(request.user, client, resource, pending["scopes"])
        # The screen lists tools as checkboxes; without that list (no tools shown) the offer.
        ticked = request.POST.getlist("tool") if "tools_shown" in request.POST else None
        tool_consent.remember_choice(request.user, client, resource, pending.get("tools"), ticked)
        details = tool_consent.approved_details(pending.get("tools"), resource, ticked)
        return self.approve(request, client, pending["scopes"], credentials, details)

    def approve(
        self, request, client, scopes: list[str], credentials: dict, details: list | None = None
    ) -> HttpResponse:
        creds = {k: credentials[k] for k in _CREDENTIAL_KEYS if k in credentials}
        creds["approved_authorization_details"] = details  # what the code carries (RFC 9396)
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=creds, allow=True
            )
        except OAuthToolkitError as error:
            return self.error(request, error)
        return self.redirect(uri, client)


def _explained(request: HttpRequest, oauthlib_error, exc: OAuthError) -> OAuthError:
    """An unknown ``client_id`` with the reason a feature knows (a metadata document that
    could not be fetched: host and stage), on the page and in the log line."""
    client_id = oauthlib_error.client_id or request.GET.get("client_id", "")
    reason = unknown_client.explain(client_id)
    if reason is None:
        return exc
    return InvalidRequest(
        f"Invalid client_id: {reason}.", detail=f"client_id not accepted: {reason}"
    )


def _host(uri: str) -> str:
    """What the consent screen names as the destination. For a private-use redirect the
    scheme is what picks the receiving app (RFC 8252 §7.1), so it is always shown:
    ``https-evil://accounts.example.com/cb`` must not read as "accounts.example.com"."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return parts.netloc
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"


def reauthentication_needed(request: HttpRequest, prompt: set[str]) -> bool | None:
    """OIDC Core §3.1.2.1: ``prompt=login`` forces a fresh sign-in; ``max_age`` (seconds)
    forces one when the last sign-in is older. None when ``max_age`` is malformed."""
    if "login" in prompt:
        return True
    raw = request.GET.get("max_age")
    if raw is None:
        return False
    if not raw.isascii() or not raw.isdigit():
        return None
    last = getattr(request.user, "last_login", None)
    if last is None:
        return True
    return (timezone.now() - last).total_seconds() > int(raw)


def _without_reauth_params(request: HttpRequest) -> str:
    """The authorization URL to come back to after signing in again: ``login`` dropped from
    ``prompt`` and ``max_age`` dropped, or the fresh sign-in would be asked for forever."""
    params = request.GET.copy()
    params.pop("max_age", None)
    prompt = [p for p in params.get("prompt", "").split() if p != "login"]
    if prompt:
        params["prompt"] = " ".join(prompt)
    else:
        params.pop("prompt", None)
    return f"{request.path}?{params.urlencode()}"


def _describe(resource, scopes: list[str], decision, tools=None) -> list[dict]:
    rows = {g["scope"]: g["tools"] for g in (tools or {}).get("groups", [])}
    defined = {s.name: s for s in resource.scopes.all()}
    described = []
    for name in scopes:
        scope = defined.get(name)
        described.append(
            {
                "name": name,
                "description": scope.description
                if scope
                else "Stay connected: refresh access without asking you again",
                "tools": scope.tools if scope else [],
                # With tool grants: checkboxes. A tool is marked new when a scope the user
                # allowed gained it since; a new scope is marked as a whole.
                "tool_rows": [
                    {**row, "new": row.get("new") and name not in decision.new_scopes}
                    for row in rows.get(name, [])
                ],
                "new": name in decision.new_scopes,
            }
        )
    return described


# Unanswered consent screens kept per session (closed tabs, retried connects): the oldest
# go first, and expired ones go whenever a new screen is shown.
MAX_PENDING = 10


def remember_pending(session, request_id: str, pending: dict) -> None:
    """Keep a consent screen's request under ``authz:<request_id>`` until it is answered
    (``post`` pops it). A screen nobody answers would otherwise stay in the session for
    good, and the session (a database row read on every request) grow with each."""
    now = time.time()
    waiting = sorted(
        (value.get("expires", 0) if isinstance(value, dict) else 0, key)
        for key, value in session.items()
        if key.startswith("authz:")
    )
    live = [key for expires, key in waiting if expires >= now]
    for expires, key in waiting:
        if expires < now:
            del session[key]
    for key in live[: max(0, len(live) - (MAX_PENDING - 1))]:
        del session[key]
    session[f"authz:{request_id}"] = pending
