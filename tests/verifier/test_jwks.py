"""mcp_token_verifier: discovery, the JWKS cache, key rotation and the default HTTP fetch."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mcp_token_verifier import TokenError, TokenVerifier
from mcp_token_verifier.fetch import FetchError, make_urllib_fetch
from mcp_token_verifier.jwks import cache_lifetime, metadata_url
from tests.verifier.support import (
    ISSUER,
    JWKS_URL,
    METADATA_URL,
    RESOURCE,
    Clock,
    FakeIssuer,
    generate,
    make_claims,
    public_jwk,
    sign,
    signing_key,
)


def make_verifier(issuer: FakeIssuer, clock: Clock | None = None, **kwargs) -> TokenVerifier:
    return TokenVerifier(ISSUER, RESOURCE, fetch=issuer.fetch, clock=clock or Clock(), **kwargs)


def refused(verifier: TokenVerifier, token: str) -> TokenError:
    with pytest.raises(TokenError) as info:
        verifier.verify(token)
    return info.value


# --- discovery -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        (
            "https://auth.example.com",
            "https://auth.example.com/.well-known/oauth-authorization-server",
        ),
        ("https://a.example/p", "https://a.example/.well-known/oauth-authorization-server/p"),
        ("https://a.example/p/q/", "https://a.example/.well-known/oauth-authorization-server/p/q"),
    ],
)
def test_metadata_url_inserts_well_known_before_the_issuer_path(issuer, expected):
    assert metadata_url(issuer) == expected


def test_jwks_uri_is_discovered_from_issuer_metadata():
    issuer = FakeIssuer.with_keys("ES256")
    assert make_verifier(issuer).verify(sign(make_claims()))
    assert [url for url, _ in issuer.requests] == [METADATA_URL, JWKS_URL]


def test_metadata_whose_issuer_differs_is_refused(caplog):
    issuer = FakeIssuer.with_keys("ES256", metadata_issuer=ISSUER + "/")
    error = refused(make_verifier(issuer), sign(make_claims()))
    assert error.description == "signing keys unavailable"
    assert [url for url, _ in issuer.requests] == [METADATA_URL]  # never trusted its jwks_uri
    assert "names issuer" in caplog.text


def test_https_issuer_metadata_with_http_jwks_uri_is_refused():
    requested = []

    def fetch(url, headers):
        requested.append(url)
        doc = {"issuer": "https://auth.example.com", "jwks_uri": "http://auth.example.com/jwks"}
        return 200, {}, json.dumps(doc).encode()

    verifier = TokenVerifier("https://auth.example.com", RESOURCE, fetch=fetch, clock=Clock())
    with pytest.raises(TokenError, match="signing keys unavailable"):
        verifier.verify(sign(make_claims(iss="https://auth.example.com")))
    assert requested == ["https://auth.example.com/.well-known/oauth-authorization-server"]


def test_explicit_jwks_uri_skips_discovery():
    issuer = FakeIssuer.with_keys("ES256")
    verifier = make_verifier(issuer, jwks_uri=JWKS_URL)
    assert verifier.verify(sign(make_claims()))
    assert [url for url, _ in issuer.requests] == [JWKS_URL]


# --- caching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cache_control", "lifetime"),
    [
        ("public, max-age=3600", 3600),
        ("max-age=5", 60),  # floor
        ("max-age=31536000", 86400),  # ceiling
        ("no-store", 60),
        ("max-age=banana", 60),
        ("max-age=" + "9" * 500, 86400),
        ("", 300),
    ],
)
def test_max_age_is_honoured_within_bounds(cache_control, lifetime):
    assert cache_lifetime({"cache-control": cache_control}) == lifetime


def test_jwks_is_reused_while_fresh():
    issuer, clock = FakeIssuer.with_keys("ES256", max_age=600), Clock()
    verifier = make_verifier(issuer, clock)
    for step in range(5):
        clock.now += step * 100  # 0, 100, 300, 600 - under max-age until the last one
        verifier.verify(sign(make_claims(iat=int(clock.now), exp=int(clock.now) + 60)))
    assert len(issuer.jwks_requests()) == 2


def test_stale_jwks_is_refetched_conditionally_and_304_renews_it():
    issuer, clock = FakeIssuer.with_keys("ES256", max_age=600), Clock()
    verifier = make_verifier(issuer, clock)
    verifier.verify(sign(make_claims()))
    clock.now += 600
    verifier.verify(sign(make_claims(exp=int(clock.now) + 60)))
    first, second = issuer.jwks_requests()
    assert "If-None-Match" not in first
    assert second["If-None-Match"].startswith('"')
    clock.now += 599  # the 304 restarted the max-age
    verifier.verify(sign(make_claims(exp=int(clock.now) + 60)))
    assert len(issuer.jwks_requests()) == 2


def test_jwks_members_that_cannot_be_used_are_skipped():
    issuer = FakeIssuer.with_keys("ES256")
    issuer.keys[:0] = [{"kty": "EC", "kid": "broken"}, {"kty": "RSA"}, "not a key", 7]
    assert make_verifier(issuer).verify(sign(make_claims()))


# --- rotation ------------------------------------------------------------------------------


def test_unknown_kid_triggers_exactly_one_refetch_then_verifies_the_rotated_key():
    issuer, clock = FakeIssuer.with_keys("ES256", max_age=3600), Clock()
    verifier = make_verifier(issuer, clock, min_refetch_interval=30)
    verifier.verify(sign(make_claims()))
    new_key = generate("ES256")
    issuer.publish(new_key, "ES256")
    clock.now += 60
    token = sign(make_claims(exp=int(clock.now) + 60), key=new_key)
    assert verifier.verify(token)["sub"] == "user-42"
    assert len(issuer.jwks_requests()) == 2
    assert verifier.verify(token)  # now cached
    assert len(issuer.jwks_requests()) == 2


def test_unknown_kids_refetch_at_most_once_per_min_refetch_interval():
    issuer, clock = FakeIssuer.with_keys("ES256", max_age=3600), Clock()
    verifier = make_verifier(issuer, clock, min_refetch_interval=30)
    verifier.verify(sign(make_claims()))  # fetch 1
    clock.now += 30
    for _ in range(10):
        refused(verifier, sign(make_claims(), key=generate("ES256")))
    assert len(issuer.jwks_requests()) == 2  # one refetch for the first unknown kid only
    clock.now += 29
    refused(verifier, sign(make_claims(), key=generate("ES256")))
    assert len(issuer.jwks_requests()) == 2
    clock.now += 1
    refused(verifier, sign(make_claims(), key=generate("ES256")))
    assert len(issuer.jwks_requests()) == 3


def test_key_published_within_min_refetch_interval_waits_for_the_next_refetch():
    issuer, clock = FakeIssuer.with_keys("ES256", max_age=3600), Clock()
    verifier = make_verifier(issuer, clock, min_refetch_interval=30)
    verifier.verify(sign(make_claims()))
    new_key = generate("ES256")
    issuer.publish(new_key, "ES256")
    token = sign(make_claims(), key=new_key)
    clock.now += 10
    assert refused(verifier, token).description == "token signed with an unknown key"
    clock.now += 20
    assert verifier.verify(token)


# --- failures ------------------------------------------------------------------------------


def test_jwks_fetch_failure_keeps_cached_keys():
    issuer, clock = FakeIssuer.with_keys("ES256", max_age=300), Clock()
    verifier = make_verifier(issuer, clock)
    verifier.verify(sign(make_claims()))
    issuer.down = True
    clock.now += 301  # stale: a refresh is attempted and fails
    assert verifier.verify(sign(make_claims(exp=int(clock.now) + 60)))
    assert len(issuer.jwks_requests()) == 2
    error = refused(verifier, sign(make_claims(exp=int(clock.now) + 60), key=generate("ES256")))
    assert error.description == "token signed with an unknown key"


@pytest.mark.parametrize(
    "response",
    [(500, {}, b"oops"), (200, {}, b"not json"), (200, {}, b'{"keys": 1}'), (304, {}, b"")],
)
def test_jwks_bad_answer_keeps_cached_keys(response):
    issuer, clock = FakeIssuer.with_keys("ES256", max_age=300), Clock()
    verifier = make_verifier(issuer, clock, jwks_uri=JWKS_URL)
    verifier.verify(sign(make_claims()))
    issuer.fetch = lambda url, headers: response  # 304 without our ETag is an error too
    clock.now += 301
    assert verifier.verify(sign(make_claims(exp=int(clock.now) + 60)))


def test_failed_refresh_is_retried_no_sooner_than_min_refetch_interval():
    issuer, clock = FakeIssuer.with_keys("ES256", max_age=300), Clock()
    verifier = make_verifier(issuer, clock, min_refetch_interval=30)
    verifier.verify(sign(make_claims()))
    issuer.down = True
    clock.now += 300
    for _ in range(5):
        verifier.verify(sign(make_claims(exp=int(clock.now) + 60)))
    assert len(issuer.jwks_requests()) == 2
    clock.now += 30
    verifier.verify(sign(make_claims(exp=int(clock.now) + 60)))
    assert len(issuer.jwks_requests()) == 3


def test_keys_never_fetched_is_invalid_token():
    issuer = FakeIssuer.with_keys("ES256", down=True)
    error = refused(make_verifier(issuer), sign(make_claims()))
    assert (error.error, error.status, error.description) == (
        "invalid_token",
        401,
        "signing keys unavailable",
    )


def test_fetch_that_raises_anything_is_a_failed_refresh():
    def fetch(url, headers):
        raise RuntimeError("custom HTTP stack exploded")

    verifier = TokenVerifier(ISSUER, RESOURCE, fetch=fetch, clock=Clock())
    assert refused(verifier, sign(make_claims())).description == "signing keys unavailable"


# --- threads -------------------------------------------------------------------------------


def test_concurrent_verifications_fetch_the_jwks_once():
    issuer = FakeIssuer.with_keys("ES256", "EdDSA")
    verifier = make_verifier(issuer)
    tokens = [sign(make_claims(jti=f"j{i}"), "ES256" if i % 2 else "EdDSA") for i in range(16)]
    results: list[object] = [None] * len(tokens)
    start = threading.Barrier(len(tokens))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = verifier.verify(tokens[i])["jti"]
        except Exception as exc:  # reported through the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [f"j{i}" for i in range(len(tokens))]
    assert len(issuer.jwks_requests()) == 1


# --- real HTTP -----------------------------------------------------------------------------


class _IssuerHandler(BaseHTTPRequestHandler):
    server: _IssuerServer

    def do_GET(self) -> None:
        server = self.server
        inm = self.headers.get("If-None-Match")
        if self.path == "/.well-known/oauth-authorization-server":
            doc = {"issuer": server.issuer, "jwks_uri": server.issuer + "/jwks"}
            self._answer(200, json.dumps(doc).encode())
        elif self.path == "/jwks":
            body = json.dumps({"keys": server.keys}).encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            headers = {"ETag": etag, "Cache-Control": "public, max-age=600"}
            if inm == etag:
                self._answer(304, b"", headers)
            else:
                self._answer(200, body, headers)
        elif self.path == "/to-https":
            self._answer(302, b"", {"Location": server.issuer.replace("http:", "https:") + "/jwks"})
        elif self.path == "/to-jwks":
            self._answer(302, b"", {"Location": "/jwks"})
        elif self.path == "/huge":
            self._answer(200, b"x" * (1024 * 1024 + 1))
        else:
            self._answer(404, b"{}")

    def _answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        # Logged before answering, so the client never sees a response the log lacks.
        self.server.log.append((self.path, self.headers.get("If-None-Match"), status))
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


class _IssuerServer(ThreadingHTTPServer):
    issuer: str
    keys: list[dict]
    log: list[tuple[str, str | None, int]]


@pytest.fixture
def http_issuer(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = _IssuerServer(("127.0.0.1", 0), _IssuerHandler)
    server.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    server.keys = [public_jwk(signing_key("ES256"), "ES256")]
    server.log = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_over_real_http_discovery_then_etag_and_304(http_issuer):
    clock = Clock()
    verifier = TokenVerifier(http_issuer.issuer, RESOURCE, clock=clock)
    iss = http_issuer.issuer
    assert verifier.verify(sign(make_claims(iss=iss)))["iss"] == iss
    clock.now += 600  # max-age=600: stale
    assert verifier.verify(sign(make_claims(iss=iss, exp=int(clock.now) + 60)))
    metadata, first, second = http_issuer.log
    assert metadata == ("/.well-known/oauth-authorization-server", None, 200)
    assert first == ("/jwks", None, 200)
    assert second[0] == "/jwks"
    assert second[1].startswith('"')
    assert second[2] == 304


def test_over_real_http_rotated_key_is_fetched(http_issuer):
    clock = Clock()
    verifier = TokenVerifier(http_issuer.issuer, RESOURCE, clock=clock)
    iss = http_issuer.issuer
    verifier.verify(sign(make_claims(iss=iss)))
    new_key = generate("EdDSA")
    http_issuer.keys.append(public_jwk(new_key, "EdDSA"))
    clock.now += 30
    assert verifier.verify(sign(make_claims(iss=iss), "EdDSA", key=new_key))
    assert [status for _, _, status in http_issuer.log] == [200, 200, 200]


def test_default_fetch_follows_a_same_scheme_redirect(http_issuer):
    status, headers, body = make_urllib_fetch(5.0)(http_issuer.issuer + "/to-jwks", {})
    assert status == 200
    assert "etag" in headers
    assert json.loads(body)["keys"]


def test_default_fetch_refuses_a_redirect_to_another_scheme(http_issuer):
    with pytest.raises(FetchError, match="another scheme"):
        make_urllib_fetch(5.0)(http_issuer.issuer + "/to-https", {})


def test_default_fetch_caps_the_body_size(http_issuer):
    with pytest.raises(FetchError, match="exceeds"):
        make_urllib_fetch(5.0)(http_issuer.issuer + "/huge", {})


def test_default_fetch_returns_error_statuses(http_issuer):
    status, _, body = make_urllib_fetch(5.0)(http_issuer.issuer + "/nope", {})
    assert (status, body) == (404, b"{}")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "data:,x"])
def test_default_fetch_refuses_non_http_urls(url):
    with pytest.raises(FetchError, match="non-HTTP"):
        make_urllib_fetch(5.0)(url, {})


def test_default_fetch_wraps_connection_errors(unused_tcp_port):
    with pytest.raises(FetchError, match="failed"):
        make_urllib_fetch(5.0)(f"http://127.0.0.1:{unused_tcp_port}/jwks", {})
