"""Shared fixtures. The suite runs against the PostgreSQL and Redis that `make test` starts."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model

_counter = itertools.count(1)

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def make_user(db):
    def make(username: str | None = None, *, staff: bool = False, superuser: bool = False):
        User = get_user_model()
        name = username or f"user{next(_counter)}"
        if superuser:
            return User.objects.create_superuser(username=name, password=PASSWORD)
        return User.objects.create_user(username=name, password=PASSWORD, is_staff=staff)

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def signed_in(client, user):
    """The test client, signed in as ``user``."""
    client.force_login(user)
    return client


@pytest.fixture
def admin_user(make_user):
    return make_user("root", superuser=True)


@pytest.fixture
def unused_tcp_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """User passwords keep Django's PBKDF2 in production; tests need not pay ~0.5 s a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _celery_runs_tasks_inline():
    """Tasks queued on commit run in the test process (there is no worker in unit tests)."""
    from authserver.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Redis outlives each test's rolled-back database: start every test with an empty cache."""
    from django.core.cache import cache

    from authserver.ops import localcache
    from clients import policy

    cache.clear()
    localcache.clear()  # per-process caches must not outlive a rolled-back test either
    policy.forget_count()
    policy.forget_duplicates()


# Tests that need what only `make test` installs, marked here by the fixtures or files they use
# so that `make test-quick` (-m "not browser and not node and not promtool") can leave them out:
# Chromium through Playwright, Node.js with the npm projects, Debian's promtool.
BROWSER_FIXTURES = {"page", "browser", "context", "sized_page"}
NODE_FIXTURES = {"upstream", "upstream_idp", "idp_installed"}
NODE_FILES = {"test_typescript_sdk.py", "test_conformance.py"}
NODE_TESTS = {"test_make_sbom_writes_cyclonedx_of_python_and_npm_dependencies"}  # npm sbom
PROMTOOL_FILES = {"test_monitoring.py"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        fixtures, filename = set(getattr(item, "fixturenames", ())), item.path.name
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if fixtures & NODE_FIXTURES or filename in NODE_FILES or item.name in NODE_TESTS:
            item.add_marker(pytest.mark.node)
        if filename in PROMTOOL_FILES:
            item.add_marker(pytest.mark.promtool)
