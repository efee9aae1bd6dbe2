"""Thin views: the CIBA backchannel endpoint (JSON, machine), and the person's pages (the
approval, the pending list, passkeys). Parse, call one service, render."""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from approvals import ciba, passkeys, reauth, services
from approvals.models import ApprovalRequest
from authserver.errors import InvalidRequest, MethodNotAllowed
from authserver.errors.middleware import as_oauth_error
from authserver.token_endpoint import client_auth, params
from authserver.token_endpoint.view import render as render_json
from authserver.token_endpoint.view import render_error

Status = ApprovalRequest.Status


@csrf_exempt
@sensitive_post_parameters("client_secret", "login_hint_token", "client_notification_token")
def backchannel(request: HttpRequest) -> HttpResponse:
    """CIBA Core §7: the MCP server's client asks for one person's approval of one call."""
    if request.method != "POST":
        return render_error(MethodNotAllowed("use POST", allow="POST"))  # §7.1
    try:
        req = params.parse_request(request)
        # The core's one client-authentication path (token_endpoint.client_auth), §7.1.
        client = client_auth.authenticate_current(req)
        raw = ciba.parse(req.get)
        approval, auth_req_id = services.create_request(client, raw, ip=req.ip, now=timezone.now())
    except client_auth.FailedAuthentication as exc:
        client_auth.audit_failure(req, exc)
        return render_error(exc)
    except Exception as exc:  # every failure is JSON (§13)
        return render_error(as_oauth_error(exc, "backchannel authentication request"))
    # §7.3, plus where the person approves (for a URL-mode elicitation).
    return render_json(
        200,
        {
            "auth_req_id": auth_req_id,
            "expires_in": int((approval.expires_at - timezone.now()).total_seconds()),
            "interval": approval.interval,
            "approval_uri": services.approval_url(approval),
        },
    )


@csrf_exempt
@sensitive_post_parameters("client_secret")
def rules(request: HttpRequest) -> HttpResponse:
    """POST ``resource``: the admin's approval rules for that MCP server, to its CIBA client."""
    if request.method != "POST":
        return render_error(MethodNotAllowed("use POST", allow="POST"))
    try:
        req = params.parse_request(request)
        client = client_auth.authenticate_current(req)
        if len(req.resources) != 1:
            raise InvalidRequest("name exactly one resource")
        resource = req.resources[0]
        found = services.rules_for(client, resource)
    except client_auth.FailedAuthentication as exc:
        client_auth.audit_failure(req, exc)
        return render_error(exc)
    except Exception as exc:
        return render_error(as_oauth_error(exc, "approval rules request"))
    return render_json(200, {"resource": resource, "rules": found})


def _mine(request: HttpRequest, approval_id):
    """The request for the signed-in person, or a 404 page (a forwarded link shows nothing)."""
    try:
        return services.for_person(approval_id, request.user, now=timezone.now())
    except services.NotYours:
        return None


@never_cache
@login_required
@require_GET
def detail(request: HttpRequest, approval_id) -> HttpResponse:
    approval = _mine(request, approval_id)
    if approval is None:
        return render(request, "approvals/not_yours.html", status=404)
    services.record_shown(approval, now=timezone.now())
    return render(
        request,
        "approvals/detail.html",
        {
            "approval": approval,
            "pending": approval.status == Status.PENDING,
            "has_passkey": request.user.passkeys.exists(),
            "password_may_approve": services.password_may_approve(request.user),
            "arguments": services.pretty_arguments(approval),
        },
    )


@never_cache
@login_required
@require_POST
def assertion_options(request: HttpRequest, approval_id) -> HttpResponse:
    approval = _mine(request, approval_id)
    if approval is None or approval.status != Status.PENDING:
        return JsonResponse({"error": "not_pending"}, status=409)
    try:
        options = passkeys.authentication_options(request.session, request.user, approval.pk)
    except passkeys.CeremonyFailed:
        return JsonResponse({"error": "no_passkey"}, status=409)
    return HttpResponse(options, content_type="application/json")


@never_cache
@login_required
@require_POST
def approve(request: HttpRequest, approval_id) -> HttpResponse:
    """Approve with a fresh WebAuthn assertion (user verified) of one of the person's passkeys."""
    approval = _mine(request, approval_id)
    if approval is None:
        return JsonResponse({"error": "not_found"}, status=404)
    try:
        passkey = passkeys.verify_assertion(
            request.session, request.user, approval.pk, request.body
        )
        services.decide(approval, approve=True, credential=passkey, now=timezone.now())
    except passkeys.CeremonyFailed:
        return JsonResponse({"error": "assertion_refused"}, status=400)
    except services.NotPending:
        return JsonResponse({"error": "not_pending"}, status=409)
    return JsonResponse({"status": "approved"})


@never_cache
@sensitive_post_parameters("password")
@login_required
@require_POST
def approve_with_password(request: HttpRequest, approval_id) -> HttpResponse:
    """Where the admin's policy allows it and the person has no passkey: approve after
    re-entering the password (a fresh re-authentication), throttled as sign-in is."""
    approval = _mine(request, approval_id)
    if approval is None:
        return render(request, "approvals/not_yours.html", status=404)
    if not services.password_may_approve(request.user):
        return HttpResponseForbidden("Approving this request needs your passkey.")
    if reauth.check_password(request, request.POST.get("password", "")):
        try:
            services.decide(
                approval, approve=True, credential=None, reauthenticated=True, now=timezone.now()
            )
        except services.NotPending:
            messages.error(request, "This request was decided or expired meanwhile.")
    return redirect("approvals:detail", approval_id=approval.pk)


@never_cache
@login_required
@require_POST
def deny(request: HttpRequest, approval_id) -> HttpResponse:
    approval = _mine(request, approval_id)
    if approval is None:
        return render(request, "approvals/not_yours.html", status=404)
    # Decided or expired meanwhile: the page shows what it is.
    with contextlib.suppress(services.NotPending):
        services.decide(approval, approve=False, credential=None, now=timezone.now())
    return redirect("approvals:detail", approval_id=approval.pk)


@never_cache
@login_required
@require_GET
def pending(request: HttpRequest) -> HttpResponse:
    rows = services.pending_for(request.user, now=timezone.now())
    return render(request, "approvals/pending.html", {"approvals": rows})


@never_cache
@login_required
@require_GET
def passkey_list(request: HttpRequest) -> HttpResponse:
    return render(request, "approvals/passkeys.html", {"passkeys": request.user.passkeys.all()})


@never_cache
@login_required
@require_POST
def registration_options(request: HttpRequest) -> HttpResponse:
    options = passkeys.registration_options(request.session, request.user)
    return HttpResponse(options, content_type="application/json")


@never_cache
@login_required
@require_POST
def register(request: HttpRequest) -> HttpResponse:
    try:
        passkeys.register(request.session, request.user, request.body)
    except passkeys.CeremonyFailed:
        return JsonResponse({"error": "registration_refused"}, status=400)
    return JsonResponse({"status": "enrolled"})
