"""A quiet start: a favicon instead of a 404 on every page, the embedded broker URL that kombu
does not warn about, and `make run` listening where the issuer says."""

from __future__ import annotations

import logging

import pytest
from kombu import Connection

from authserver.management.commands.serve import default_bind

EMBEDDED_BROKER = "filesystem://localhost//"  # authserver/settings.py without REDIS_URL


def test_favicon_ico_redirects_to_the_served_svg(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("/static/authserver/favicon.svg")
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"].startswith("image/svg+xml")


def test_embedded_broker_url_names_its_host_so_kombu_does_not_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="kombu.connection"):
        Connection(EMBEDDED_BROKER)._info()
        assert not caplog.records
        Connection("filesystem://")._info()  # what it was: one warning per connection
        assert "No hostname was supplied" in caplog.text


@pytest.mark.parametrize(
    ("issuer", "bind"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://127.0.0.1:9123", "127.0.0.1:9123"),
        ("http://localhost:9000", "localhost:9000"),
        ("https://auth.example.com", "127.0.0.1:8000"),  # behind a proxy: the default
    ],
)
def test_make_run_listens_where_a_loopback_issuer_points(issuer, bind):
    assert default_bind(issuer) == bind
