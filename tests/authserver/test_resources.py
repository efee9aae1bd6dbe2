"""RFC 8707 resource indicators: canonical form and registration rules."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authserver.errors import InvalidTarget
from authserver.protocol.resources import (
    canonicalize,
    requested_resources,
    validate_registered_identifier,
)


@pytest.mark.parametrize(
    ("given_uri", "canonical"),
    [
        ("https://mcp.example.com", "https://mcp.example.com"),
        ("https://mcp.example.com/", "https://mcp.example.com"),  # TS SDK's URL.href
        ("HTTPS://MCP.Example.COM/mcp", "https://mcp.example.com/mcp"),
        ("https://mcp.example.com:443/mcp", "https://mcp.example.com/mcp"),
        ("https://mcp.example.com:8443/mcp", "https://mcp.example.com:8443/mcp"),
        ("http://127.0.0.1:80/x", "http://127.0.0.1/x"),
        ("https://mcp.example.com/Mcp", "https://mcp.example.com/Mcp"),  # path stays exact
        ("https://[::1]:9000/mcp", "https://[::1]:9000/mcp"),
        ("https://mcp.example.com/mcp?tenant=a", "https://mcp.example.com/mcp?tenant=a"),
    ],
)
def test_canonical_form_lowercases_scheme_and_host_and_drops_default_port(given_uri, canonical):
    assert canonicalize(given_uri) == canonical


@pytest.mark.parametrize(
    "bad",
    [
        "https://mcp.example.com/mcp#frag",
        "https://mcp.example.com/mcp#",  # even an empty fragment (RFC 8707 §2)
        "/mcp",  # relative
        "mcp.example.com/mcp",
        "urn:example:mcp",
        "ftp://mcp.example.com/",
        "javascript:alert(1)",
        "https://user:pw@mcp.example.com/",
        "https://mcp.example.com:99999/",
        "https://mcp.example.com/ mcp",
        "",
        "https://" + "a" * 600 + ".com",
    ],
)
def test_malformed_resources_are_invalid_target(bad):
    with pytest.raises(InvalidTarget):
        canonicalize(bad)


@given(st.text())
def test_canonicalize_raises_only_invalid_target(value):
    with contextlib.suppress(InvalidTarget):
        canonicalize(value)


@given(
    st.sampled_from(["http", "https", "HTTPS"]),
    st.from_regex(r"[A-Za-z0-9]{1,10}(\.[A-Za-z]{2,5}){1,2}", fullmatch=True),
    st.sampled_from(["", ":443", ":80", ":8443"]),
    st.from_regex(r"(/[A-Za-z0-9_-]{0,8}){0,3}", fullmatch=True),
)
def test_canonicalization_is_idempotent(scheme, host, port, path):
    once = canonicalize(f"{scheme}://{host}{port}{path}")
    assert canonicalize(once) == once


def test_repeated_equal_resources_collapse_to_one():
    assert requested_resources(["https://A.example/mcp", "https://a.example:443/mcp"]) == [
        "https://a.example/mcp"
    ]


def test_registered_resources_must_be_https(settings):
    assert validate_registered_identifier("https://mcp.example.com/mcp")
    with pytest.raises(InvalidTarget):
        validate_registered_identifier("http://mcp.example.com/mcp")
    settings.CONFIG = dataclasses.replace(settings.CONFIG, allow_http_loopback_resources=False)
    with pytest.raises(InvalidTarget):
        validate_registered_identifier("http://127.0.0.1:9000/mcp")


def test_http_loopback_resources_only_with_the_development_setting(settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, allow_http_loopback_resources=True)
    assert validate_registered_identifier("http://127.0.0.1:9000/mcp")
    assert validate_registered_identifier("http://localhost:9000/mcp")
    with pytest.raises(InvalidTarget):
        validate_registered_identifier("http://mcp.example.com/mcp")
