import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_pages_are_not_frameable_and_carry_csp_and_referrer_policy(client):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    # Nothing to other origins; same-origin keeps Chrome's Origin header for CSRF checks.
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_stylesheet_is_self_hosted(client):
    html = client.get("/accounts/login/").content.decode()
    assert "/static/authserver/site.css" in html
    assert "https://" not in html.split("<body")[0]  # no CDN in <head>


def _settings_in_subprocess(env: dict[str, str], names: list[str]) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "authserver.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_https_production_gets_hsts_and_secure_cookies(tmp_path):
    values = _settings_in_subprocess(
        {
            "ISSUER": "https://auth.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "SECRET_KEY": "x" * 50,
            "KEY_ENCRYPTION_KEY": "y" * 44,
        },
        ["SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "DEBUG"],
    )
    assert values == {
        "SECURE_HSTS_SECONDS": 31536000,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "DEBUG": False,
    }
