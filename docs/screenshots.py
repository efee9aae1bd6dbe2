"""Take the README's admin screenshots: the access review and the audit list, at 1280 px.

    .venv/bin/python docs/screenshots.py

Starts the embedded default as ``make run`` does, in a temporary ``VAR_DIR`` on a free port
(nothing of yours is touched), fills it with a small company's data (people, their agents,
three MCP servers, consents, tokens and a day of audit events), serves it, and photographs the
pages in Debian's Chromium (``/usr/bin/chromium``; Playwright downloads no browser) into
``docs/screenshots/access-review-desktop.png`` and ``admin-audit-desktop.png``.
``tests/browser/test_admin_fit.py`` checks the same pages fit; this script only shows them.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 900
PERSON = "maria.garcia"
# Set by `make test` for the suite's own services; the embedded default must not see them.
SUITE_ONLY = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "KEY_ENCRYPTION_KEY", "VAR_DIR")

SERVERS = {
    "Team Notes": ("https://notes.acme.example/mcp", {"notes:read": ["list_notes", "search"]}),
    "Payments": (
        "https://payments.acme.example/mcp",
        {"payments:read": ["list_payments"], "payments:refund": ["payments.refund"]},
    ),
    "Calendar": ("https://calendar.acme.example/mcp", {"calendar:read": ["list_events"]}),
}
AGENTS = [  # name, registration source, client_id (None: generated), servers with scopes
    (
        "Claude Code (maria's laptop)",
        "dcr",
        None,
        {"Team Notes": "notes:read", "Payments": "payments:read"},
    ),
    ("Cursor", "dcr", None, {"Team Notes": "notes:read"}),
    (
        "ChatGPT",
        "cimd",
        "https://chatgpt.com/oauth/client-metadata.json",
        {"Calendar": "calendar:read"},
    ),
]


def seed(password: str) -> None:
    """A small company's data, written through the models as the server writes them."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.models import Consent
    from authserver import audit
    from authserver.keys import keyring as keys
    from authserver.models import AccessToken, RefreshToken, Resource, Scope
    from clients.models import Client

    users = get_user_model().objects
    users.create_superuser("admin", password=password)
    people = [users.create_user(n) for n in (PERSON, "dev.patel", "sam.okafor")]
    maria = people[0]
    servers = {}
    for name, (identifier, scopes) in SERVERS.items():
        servers[name] = Resource.objects.create(identifier=identifier, name=name)
        for scope, tools in scopes.items():
            Scope.objects.create(resource=servers[name], name=scope, description=scope, tools=tools)
    key, now = keys.active_key(), timezone.now()
    minutes = iter(range(5, 24 * 60, 37))
    events: list[tuple] = []  # (at, kind, fields): recorded in time order, as they happened

    def happened(kind: str, at, **fields) -> None:
        events.append((at, kind, fields))

    for name, source, client_id, reach in AGENTS:
        agent = Client(
            name=name,
            client_type=Client.CLIENT_PUBLIC,
            grant_types=["authorization_code", "refresh_token"],
            authorization_grant_type="authorization-code",
            token_endpoint_auth_method="none",  # noqa: S106 - a public client
            redirect_uris="http://127.0.0.1/callback",
            registration_source=source,
            **({"client_id": client_id} if client_id else {}),
        )
        agent.save()
        happened("client.registered", now - timedelta(days=2), client_id=agent.client_id)
        for server_name, scope in reach.items():
            resource, at = servers[server_name], now - timedelta(minutes=next(minutes))
            Consent.objects.create(user=maria, client=agent, resource=resource, scope=scope)
            happened(
                "consent.granted",
                at - timedelta(seconds=20),
                actor=f"user:{maria.pk}",
                client_id=agent.client_id,
                user_id=maria.pk,
                resource=resource.identifier,
                scope=scope,
            )
            access = AccessToken.objects.create(
                user=maria,
                application=agent,
                token=uuid.uuid4().hex,
                jti=uuid.uuid4().hex,
                kid=key.kid,
                expires=now + timedelta(minutes=5),
                scope=f"{scope} offline_access",
                resource=[resource.identifier],
                token_family=uuid.uuid4(),
            )
            RefreshToken.objects.create(
                user=maria,
                application=agent,
                token=uuid.uuid4().hex,
                access_token=access,
                resource=[resource.identifier],
                token_family=access.token_family,
            )
            for kind in ("token.issued", "token.refreshed"):
                happened(
                    kind,
                    at if kind == "token.issued" else at + timedelta(minutes=3),
                    actor=f"user:{maria.pk}",
                    client_id=agent.client_id,
                    user_id=maria.pk,
                    resource=resource.identifier,
                    jti=access.jti if kind == "token.refreshed" else uuid.uuid4().hex,
                    family=access.token_family,
                    scope=access.scope,
                )
    for person in people:
        happened(
            "signin.admitted",
            now - timedelta(minutes=next(minutes)),
            actor=f"user:{person.pk}",
            user_id=person.pk,
        )
    for at, kind, fields in sorted(events, key=lambda event: event[0]):
        audit.record(kind, at=at, **fields)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before it answered")
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - our loopback URL
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s")


def shoot(issuer: str, password: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    pages = {
        "access-review-desktop.png": f"{issuer}/admin/review/access/?user={PERSON}",
        "admin-audit-desktop.png": f"{issuer}/admin/authserver/auditevent/",
    }
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.goto(f"{issuer}/admin/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", password)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state()
        for filename, url in pages.items():
            page.goto(url)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / filename))  # the window: sticky parts stay put
            written.append(OUT / filename)
        browser.close()
    return written


def main() -> int:
    if sys.argv[1:2] == ["--seed"]:
        seed(os.environ["SCREENSHOT_ADMIN_PASSWORD"])
        return 0
    python, password, port = sys.executable, secrets.token_urlsafe(16), free_port()
    issuer = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as var_dir:
        env = {k: v for k, v in os.environ.items() if k not in SUITE_ONLY}
        env.update(
            VAR_DIR=var_dir,
            ISSUER=issuer,
            DJANGO_SETTINGS_MODULE="authserver.settings",
            PYTHONPATH=str(ROOT),
            SCREENSHOT_ADMIN_PASSWORD=password,
        )
        manage = [python, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "--verbosity", "0"], env=env, check=True)  # noqa: S603
        subprocess.run([python, __file__, "--seed"], env=env, check=True, cwd=ROOT)  # noqa: S603
        server = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            [*manage, "serve", "--no-jobs", "--bind", f"127.0.0.1:{port}"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(f"{issuer}/healthz", server)
            for path in shoot(issuer, password):
                print(f"wrote {path.relative_to(ROOT)}")
        finally:
            server.terminate()
            server.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
