"""A real upstream OpenID Connect provider on loopback (node-oidc-provider, tests/upstream/idp/)
in front of our server, configured as an admin would: a "Social application" row."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from allauth.socialaccount.models import SocialApp

from tests.e2e.conftest import callback, demo_server, issuer, start_demo_server  # noqa: F401

IDP_DIR = Path(__file__).parent / "idp"
CLIENT_ID = "authserver-test"
CLIENT_SECRET = "test-only-upstream-client-secret-0123456789"
PROVIDER_ID = "corp"
PROVIDER_NAME = "Corp SSO"
ACCOUNTS = {
    "alice": {
        "email": "alice@corp.example",
        "email_verified": True,
        "name": "Alice Example",
        "groups": ["engineering"],
    },
    "carol": {"email": "carol@corp.example", "email_verified": True, "name": "Carol"},
    "dave": {"email": "dave@corp.example", "email_verified": False, "name": "Dave"},
    "00u-erin": {"email": "erin@corp.example", "email_verified": True, "name": "Erin"},
    "mallory": {
        "email": "mallory@evil.example",
        "email_verified": True,
        "name": "Mallory",
        "groups": ["engineering"],
    },
}


@pytest.fixture(scope="session")
def idp_installed() -> Path:
    """npm ci once; node_modules is cached (and .gitignored)."""
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        npm = shutil.which("npm")
        assert npm, "npm is needed for the upstream identity provider tests"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=IDP_DIR,
            check=True,
            timeout=300,
            capture_output=True,
        )
    return IDP_DIR


@dataclass
class UpstreamIdP:
    issuer: str
    app: SocialApp
    process: subprocess.Popen
    log: list


@pytest.fixture
def upstream_idp(issuer, idp_installed):  # noqa: F811 - the e2e fixture, imported above
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PORT": str(port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": f"{issuer}/accounts/oidc/{PROVIDER_ID}/login/callback/",
        "BACKCHANNEL_LOGOUT_URI": f"{issuer}/accounts/oidc/{PROVIDER_ID}/backchannel-logout",
        "ACCOUNTS": json.dumps(ACCOUNTS),
    }
    node = shutil.which("node")
    assert node, "node is needed for the upstream identity provider tests"
    process = subprocess.Popen(
        [node, str(idp_installed / "server.mjs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            log.append(line.rstrip())
            if line.strip() == "ready":
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(30):
        process.kill()
        raise AssertionError("the upstream IdP did not start:\n" + "\n".join(log))
    idp_issuer = f"http://127.0.0.1:{port}"
    app = SocialApp.objects.create(
        provider="openid_connect",
        provider_id=PROVIDER_ID,
        name=PROVIDER_NAME,
        client_id=CLIENT_ID,
        secret=CLIENT_SECRET,
        settings={
            "server_url": idp_issuer,
            "oauth_pkce_enabled": True,
            "scope": ["openid", "email", "profile", "groups"],
            "allowed_email_domains": ["corp.example"],
            "groups_claim": "groups",
            # Explicitly mapped: other claimed groups land in the "corp/" namespace only.
            "groups_map": {"engineering": "engineering"},
            "scim_external_id_claim": "sub",
        },
    )
    yield UpstreamIdP(issuer=idp_issuer, app=app, process=process, log=log)
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
