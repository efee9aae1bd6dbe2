"""The authorization error page says why a metadata document's client_id was not accepted (a
real TLS server on 127.0.0.1 serves the documents): the host and the stage, the status code
or the metadata rule; never the document, its URL's path, or a secret it carries. Before, the
page said only "invalid_request: Invalid client_id parameter value"."""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

import pytest

from authserver.authorization import unknown_client
from clients import cimd_fetch
from clients.cimd import MetadataFetcher
from tests.clients.support import document
from tests.factories import make_resource
from tests.oauthflow import pkce_pair

pytestmark = [
    pytest.mark.django_db,
    # Development mode does not verify the loopback server's certificate, on purpose.
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

SECRET = "s3cr3t-do-not-echo"


@pytest.fixture
def development(registration_policy):
    registration_policy(cimd_allow_loopback=True)
    make_resource()


def authorize(http, client_id: str):
    _verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "http://127.0.0.1:3000/callback",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "tools:read",
    }
    return http.get("/authorize?" + urlencode(query))


def page_of(response) -> str:
    assert response.status_code == 400, response.content[:300]
    return response.content.decode()


def test_error_page_names_the_http_status_of_an_unfetchable_document(
    signed_in, document_server, development, caplog
):
    url = document_server("/client.json", SECRET.encode(), status=403)
    with caplog.at_level(logging.INFO):
        html = page_of(authorize(signed_in, url))
    assert "the client metadata document at 127.0.0.1 could not be fetched" in html
    assert "status: HTTP 403" in html
    assert SECRET not in html
    assert "/client.json" not in html  # the host only, not the URL
    # The log line says it too (it said "Bad Request: /authorize").
    assert "client_id not accepted: the client metadata document at 127.0.0.1" in caplog.text


@pytest.mark.parametrize(
    ("status", "headers", "body", "says"),
    [
        (200, {"Content-Type": "text/html"}, b"<p>" + SECRET.encode(), "content_type:"),
        (200, {}, b"x" * (17 * 1024), "size:"),
        (200, {}, SECRET.encode(), "json:"),
    ],
)
def test_error_page_names_the_stage_that_failed(
    signed_in, document_server, development, status, headers, body, says
):
    url = document_server("/client.json", body, status=status, headers=headers)
    html = page_of(authorize(signed_in, url))
    assert f"at {urlsplit(url).hostname} could not be fetched ({says}" in html
    assert SECRET not in html


def test_error_page_names_the_metadata_rule_and_never_the_secret_the_document_carries(
    signed_in, document_server, development
):
    url = document_server("/client.json", {})
    document_server("/client.json", document(url, client_secret=SECRET))
    html = page_of(authorize(signed_in, url))
    assert "at 127.0.0.1 was refused (metadata: the document does not meet the metadata" in html
    assert "must not carry a client secret" in html
    assert SECRET not in html


def test_loopback_document_in_production_mode_says_so(signed_in, document_server):
    make_resource()
    url = document_server("/client.json", {})
    document_server("/client.json", document(url))
    html = page_of(authorize(signed_in, url))
    assert "(address: the host resolves to a private or loopback address" in html


def test_a_document_accepted_later_forgets_its_old_failure(document_server, development):
    url = document_server("/client.json", b"nope", status=500)
    with pytest.raises(cimd_fetch.CIMDError):
        MetadataFetcher().fetch(url)
    assert "HTTP 500" in unknown_client.explain(url)
    document_server("/client.json", document(url))
    MetadataFetcher().fetch(url)
    assert unknown_client.explain(url) is None


def test_diagnosis_never_keeps_a_proxy_password():
    error = Exception("could not fetch: ProxyError(http://user:hunter2@proxy.internal:3128)")
    diagnosis = cimd_fetch.diagnose("https://h.example/c.json", error)
    assert "hunter2" not in diagnosis.detail
    assert "hunter2" not in diagnosis.message


def test_unknown_client_id_that_is_no_document_keeps_the_plain_answer(signed_in):
    make_resource()
    html = page_of(authorize(signed_in, "no-such-client"))
    assert "Invalid client_id parameter value" in html
