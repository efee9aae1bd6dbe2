"""``POST /revoke`` (RFC 7009): DOT's endpoint, its rules in authserver.revocation.service."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from oauth2_provider.views import RevokeTokenView as DOTRevokeTokenView
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from authserver.errors import (
    from_oauthlib,
    writer,
)


class RevokeView(DOTRevokeTokenView):
    """DOT's RFC 7009 endpoint (its validator and oauthlib's request checks), with errors
    written by authserver.errors.writer rather than rendered by oauthlib."""

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # oauthlib's RevocationEndpoint.create_revocation_response, minus its error body.
        core = self.get_oauthlib_core()
        server = core.server
        revocation = OAuthlibRequest(
            request.build_absolute_uri(),
            http_method=request.method,
            body=urlencode(core.extract_body(request)),
            headers=core.extract_headers(request),
        )
        try:
            server.validate_revocation_request(revocation)
        except OAuth2Error as error:
            return writer.json_error(from_oauthlib(error))  # RFC 7009 §2.2.1
        server.request_validator.revoke_token(
            revocation.token, revocation.token_type_hint, revocation
        )
        # RFC 7009 §2.2: 200 whether or not the token was known; the body is ignored.
        response = HttpResponse(status=200, content_type="application/json")
        response["Cache-Control"] = "no-store"
        return response

    def http_method_not_allowed(self, request, *args, **kwargs) -> HttpResponse:
        return writer.method_not_allowed(["POST", "OPTIONS"])
