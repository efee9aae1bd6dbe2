"""The machine endpoints' own, shorter middleware chain.

``POST /token``, ``/introspect``, ``/revoke``, ``/register`` and the AuthZEN decision
endpoints serve programs: no cookie, no session, no CSRF form, no page. The browser-facing
part of the chain (static files, sessions, CSRF, authentication, messages, allauth) does
nothing for them, and in gunicorn it cost about 0.6 ms of a token request's 1.9 ms of CPU
(``make bench``, docs/performance.md). ``MachineEndpointsMiddleware`` stands after the part
every request shares (request id, the documents' fast path, metrics) and sends exactly these
paths through the rest of ``settings.MIDDLEWARE`` without ``settings.BROWSER_MIDDLEWARE``:
errors, availability, security headers, CORS and clickjacking still apply, in the same
order. Every other path goes on through the whole chain.

The chain is built the way Django builds its own (``BaseHandler.load_middleware``, sync
only): each middleware's ``process_view`` and ``process_exception`` hooks run as they would
in the full chain, so a view's exception still becomes the writer's JSON (errors.middleware)
or a 503 when the database is down (ops.availability).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

# Exact paths (no prefixes: /register/<client_id> and every page keep the full chain).
MACHINE_PATHS = frozenset(
    {
        "/token",
        "/introspect",
        "/revoke",
        "/register",
        "/access/v1/evaluation",
        "/access/v1/evaluations",
    }
)
SELF = f"{__name__}.MachineEndpointsMiddleware"


def machine_middleware() -> list[str]:
    """What a machine path runs after this middleware: the rest of the chain, in order,
    without the browser-only middleware."""
    chain = list(settings.MIDDLEWARE)
    rest = chain[chain.index(SELF) + 1 :] if SELF in chain else chain
    browser = set(settings.BROWSER_MIDDLEWARE)
    return [path for path in rest if path not in browser]


class MachineHandler(BaseHandler):
    """Django's handler over a given list of middleware (sync; every one of ours is)."""

    def __init__(self, middleware: list[str]) -> None:
        super().__init__()
        self._view_middleware: list = []
        self._template_response_middleware: list = []
        self._exception_middleware: list = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(middleware):
            instance = import_string(path)(handler)
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


class MachineEndpointsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.machine = MachineHandler(machine_middleware())._middleware_chain

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in MACHINE_PATHS:
            return self.machine(request)
        return self.get_response(request)
