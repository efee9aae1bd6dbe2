"""``POST /token``: parse, authenticate the client, validate the grant, issue, render.

Errors are RFC 6749 §5.2 JSON, never HTML, written by authserver.errors.writer: our
OAuthError subclasses as they are; a database that cannot be reached or a signing key that
cannot be used as 503 ``temporarily_unavailable`` with ``Retry-After``; anything else as a
bare 500 ``server_error`` (authserver.errors.middleware.as_oauth_error).
"""

from __future__ import annotations

import dataclasses
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from authserver import dpop
from authserver.errors import (
    InvalidRequest,
    MethodNotAllowed,
    OAuthError,
    TemporarilyUnavailable,
    writer,
)
from authserver.errors.middleware import as_oauth_error
from authserver.token_endpoint import client_auth, grant_types, hotcache, issue, params, registry
from authserver.token_endpoint.grants import GRANTS
from authserver.token_endpoint.grants.base import token_endpoint_url
from authserver.token_endpoint.issuance_limit import count_request

MAX_ATTEMPTS = 3
ALLOWED_METHODS = ("POST", "OPTIONS")


class UnsupportedGrantType(OAuthError):
    error, status = "unsupported_grant_type", 400  # RFC 6749 §5.2


def token_response(req: params.TokenRequest) -> issue.Issued | registry.Answer:
    """The pipeline. Everything before ``issue`` only reads (the DPoP replay cache and the
    answers to a replayed code or refresh token aside, which must happen whatever follows).

    Decisions use the per-process cache (hotcache); if the cache turns out to be stale (the
    write statement or a refusal sees a newer generation) the request runs again on fresh
    rows, so nothing is issued or refused on outdated client, access or key data. What a
    token-exchange strategy a feature registered grants (a vended upstream token) is checked
    against the generation the same way before it leaves."""
    grant_type = req.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("missing grant_type")  # RFC 6749 §4.1.3, §4.4.2, §6
    grant_class = GRANTS.get(grant_type)
    if grant_class is None:
        raise UnsupportedGrantType("this grant type is not supported")
    verified: set = set()  # single-use credentials are checked once, not again on a retry
    for _attempt in range(MAX_ATTEMPTS):
        now = timezone.now()
        snap = hotcache.snapshot()
        strategy = None
        try:
            client = client_auth.authenticate(req, snap, verified=verified)
            count_request(client, once=verified)  # the client's limit, before any write
            # After the client authenticated: an unauthenticated request records no jti.
            req = check_dpop_proof(req)
            grant = grant_class(snap)
            grant.check_client(client)
            if grant_type == grant_types.TOKEN_EXCHANGE:
                strategy = registry.exchange_strategy(req)
            if strategy is not None:
                answer = strategy.answer(req, client, now=now)
            else:
                binding = grant.validate(req, client, now=now)
        except OAuthError as exc:
            # ``decided_on_current_rows``: a refusal that read no cached row and recorded
            # something (a CIBA poll's time) is final; deciding again would change the answer.
            if hotcache.is_current(snap) or getattr(exc, "decided_on_current_rows", False):
                raise
            continue  # refused on stale data: decide again on fresh rows
        if strategy is not None:
            # The one cache rule: nothing that grants leaves on a stale snapshot (a client
            # disabled or its secret rotated in another worker meanwhile).
            if not hotcache.is_current(snap):
                continue
            answer.commit(now=now)
            return answer
        try:
            return issue.issue(binding, snap, now=now)
        except issue.StaleCache:
            continue
    raise TemporarilyUnavailable("configuration is changing; try again")


def check_dpop_proof(req: params.TokenRequest) -> params.TokenRequest:
    """RFC 9449 §4.3, once per request (a proof is single use, §11.1): the thumbprint of
    its key, for the grant to bind the token to. A retry keeps the thumbprint found."""
    if not req.dpop_proof or req.dpop_jkt:
        return req
    jkt = dpop.validate_proof(req.dpop_proof, htm="POST", htu=token_endpoint_url())
    return dataclasses.replace(req, dpop_jkt=jkt)


def answer_headers() -> dict[str, str]:
    """What every answer of the token endpoint carries, tokens and errors alike."""
    # RFC 6749 §5.1: "Cache-Control: no-store" on every response with tokens or errors.
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if settings.CONFIG.dpop_nonce_required:
        headers["DPoP-Nonce"] = dpop.current_nonce()  # RFC 9449 §8
    return headers


def render(status: int, body: dict) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )
    for name, value in answer_headers().items():
        response[name] = value
    return response


def render_error(exc: OAuthError) -> HttpResponse:
    return writer.json_error(exc, headers=answer_headers())


@csrf_exempt
@sensitive_post_parameters(
    "client_secret", "code", "code_verifier", "refresh_token", "subject_token", "actor_token"
)
def token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        # RFC 6749 §3.2: "The client MUST use the HTTP POST method".
        return render_error(MethodNotAllowed("use POST", allow=", ".join(ALLOWED_METHODS)))
    try:
        req = params.parse_request(request)
        return render(200, token_response(req).as_json())
    except client_auth.FailedAuthentication as exc:
        client_auth.audit_failure(req, exc)
        return render_error(exc)
    except Exception as exc:  # every failure is JSON; as_oauth_error logs what it hides
        return render_error(as_oauth_error(exc, "token request"))
