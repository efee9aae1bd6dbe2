"""Settings from the environment, read once into a typed, frozen dataclass.

Every variable is documented in the README ("Configuration"). ``settings.py`` only copies
from :func:`load`. A value with no safe default raises ``ImproperlyConfigured`` at startup
instead of silently falling back to something insecure.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from mcp_token_verifier.jws import SIGNATURE_ALGORITHMS

BASE_DIR = Path(__file__).resolve().parent.parent

SIGNING_ALGORITHMS = SIGNATURE_ALGORITHMS  # the one list every JWS path checks against
# Who may register a client (clients/modes.py): dcr+cimd (default), DCR only with an RFC 7591
# §3 initial access token (CIMD stays on), CIMD only (MCP 2026-07-28 deprecates DCR), or
# closed (admin-created clients only). "open" is the former name of dcr+cimd.
REGISTRATION_MODES = ("dcr+cimd", "initial_access_token", "cimd-only", "closed")
REGISTRATION_MODE_ALIASES = {"open": "dcr+cimd"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _int(env: dict[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def _fraction(env: dict[str, str], name: str, default: float) -> float:
    """A share between 0 and 1 (a sampling rate)."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number from 0 to 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:  # NaN fails both comparisons and is refused too
        raise ImproperlyConfigured(f"{name} must be a number from 0 to 1, got {raw!r}")
    return value


