import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from authserver import config

ROOT = Path(__file__).resolve().parents[2]


def test_settings_load_with_no_environment_at_all(tmp_path):
    # A bare process: no DATABASE_URL, REDIS_URL, SECRET_KEY, ISSUER, nothing but PATH.
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.ISSUER, s.CELERY_BROKER_URL, "
        "s.CACHES['default']['BACKEND'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "authserver.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "http://127.0.0.1:8000",
        "filesystem://localhost//",
        "django.core.cache.backends.filebased.FileBasedCache",
    ]


def test_embedded_default_generates_secrets_once_and_keeps_them(tmp_path):
    first = config.load({"VAR_DIR": str(tmp_path)})
    second = config.load({"VAR_DIR": str(tmp_path)})
    assert first.embedded
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 48
    assert first.key_encryption_keys == second.key_encryption_keys
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert first.database_url == f"sqlite:///{tmp_path / 'authserver.sqlite3'}"


def test_production_database_without_secret_key_refuses_to_start(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required"):
        config.load({"VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://db/x"})


def test_production_database_without_key_encryption_key_refuses_to_start(tmp_path):
    env = {"VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://db/x", "SECRET_KEY": "s" * 50}
    with pytest.raises(ImproperlyConfigured, match="KEY_ENCRYPTION_KEY is required"):
        config.load(env)


@pytest.mark.parametrize(
    "issuer",
    [
        "https://as.example/",  # trailing slash: clients compare byte for byte
        "https://as.example?x=1",
        "https://as.example#frag",
        "http://as.example",  # plain http off loopback
        "as.example",
        "ftp://as.example",
    ],
)
def test_invalid_issuer_is_refused(tmp_path, issuer):
    with pytest.raises(ImproperlyConfigured):
        config.load({"VAR_DIR": str(tmp_path), "ISSUER": issuer})


def test_values_are_coerced_and_checked(tmp_path):
    cfg = config.load({"VAR_DIR": str(tmp_path), "ACCESS_TOKEN_LIFETIME": "120", "DEBUG": "true"})
    assert cfg.access_token_lifetime == 120
    assert cfg.debug is True
    with pytest.raises(ImproperlyConfigured, match="integer"):
        config.load({"VAR_DIR": str(tmp_path), "ACCESS_TOKEN_LIFETIME": "five"})
    with pytest.raises(ImproperlyConfigured, match="boolean"):
        config.load({"VAR_DIR": str(tmp_path), "DEBUG": "maybe"})
    with pytest.raises(ImproperlyConfigured, match="MAX_LIFETIME"):
        config.load({"VAR_DIR": str(tmp_path), "ACCESS_TOKEN_LIFETIME": "7200"})


def test_allowed_hosts_default_to_issuer_host_and_loopback(tmp_path):
    cfg = config.load({"VAR_DIR": str(tmp_path), "ISSUER": "https://auth.example.com"})
    assert cfg.allowed_hosts == ("auth.example.com", "127.0.0.1", "localhost")
