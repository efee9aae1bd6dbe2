"""The AuthZEN 1.0 HTTPS JSON binding (§11.1): thin views over mapping, services and search.

A caller (PEP: an MCP server or gateway) authenticates as a confidential client of ours on
the one client-authentication path /introspect uses: ``client_secret_basic`` in the header,
or ``private_key_jwt`` (RFC 7523 §2.2) with ``client_assertion_type`` and ``client_assertion``
as top-level members of the JSON body. It may ask only about the MCP servers it protects
(those naming it as their introspection client).
Errors go through the one error writer: 400, 401, 403 (§11.1.2) with an OAuth-style body.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from authserver.errors import AccessDenied, InvalidClient, InvalidRequest, OAuthError, writer
from authserver.introspection.views import introspecting_client
from authserver.ops.client_address import client_ip
from authserver.token_endpoint import client_auth, client_throttle, hotcache, params
from authzen import mapping, search, services
from mcp_token_verifier.strictjson import loads_json_object

MAX_BODY_BYTES = 512 * 1024  # 64 evaluations of 16 KiB arguments, with room for the rest
PATHS = {
    "access_evaluation_endpoint": "/access/v1/evaluation",
    "access_evaluations_endpoint": "/access/v1/evaluations",
    "search_subject_endpoint": "/access/v1/search/subject",
    "search_resource_endpoint": "/access/v1/search/resource",
    "search_action_endpoint": "/access/v1/search/action",
}


class PayloadTooLarge(InvalidRequest):
    status = 413


# RFC 7521 §4.2's parameters, carried as top-level members of the JSON body (the body of an
# AuthZEN request is JSON, not a form); AuthZEN 1.0 §7.1.1's defaults never read them.
CREDENTIAL_MEMBERS = ("client_assertion_type", "client_assertion", "client_id")


def _credentials(body: dict | None) -> MappingProxyType:
    """The client-authentication parameters the body carries, each a string (RFC 6749
    Appendix A syntax: no control character), for the one client-authentication path."""
    found = {}
    for name in CREDENTIAL_MEMBERS:
        if body is None or name not in body:
            continue
        value = body[name]
        if not isinstance(value, str) or len(value) > params.MAX_BODY_BYTES:
            raise InvalidRequest(f"{name} must be a string")
        params.check_parameter(name, value)
        found[name] = value
    return MappingProxyType(found)


def _caller(
    request: HttpRequest, snap: hotcache.Snapshot, body: dict | None, verified: set
) -> services.Caller:
    """The authenticated PEP; InvalidClient (401) otherwise. ``verified`` is kept across the
    request's retries: a client assertion's jti is spent once (RFC 7523 §3 item 7)."""
    req = params.TokenRequest(
        params=_credentials(body),
        resources=(),
        authorization=request.META.get("HTTP_AUTHORIZATION", ""),
        ip=client_ip(request),
    )
    client, failure = introspecting_client(req, snap, verified)
    if client is None:
        if failure is not None and hotcache.is_current(snap):
            # Audited and slowed down as at /token and /introspect, once the refusal is final.
            client_auth.audit_failure(req, failure)
        raise InvalidClient("the policy enforcement point must authenticate")
    return services.Caller(client.client_id, services.servers_protected_by(client, snap), snap)


def _body(request: HttpRequest) -> dict:
    # §11.1: requests carry Content-Type application/json and a JSON object.
    if request.content_type != "application/json":
        raise InvalidRequest("Content-Type must be application/json")
    try:
        too_big = len(request.body) > MAX_BODY_BYTES
    except RequestDataTooBig:  # beyond DATA_UPLOAD_MAX_MEMORY_SIZE: Django refuses to read it
        too_big = True
    if too_big:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        return loads_json_object(request.body)
    except ValueError:
        raise InvalidRequest("the body must be a JSON object") from None


def _endpoint(handler: Callable) -> Callable:
    @csrf_exempt
    @never_cache
    def view(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return writer.method_not_allowed(["POST"])  # §11.1: every API call is a POST
        try:
            return _decide(request, handler)
        except client_throttle.SlowDown as exc:
            return writer.json_error(exc)
        except services.NotYours:
            return writer.json_error(AccessDenied("not an MCP server this client protects"))
        except OAuthError as exc:
            return writer.json_error(exc)

    return view


def _decide(request: HttpRequest, handler: Callable) -> HttpResponse:
    """Decide on the generation-checked cache (token_endpoint.hotcache), then confirm that
    nothing changed: with the generation read together with the users (authzen.subjects),
    else with one read; if something did, decide again on current rows. Answers,
    audit events and metrics are only those of the confirmed decision."""
    try:
        body, problem = _body(request), None
    except OAuthError as exc:  # reported once the caller authenticated (with the header)
        body, problem = None, exc
    now = timezone.now()
    verified: set = set()
    for last in (False, True):
        snap = hotcache.Snapshot(None) if last else hotcache.snapshot()
        try:
            caller = _caller(request, snap, body, verified)
            if problem is not None:
                raise problem
            result = handler(caller, body, now=now)
        except (OAuthError, services.NotYours):
            if last or hotcache.is_current(snap):
                raise
            continue
        # The generation read with the users confirms the cache; else one read does.
        if last or caller.confirmed_by_reads() or hotcache.is_current(snap):
            services.record(caller, now=now)
            response = JsonResponse(result)
            response["Cache-Control"] = "no-store"
            return response
    raise AssertionError("unreachable")  # the last try returns or raises


def _decision_json(decision) -> dict:
    body: dict = {"decision": decision.allowed}
    if decision:
        if decision.constraints:
            body["context"] = {"constraints": decision.constraints}
    else:
        body["context"] = {"reason": decision.reason, "code": decision.code}
    return body


def _evaluate(caller, body: dict, *, now) -> dict:
    """§6: one evaluation."""
    return _decision_json(services.decide(caller, mapping.question_of(body), now=now))


def _evaluate_many(caller, body: dict, *, now) -> dict:
    """§7: boxcarred evaluations with defaults, in order, with the semantic asked for."""
    items, semantic = mapping.evaluations_of(body)
    if items is None:  # §7.1: absent or empty behaves as a single evaluation
        return _evaluate(caller, body, now=now)
    results = []
    for item in items:
        try:
            decision = _decision_json(services.decide(caller, mapping.question_of(item), now=now))
        except mapping.BadRequest as exc:
            # §7.2.1: an error in one evaluation is that evaluation's, closed.
            decision = {
                "decision": False,
                "context": {"error": {"status": 400, "message": exc.description}},
            }
        except services.NotYours:
            decision = {
                "decision": False,
                "context": {
                    "error": {"status": 403, "message": "not an MCP server this client protects"}
                },
            }
        results.append(decision)
        if semantic == "deny_on_first_deny" and not decision["decision"]:
            break
        if semantic == "permit_on_first_permit" and decision["decision"]:
            break
    return {"evaluations": results}


evaluation = _endpoint(_evaluate)
evaluations = _endpoint(_evaluate_many)
search_subject = _endpoint(search.search_subjects)
search_resource = _endpoint(search.search_resources)
search_action = _endpoint(search.search_actions)


@require_GET
def configuration(request: HttpRequest) -> HttpResponse:
    """§10: the PDP metadata at /.well-known/authzen-configuration; the PDP identifier is
    our issuer (an https URL without query or fragment in production)."""
    base = settings.ISSUER.rstrip("/")
    document = {"policy_decision_point": base}
    document.update({name: base + path for name, path in PATHS.items()})
    response = JsonResponse(document)
    response["Cache-Control"] = "public, max-age=300"
    return response
