"""The compatibility suite's server: our WSGI entry point (``authserver.wsgi.application``: the
fast path for public documents, then Django with every middleware) on a real socket at
``http://127.0.0.1:<free port>``, configured as that issuer, one per test.

Django's ``LiveServerThread`` provides the threaded server and closes each request thread's
database connections; only the application differs from pytest-django's ``live_server``, which
serves Django's bare ``WSGIHandler`` and binds ``localhost`` (MCP clients compare the issuer
byte for byte).
"""

from __future__ import annotations

import dataclasses

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.cache import cache
from django.test.testcases import LiveServerThread
from django.test.utils import modify_settings

from authserver.models import RevocationListSnapshot
from authserver.ops import localcache
from authserver.ops.fastpath import FastDocumentsApp
from tests.compat import flow


def _entry_point(django_handler):
    # What authserver.wsgi builds: FastDocumentsApp in front of Django (static files as
    # WhiteNoise serves them in production, here through Django's finders).
    return FastDocumentsApp(StaticFilesHandler(django_handler))


@pytest.fixture
def live(transactional_db, settings):
    """``(base URL, Http factory)`` of a server started for this test."""
    thread = LiveServerThread("127.0.0.1", _entry_point, port=0)
    thread.daemon = True
    with modify_settings(ALLOWED_HOSTS={"append": "127.0.0.1"}):
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        url = f"http://127.0.0.1:{thread.port}"
        settings.ISSUER = url
        settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": url}
        settings.CONFIG = dataclasses.replace(settings.CONFIG, issuer=url)
        # A revocation list or a cached document made for another issuer must not be served.
        cache.clear()
        localcache.clear()
        RevocationListSnapshot.objects.all().delete()
        try:
            yield url
        finally:
            thread.terminate()
            localcache.clear()


@pytest.fixture
def http(live):
    """A client of the live server (its own cookies); call it for a second one (a browser)."""
    return flow.Http(live)


@pytest.fixture
def user_browser(live):
    return flow.Http(live)
