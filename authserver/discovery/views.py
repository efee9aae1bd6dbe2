"""Discovery views: RFC 8414 metadata, OIDC discovery and the JWKS. Thin: build, then render."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import parse_etags
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from oauth2_provider.views import OAuthServerMetadataView

from authserver import version
from authserver.errors import writer
from authserver.keys import keyring as keys
from authserver.protocol import metadata
from authserver.revocation import published as revocation_list
from authserver.token_endpoint import registry

METADATA_MAX_AGE = 300


def absolute(view_name: str) -> str:
    return metadata.origin(settings.ISSUER) + reverse(view_name)


def _json_response(doc: dict, *, max_age: int) -> HttpResponse:
    body = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = f"public, max-age={max_age}"
    response["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return response


def _not_modified_or(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """RFC 9110 §13.1.2: a matching If-None-Match on GET gets 304 with the same validators."""
    tags = parse_etags(request.headers.get("If-None-Match", ""))
    if response["ETag"] in tags or "*" in tags:
        not_modified = HttpResponse(status=304)
        for header in ("ETag", "Cache-Control"):
            not_modified[header] = response[header]
        return not_modified
    return response


@method_decorator(csrf_exempt, name="dispatch")
class AuthorizationServerMetadataView(OAuthServerMetadataView):
    """RFC 8414 §3: ``/.well-known/oauth-authorization-server[/<issuer path>]``."""

    http_method_names = ["get", "options"]

    def document(self, request: HttpRequest) -> dict:
        base = json.loads(super().get(request).content)
        service_documentation = settings.CONFIG.service_documentation or absolute(
            "service-documentation"
        )
        return metadata.authorization_server_metadata(
            base,
            issuer=settings.ISSUER,
            jwks_uri=absolute("jwks"),
            service_documentation=service_documentation,
            revocation_list_uri=absolute("revocation-list"),
            # REGISTRATION_MODE (clients/modes.py): advertise only the ways that are on.
            registration_endpoint=absolute("clients:register") if settings.CONFIG.dcr_on else "",
            cimd_supported=settings.CONFIG.cimd_on,
            # Features' members (token_endpoint.registry.register_metadata).
            contributions=[members() for members in registry.METADATA.values()],
        )

    def get(self, request: HttpRequest, *args, issuer_path: str | None = None, **kwargs):
        if not metadata.issuer_path_matches(settings.ISSUER, issuer_path):
            return not_found_json(request)  # not our issuer; never a redirect or 5xx
        # Repeated GETs are replayed from authserver.ops.fastpath for a few seconds.
        response = _json_response(self.document(request), max_age=METADATA_MAX_AGE)
        return _not_modified_or(request, response)


class OpenIDConfigurationView(AuthorizationServerMetadataView):
    """OIDC Discovery 1.0 §4, and the RFC 8414 §5 path-inserted form for issuers with a path."""

    def document(self, request: HttpRequest) -> dict:
        algs = sorted({k.alg for k in keys.published_keys()} or {keys.default_algorithm()})
        return metadata.openid_configuration(super().document(request), signing_algs=algs)


@csrf_exempt  # GET-only: other methods get 405, not a CSRF page
@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    """The JWKS MCP servers validate our tokens with: public members of published keys only."""
    response = _json_response(keys.jwks_document(), max_age=settings.CONFIG.jwks_max_age)
    return _not_modified_or(request, response)


@require_GET
def service_documentation(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "authserver/docs.html",
        {
            "issuer": settings.ISSUER,
            "metadata_url": metadata.metadata_url(settings.ISSUER),
            "jwks_url": absolute("jwks"),
            "version": version.current(),
        },
    )


# Unknown well-known documents: a JSON 404 from the one writer (discovery stops at a 5xx).
not_found_json = writer.not_found


@csrf_exempt
@require_GET
def revocations(request: HttpRequest) -> HttpResponse:
    """The signed revocation list (authserver.revocation.published); poll with If-None-Match."""
    token, etag, _issued = revocation_list.current()
    response = HttpResponse(token, content_type="application/jwt")
    response["ETag"] = f'"{etag}"'
    # Short: verifiers poll every few seconds and get 304 when nothing changed.
    response["Cache-Control"] = "public, max-age=2, must-revalidate"
    return _not_modified_or(request, response)
