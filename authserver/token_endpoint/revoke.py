"""``POST /revoke`` (RFC 7009): thin; the client authenticates on the token endpoint's one
path (client_auth), the rules are authserver.revocation.service.

It lives beside /token because it shares that endpoint's request parsing (size cap,
repeated parameters: params), client authentication and its audit; the revocation package
below it holds the rules every cut-off shares.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from authserver.errors import InvalidRequest, writer
from authserver.errors.middleware import as_oauth_error
from authserver.revocation import service as revocation
from authserver.token_endpoint import client_auth, params

ALLOWED_METHODS = ["POST", "OPTIONS"]


@csrf_exempt
@sensitive_post_parameters("token", "client_secret", "client_assertion")
def revoke(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return writer.method_not_allowed(ALLOWED_METHODS)  # RFC 7009 §2.1: "HTTP POST"
    req = None
    try:
        req = params.parse_request(request)  # the body cap, one value per parameter
        token = req.get("token")
        if not token:
            raise InvalidRequest("missing token")  # RFC 7009 §2.1: REQUIRED
        client = client_auth.authenticate_current(req)
        # RFC 7009 §2.1: only the caller's own tokens; §2.2: unknown tokens still get 200.
        revocation.revoke_presented_token(
            token, hint=req.get("token_type_hint"), client=client, now=timezone.now()
        )
    except client_auth.FailedAuthentication as exc:
        client_auth.audit_failure(req, exc)
        return writer.json_error(exc)
    except Exception as exc:  # every failure is the writer's JSON (RFC 7009 §2.2.1)
        return writer.json_error(as_oauth_error(exc, "revocation request"))
    # RFC 7009 §2.2: 200 whether or not the token was known; the body is ignored.
    response = HttpResponse(status=200, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response
