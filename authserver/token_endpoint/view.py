"""``POST /token``: parse, authenticate the client, validate the grant, issue, render.

Errors are rendered once, here, as RFC 6749 §5.2 JSON: our OAuthError subclasses as they
are; a database that cannot be reached or a signing key that cannot be used as 503
``temporarily_unavailable`` with ``Retry-After``; anything else as a bare 500
``server_error``. Never HTML.
"""

from __future__ import annotations

import dataclasses
import json
import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from authserver import dpop
from authserver.errors import (
    InvalidRequest,
    OAuthError,
    TemporarilyUnavailable,
    to_response,
)
from authserver.keys import keyring as keys
from authserver.keys import secretbox
from authserver.token_endpoint import client_auth, hotcache, issue, params
from authserver.token_endpoint.grants import GRANTS
from authserver.token_endpoint.grants import subject_token as exchange
from authserver.token_endpoint.grants.base import token_endpoint_url
from connections import vending

log = logging.getLogger("authserver.token_endpoint")
RETRY_AFTER = "5"
MAX_ATTEMPTS = 3
BASIC_CHALLENGE = 'Basic realm="{realm}", charset="UTF-8"'


class UnsupportedGrantType(OAuthError):
    error, status = "unsupported_grant_type", 400  # RFC 6749 §5.2


class MethodNotAllowed(OAuthError):
    error, status = "invalid_request", 405  # RFC 9110 §15.5.6


def basic_challenge() -> str:
    return BASIC_CHALLENGE.format(realm=settings.ISSUER)


def token_response(req: params.TokenRequest) -> issue.Issued | vending.Vended:
    """The pipeline. Everything before ``issue`` only reads (the DPoP replay cache and the
    answers to a replayed code or refresh token aside, which must happen whatever follows).

    Decisions use the per-process cache (hotcache); if the cache turns out to be stale (the
    write statement or a refusal sees a newer generation) the request runs again on fresh
    rows, so nothing is issued or refused on outdated client, access or key data."""
    grant_type = req.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("missing grant_type")  # RFC 6749 §4.1.3, §4.4.2, §6
    grant_class = GRANTS.get(grant_type)
    if grant_class is None:
        raise UnsupportedGrantType("this grant type is not supported")
    req = check_dpop_proof(req)
    verified: set = set()  # single-use credentials are checked once, not again on a retry
    for _attempt in range(MAX_ATTEMPTS):
        now = timezone.now()
        snap = hotcache.snapshot()
        try:
            client = client_auth.authenticate(req, snap, verified=verified)
            grant = grant_class(snap)
            grant.check_client(client)
            if grant_type == exchange.GRANT_TYPE and vending.is_vend_request(req):
                # The target is an upstream connection: the answer is the user's upstream
                # token (connections.vending), not one of our JWTs, so it skips issue().
                return vending.vend(req, client, now=now)
            binding = grant.validate(req, client, now=now)
        except OAuthError:
            if hotcache.is_current(snap):
                raise
            continue  # refused on stale data: decide again on fresh rows
        try:
            return issue.issue(binding, snap, now=now)
        except issue.StaleCache:
            continue
    raise TemporarilyUnavailable("configuration is changing; try again")


def check_dpop_proof(req: params.TokenRequest) -> params.TokenRequest:
    """RFC 9449 §4.3, once per request (a proof is single use, §11.1): the thumbprint of
    its key, for the grant to bind the token to."""
    if not req.dpop_proof:
        return req
    jkt = dpop.validate_proof(req.dpop_proof, htm="POST", htu=token_endpoint_url())
    return dataclasses.replace(req, dpop_jkt=jkt)


def render(status: int, body: dict) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )
    # RFC 6749 §5.1: "Cache-Control: no-store" on every response with tokens or errors.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    if settings.CONFIG.dpop_nonce_required:
        response["DPoP-Nonce"] = dpop.current_nonce()  # RFC 9449 §8
    return response


def render_error(exc: OAuthError) -> HttpResponse:
    response = to_response(exc)
    response["Pragma"] = "no-cache"
    if exc.status == 401:
        # RFC 6749 §5.2: the challenge matches the scheme clients authenticate with.
        response["WWW-Authenticate"] = basic_challenge()
    elif exc.status == 405:
        response["Allow"] = "POST, OPTIONS"
    elif exc.status == 503:
        response["Retry-After"] = RETRY_AFTER
    if settings.CONFIG.dpop_nonce_required:
        response["DPoP-Nonce"] = dpop.current_nonce()
    return response


@csrf_exempt
@sensitive_post_parameters(
    "client_secret", "code", "code_verifier", "refresh_token", "subject_token", "actor_token"
)
def token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        # RFC 6749 §3.2: "The client MUST use the HTTP POST method".
        return render_error(MethodNotAllowed("use POST"))
    try:
        req = params.parse_request(request)
        return render(200, token_response(req).as_json())
    except client_auth.FailedAuthentication as exc:
        client_auth.audit_failure(req, exc)
        return render_error(exc)
    except OAuthError as exc:
        return render_error(exc)
    except (OperationalError, InterfaceError) as exc:
        log.warning("token request: database unavailable (%s)", type(exc).__name__)
        return render_error(TemporarilyUnavailable("the service is briefly unavailable"))
    except (keys.NoSigningKey, secretbox.DecryptionError) as exc:
        log.error("token request: no usable signing key (%s)", type(exc).__name__)
        return render_error(TemporarilyUnavailable("no signing key is available"))
    except DatabaseError as exc:
        log.exception("token request: database error (%s)", type(exc).__name__)
        return render_error(OAuthError("server error"))
    except Exception:
        log.exception("token request failed")
        return render_error(OAuthError("server error"))