def _list(env: dict[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _read_or_create_secret(path: Path, nbytes: int = 48) -> str:
    """Return the secret stored at ``path``, generating it (mode 0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    # O_EXCL: two processes starting at once must not end up with different secrets.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def parse_issuer(value: str) -> str:
    """Validate ISSUER: RFC 8414 §2, an https URL with no query or fragment.

    http is accepted only for loopback hosts (local development). A trailing slash is
    refused rather than stripped: MCP clients compare the issuer byte for byte.
    """
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"ISSUER must be an absolute http(s) URL, got {value!r}")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ImproperlyConfigured("ISSUER must not have a query or fragment (RFC 8414 §2)")
    if value.endswith("/"):
        raise ImproperlyConfigured("ISSUER must not end with '/' (clients compare it exactly)")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ImproperlyConfigured("ISSUER must use https unless the host is loopback")
    return value


@dataclass(frozen=True)
class EmailConfig:
    """Outgoing mail (approval notices). No EMAIL_HOST: mail is written to the log (console
    backend), which is what the embedded default and development get."""

    host: str = ""
    port: int = 587
    user: str = ""
    password: str = ""
    use_tls: bool = True  # STARTTLS on 587; EMAIL_USE_SSL for implicit TLS on 465
    use_ssl: bool = False
    sender: str = "MCP Authorization Server <noreply@localhost>"


@dataclass(frozen=True)
class Config:
    debug: bool
    embedded: bool  # no DATABASE_URL: SQLite under var/, secrets kept in var/
    var_dir: Path
    secret_key: str
    key_encryption_keys: tuple[str, ...]  # first encrypts, all decrypt
    database_url: str
    redis_url: str  # "" when not configured
    issuer: str
    allowed_hosts: tuple[str, ...]
    access_token_lifetime: int
    access_token_max_lifetime: int
    refresh_token_lifetime: int
    refresh_token_idle_lifetime: int
    refresh_token_grace: int
    authorization_code_lifetime: int
    log_level: str
    signing_key_alg: str
    signing_key_rotation_days: int
    signing_key_publish_ahead_hours: int
    jwks_max_age: int
    service_documentation: str
    default_resource: str
    revocation_list_lifetime: int
    log_format: str
    dpop_proof_window: int
    dpop_nonce_required: bool
    metrics_token: str
    metrics_networks: tuple[str, ...]
    allow_http_loopback_resources: bool
    # Client registration policy (clients/policy.py, RFC 7591 / CIMD).
    registration_mode: str  # REGISTRATION_MODES (RFC 7591 §3, CIMD)
    registration_rate_limit: int  # POST /register per client IP per hour; 0 disables
    client_token_rate_limit: int  # token requests per client per minute; 0 disables
    max_dynamic_clients: int  # self-registered (DCR + CIMD) clients; 0 disables the cap
    dynamic_client_unused_days: int  # never used this long after registering: removed
    dynamic_client_idle_days: int  # not used for this long: removed
    trusted_proxy_count: int  # proxies that append to X-Forwarded-For in front of us
    cimd_enabled: bool
    cimd_allow_loopback: bool  # development: fetch documents from loopback hosts
    authzen_permit_audit_sample: float  # share of AuthZEN permits audited (every deny is)
    email: EmailConfig = EmailConfig()

    @property
    def issuer_is_https(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def dcr_on(self) -> bool:
        """Dynamic client registration (RFC 7591) is served."""
        return self.registration_mode in ("dcr+cimd", "open", "initial_access_token")

    @property
    def cimd_on(self) -> bool:
        """Client ID Metadata Documents are accepted for new clients."""
        return self.cimd_enabled and self.registration_mode != "closed"


def load(env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    debug = _bool(env, "DEBUG", False)
    var_dir = Path(env.get("VAR_DIR") or BASE_DIR / "var")
    database_url = env.get("DATABASE_URL", "").strip()
    embedded = not database_url
    if embedded:
        database_url = f"sqlite:///{var_dir / 'authserver.sqlite3'}"

    def secret(name: str, filename: str) -> str:
        value = env.get(name, "").strip()
        if value:
            return value
        if embedded or debug:
            return _read_or_create_secret(var_dir / filename)
        # zulip's get_mandatory_secret, without an escape hatch that turns it into "".
        raise ImproperlyConfigured(
            f"{name} is required when DATABASE_URL is set and DEBUG is off (see README)"
        )

    secret_key = secret("SECRET_KEY", "secret_key")
    kek_raw = secret("KEY_ENCRYPTION_KEY", "key_encryption_key")
    keks = tuple(k.strip() for k in kek_raw.split(",") if k.strip())
    for kek in keks:
        if len(kek) < 32:
            raise ImproperlyConfigured("each KEY_ENCRYPTION_KEY must be at least 32 characters")
    if len(secret_key) < 32:
        raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters")

    issuer = parse_issuer(env.get("ISSUER", "http://127.0.0.1:8000").strip())
    issuer_host = urlsplit(issuer).hostname or ""
    allowed_hosts = _list(env, "ALLOWED_HOSTS") or tuple(
        dict.fromkeys([issuer_host, "127.0.0.1", "localhost"])
    )

    access = _int(env, "ACCESS_TOKEN_LIFETIME", 300)
    access_max = _int(env, "ACCESS_TOKEN_MAX_LIFETIME", 3600)
    if access > access_max:
        raise ImproperlyConfigured("ACCESS_TOKEN_LIFETIME exceeds ACCESS_TOKEN_MAX_LIFETIME")

    alg = env.get("SIGNING_KEY_ALG", "ES256").strip()
    if alg not in SIGNING_ALGORITHMS:
        raise ImproperlyConfigured(f"SIGNING_KEY_ALG must be one of {SIGNING_ALGORITHMS}")
    rotation_days = _int(env, "SIGNING_KEY_ROTATION_DAYS", 30)
    publish_ahead = _int(env, "SIGNING_KEY_PUBLISH_AHEAD_HOURS", 24)
    jwks_max_age = _int(env, "JWKS_MAX_AGE", 3600, minimum=0)
    if publish_ahead * 3600 >= rotation_days * 86400:
        raise ImproperlyConfigured(
            "SIGNING_KEY_PUBLISH_AHEAD_HOURS must be shorter than a rotation"
        )
    if jwks_max_age >= publish_ahead * 3600:
        # A new key must be in every cached JWKS before it signs anything.
        raise ImproperlyConfigured("JWKS_MAX_AGE must be shorter than the publish-ahead time")

    registration_mode = env.get("REGISTRATION_MODE", "dcr+cimd").strip().lower()
    registration_mode = REGISTRATION_MODE_ALIASES.get(registration_mode, registration_mode)
    if registration_mode not in REGISTRATION_MODES:
        raise ImproperlyConfigured(f"REGISTRATION_MODE must be one of {REGISTRATION_MODES}")
    if registration_mode == "cimd-only" and not _bool(env, "CIMD_ENABLED", True):
        raise ImproperlyConfigured("REGISTRATION_MODE=cimd-only needs CIMD_ENABLED on")

    log_format = env.get("LOG_FORMAT", "text" if embedded else "json").strip().lower()
    if log_format not in ("json", "text"):
        raise ImproperlyConfigured("LOG_FORMAT must be json or text")
    metrics_networks = _list(env, "METRICS_ALLOWED_NETWORKS") or ("127.0.0.0/8", "::1/128")
    for network in metrics_networks:
        try:
            ipaddress.ip_network(network)
        except ValueError:
            raise ImproperlyConfigured(
                f"METRICS_ALLOWED_NETWORKS: bad network {network!r}"
            ) from None

    return Config(
        debug=debug,
        embedded=embedded,
        var_dir=var_dir,
        secret_key=secret_key,
        key_encryption_keys=keks,
        database_url=database_url,
        redis_url=env.get("REDIS_URL", "").strip(),
        issuer=issuer,
        allowed_hosts=allowed_hosts,
        access_token_lifetime=access,
        access_token_max_lifetime=access_max,
        refresh_token_lifetime=_int(env, "REFRESH_TOKEN_LIFETIME", 30 * 24 * 3600),
        refresh_token_idle_lifetime=_int(env, "REFRESH_TOKEN_IDLE_LIFETIME", 7 * 24 * 3600),
        # A rotated refresh token presented again this soon gets a sibling, not a revoked
        # family: parallel refreshes, lost answers (docs/TOKEN-ENDPOINT.md, "Token families").
        refresh_token_grace=_int(env, "REFRESH_TOKEN_GRACE_SECONDS", 60, minimum=0),
        authorization_code_lifetime=_int(env, "AUTHORIZATION_CODE_LIFETIME", 60),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        signing_key_alg=alg,
        signing_key_rotation_days=rotation_days,
        signing_key_publish_ahead_hours=publish_ahead,
        jwks_max_age=jwks_max_age,
        service_documentation=env.get("SERVICE_DOCUMENTATION", "").strip(),
        default_resource=env.get("DEFAULT_RESOURCE", "").strip(),
        revocation_list_lifetime=_int(env, "REVOCATION_LIST_LIFETIME", 300, minimum=20),
        log_format=log_format,
        dpop_proof_window=_int(env, "DPOP_PROOF_WINDOW", 60, minimum=5),
        dpop_nonce_required=_bool(env, "DPOP_NONCE_REQUIRED", False),
        metrics_token=env.get("METRICS_TOKEN", "").strip(),
        metrics_networks=metrics_networks,
        # Development: MCP servers on http://127.0.0.1 (the demo, tests). Off in production.
        allow_http_loopback_resources=_bool(
            env, "ALLOW_HTTP_LOOPBACK_RESOURCES", embedded or debug
        ),
        registration_mode=registration_mode,
        registration_rate_limit=_int(env, "REGISTRATION_RATE_LIMIT", 20, minimum=0),
        # Generous: ten a second, sustained, per client (token_endpoint/issuance_limit.py).
        client_token_rate_limit=_int(env, "CLIENT_TOKEN_RATE_LIMIT", 600, minimum=0),
        max_dynamic_clients=_int(env, "MAX_DYNAMIC_CLIENTS", 10000, minimum=0),
        dynamic_client_unused_days=_int(env, "DYNAMIC_CLIENT_UNUSED_DAYS", 1),
        dynamic_client_idle_days=_int(env, "DYNAMIC_CLIENT_IDLE_DAYS", 90),
        trusted_proxy_count=_int(env, "TRUSTED_PROXY_COUNT", 0, minimum=0),
        cimd_enabled=_bool(env, "CIMD_ENABLED", True),
        # Development only: documents served from 127.0.0.1 / ::1 / localhost (TLS, but the
        # certificate is not verified on loopback). Never in production (SSRF).
        cimd_allow_loopback=_bool(env, "CIMD_ALLOW_LOOPBACK", False),
        # docs/AUTHZEN.md, "Observable": every deny is audited, this share of permits.
        authzen_permit_audit_sample=_fraction(env, "AUTHZEN_PERMIT_AUDIT_SAMPLE", 0.01),
        email=_email(env),
    )


def _email(env: dict[str, str]) -> EmailConfig:
    use_ssl = _bool(env, "EMAIL_USE_SSL", False)
    use_tls = _bool(env, "EMAIL_USE_TLS", not use_ssl)
    if use_ssl and use_tls:
        raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other")
    return EmailConfig(
        host=env.get("EMAIL_HOST", "").strip(),
        port=_int(env, "EMAIL_PORT", 465 if use_ssl else 587),
        user=env.get("EMAIL_HOST_USER", "").strip(),
        password=env.get("EMAIL_HOST_PASSWORD", ""),
        use_tls=use_tls,
        use_ssl=use_ssl,
        sender=env.get("DEFAULT_FROM_EMAIL", "").strip() or EmailConfig.sender,
    )
