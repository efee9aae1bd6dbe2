"""The WSGI fast path (authserver.ops.fastpath.FastDocumentsApp): JWKS, discovery and the
revocation list replayed from memory, byte for byte what the full chain answered."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from authserver.keys import keyring as keys
from authserver.ops import localcache
from authserver.wsgi import application

pytestmark = pytest.mark.django_db
JWKS = "/.well-known/jwks.json"


class Django:
    """The real Django WSGI handler, counting how often the fast path fell through to it."""

    def __init__(self) -> None:
        self.inner = application.app
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.inner(environ, start_response)


@pytest.fixture
def app(monkeypatch):
    counting = Django()
    monkeypatch.setattr(application, "app", counting)
    # As Django's test client does: the handler must not close the test's DB connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield counting
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def call(path: str, *, method: str = "GET", query: str = "", **headers):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = response_headers

    body = b"".join(application(environ, start_response))
    return answer["status"], dict(answer["headers"]), body


@pytest.mark.parametrize("path", [JWKS, "/.well-known/oauth-authorization-server", "/revocations"])
def test_second_get_is_replayed_without_django_and_is_identical(app, path):
    status1, headers1, body1 = call(path)
    status2, headers2, body2 = call(path)
    assert app.calls == 1
    assert (status1, body1) == (status2, body2) == (200, body1)
    for name in ("Content-Type", "ETag", "Cache-Control", "Access-Control-Allow-Origin"):
        assert headers2.get(name) == headers1.get(name), name
    assert headers2["Content-Security-Policy"] == headers1["Content-Security-Policy"]
    assert headers2["Content-Length"] == str(len(body2))
    # Per-request headers are made afresh, never replayed.
    assert headers2["X-Request-ID"] != headers1["X-Request-ID"]


def test_replayed_document_answers_if_none_match_with_304_and_no_body(app):
    _, headers, _ = call(JWKS)
    status, headers304, body = call(JWKS, if_none_match=headers["ETag"])
    assert (status, body) == (304, b"")
    assert headers304["ETag"] == headers["ETag"]
    assert "Content-Type" not in headers304
    assert "Content-Length" not in headers304
    assert app.calls == 1


def test_clients_that_only_revalidate_still_fill_the_cache(app):
    _, headers, _ = call(JWKS)
    localcache.clear()
    for _ in range(3):
        status, _, body = call(JWKS, if_none_match=headers["ETag"])
        assert status == 304
        assert body == b""
    assert app.calls == 2  # the first 200, then one render; the rest replayed


def test_first_request_renders_the_full_document_even_with_if_none_match(app):
    keys.rotate(now=datetime.now(UTC))
    status, _headers, body = call(JWKS, if_none_match='"stale-or-guessed"')
    assert status == 200
    assert json.loads(body)["keys"]
    status, _, _ = call(JWKS, if_none_match='"stale-or-guessed"')
    assert status == 200


def test_proxy_request_id_is_echoed_when_sane_and_replaced_when_not(app):
    call(JWKS)
    assert call(JWKS, x_request_id="abc-123")[1]["X-Request-ID"] == "abc-123"
    replaced = call(JWKS, x_request_id="bad\r\nid")[1]["X-Request-ID"]
    assert replaced != "bad\r\nid"
    assert len(replaced) == 32


def test_head_is_replayed_without_a_body(app):
    call(JWKS)
    status, headers, body = call(JWKS, method="HEAD")
    assert status == 200
    assert body == b""
    assert int(headers["Content-Length"]) > 0
    assert app.calls == 1


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("POST", JWKS, ""),
        ("GET", JWKS, "x=1"),
        ("GET", "/healthz", ""),
        ("GET", "/token", ""),
    ],
)
def test_anything_else_goes_to_django(app, method, path, query):
    call(JWKS)  # a live cached document
    before = app.calls
    call(path, method=method, query=query)
    call(path, method=method, query=query)
    assert app.calls == before + 2


def test_errors_are_never_cached(app):
    status, _, _ = call("/.well-known/oauth-authorization-server/unknown/path")
    assert status == 404
    call("/.well-known/oauth-authorization-server/unknown/path")
    assert app.calls == 2


def test_rotation_in_this_process_is_served_at_once(app):
    before = json.loads(call(JWKS)[2])
    keys.rotate(now=datetime.now(UTC), force=True)
    after = json.loads(call(JWKS)[2])
    assert {k["kid"] for k in after["keys"]} != {k["kid"] for k in before["keys"]}
    assert app.calls == 2


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        ("{etag}", 304),  # what a revalidating client sends back
        ('"other", {etag}', 304),  # RFC 9110 §13.1.2: any listed tag
        ("W/{etag}", 304),  # weak comparison for If-None-Match
        ("*", 304),
        ('"other"', 200),
        ('{etag}"', 200),  # not the tag, nor a list holding it
    ],
)
def test_if_none_match_is_compared_as_rfc_9110_says_before_django(app, if_none_match, status):
    _, headers, body = call(JWKS)
    answer, replayed, replayed_body = call(
        JWKS, if_none_match=if_none_match.format(etag=headers["ETag"])
    )
    assert answer == status
    assert app.calls == 1
    assert replayed["ETag"] == headers["ETag"]
    if status == 304:
        assert replayed_body == b""
        assert "Content-Length" not in replayed
    else:
        assert replayed_body == body
        assert replayed["Content-Length"] == str(len(body))
