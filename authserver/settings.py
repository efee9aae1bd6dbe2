"""Django settings. Values come from :mod:`authserver.config`; nothing is read here."""

from datetime import timedelta

import dj_database_url

from authserver import config as _config
from authserver.ops import vardir
from authserver.token_endpoint import grant_types

CONFIG = _config.load()
BASE_DIR = _config.BASE_DIR
if CONFIG.embedded:
    vardir.make_private(CONFIG.var_dir)  # var/ 0700, its files 0600, umask 077 from here on

DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)
ISSUER = CONFIG.issuer
AUTHZEN_PERMIT_AUDIT_SAMPLE = CONFIG.authzen_permit_audit_sample  # docs/AUTHZEN.md

INSTALLED_APPS = [
    # django-unfold's theme (its templates before the admin's), then the admin with our site
    # as admin.site (authserver.admin_site: sections by task, the admin's CSP).
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",  # text and date-range filters (the audit list)
    "authserver.admin_site.OperatorsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "oauth2_provider",
    "authserver",
    "accounts",
    "clients",
    "enterprise",
    "connections",
    "authzen",
    "approvals",
]

MIDDLEWARE = [
    "authserver.ops.logs.RequestIdMiddleware",
    "authserver.ops.fastpath.FastDocumentsMiddleware",
    "authserver.ops.metrics.MetricsMiddleware",
    # /token, /introspect, /revoke, /register and AuthZEN's decisions go on through the rest
    # of this list without BROWSER_MIDDLEWARE below (authserver.ops.machine).
    "authserver.ops.machine.MachineEndpointsMiddleware",
    # Views' unexpected exceptions on machine endpoints: bare JSON server_error (after the
    # middleware below has turned an unreachable database into a 503).
    "authserver.errors.middleware.ErrorMiddleware",
    "authserver.ops.availability.DependencyUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "authserver.ops.cors.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "authserver.ops.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# What only pages need (static files, sessions, CSRF, sign-in, messages, allauth): machine
# endpoints skip these (authserver.ops.machine; ~0.6 ms of a token request's CPU).
BROWSER_MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

# CORS for browser-based MCP clients (the MCP Inspector calls us from a web page), by
# django-cors-headers (authserver.ops.cors): ``Access-Control-Allow-Origin: *`` without
# credentials, only on the machine-facing endpoints (discovery, JWKS, registration, token,
# revocation, introspection, the revocation list); never on the authorization endpoint,
# consent, login or admin, which rely on the user's cookies.
CORS_URLS_REGEX = (
    r"^(?:/(?:token|revoke|introspect|register|jwks\.json|revocations)$"
    r"|/\.well-known/|/register/|.*/\.well-known/openid-configuration$)"
)
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
# MCP Inspector preflights with mcp-protocol-version (modelcontextprotocol/inspector#758).
CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "MCP-Protocol-Version", "If-None-Match"]
CORS_EXPOSE_HEADERS = ["WWW-Authenticate", "ETag", "Cache-Control"]
CORS_PREFLIGHT_MAX_AGE = 86400

ROOT_URLCONF = "authserver.urls"
WSGI_APPLICATION = "authserver.wsgi.application"
ASGI_APPLICATION = "authserver.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(CONFIG.database_url, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: WAL lets the web process and the job worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if CONFIG.redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CONFIG.redis_url,
            "KEY_PREFIX": "authserver",
            # Fail fast when Redis is down: readiness and rate limits must not hang.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    # The embedded default runs several processes (gunicorn, the Celery worker): they must
    # share one cache, or the worker's fresh revocation list, login failure counts and rate
    # limits stay private to the process that wrote them (docs/SECURITY.md). Files under var/ need
    # no server and no extra table.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(CONFIG.var_dir / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = CONFIG.var_dir / "static"  # collectstatic target (deploy/)
STATICFILES_DIRS = [BASE_DIR / "authserver" / "static"]
# Serve straight from the app folders too, so the embedded default needs no collectstatic.
WHITENOISE_USE_FINDERS = True

# Security headers (the CSP itself is set by authserver.ops.middleware).
X_FRAME_OPTIONS = "DENY"
# Not "no-referrer": under it Chrome sends `Origin: null` with same-origin form posts, which
# Django's CSRF origin check rightly refuses. "same-origin" still sends nothing to any other
# origin (no URL with a code or state leaks to third parties).
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 12 * 3600
# Secure cookies and HSTS whenever we are served over https in production. The embedded
# default on http://127.0.0.1 keeps plain cookies, or a browser could never sign in there.
_HTTPS_PRODUCTION = CONFIG.issuer_is_https and not DEBUG
SESSION_COOKIE_SECURE = _HTTPS_PRODUCTION
CSRF_COOKIE_SECURE = _HTTPS_PRODUCTION
SECURE_HSTS_SECONDS = 31536000 if _HTTPS_PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _HTTPS_PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if CONFIG.issuer_is_https else None
CSRF_TRUSTED_ORIGINS = [CONFIG.issuer.split("/", 3)[0] + "//" + CONFIG.issuer.split("/", 3)[2]]

# django-oauth-toolkit: models are swapped to ours before the first migration.
OAUTH2_PROVIDER_APPLICATION_MODEL = "clients.Client"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "authserver.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "authserver.RefreshToken"
OAUTH2_PROVIDER_GRANT_MODEL = "authserver.Grant"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "authserver.IDToken"

OAUTH2_PROVIDER = {
    "APPLICATION_ADMIN_CLASS": "clients.admin.ClientAdmin",
    "ACCESS_TOKEN_ADMIN_CLASS": "authserver.admin.AccessTokenAdmin",
    "REFRESH_TOKEN_ADMIN_CLASS": "authserver.admin.RefreshTokenAdmin",
    "GRANT_ADMIN_CLASS": "authserver.admin.GrantAdmin",
    "ID_TOKEN_ADMIN_CLASS": "authserver.admin.IDTokenAdmin",
    "OIDC_ISS_ENDPOINT": CONFIG.issuer,
    # Our extensions, through DOT's documented hooks.
    "OAUTH2_SERVER_CLASS": "authserver.authorization.server.AuthorizationServer",
    "OAUTH2_VALIDATOR_CLASS": "authserver.authorization.validators.Validator",
    "SCOPES_BACKEND_CLASS": "authserver.resources.registry.ResourceScopes",
    # Client ID Metadata Documents: DOT's SSRF-hardened fetcher, our validation (clients/cimd.py).
    "CIMD_ENABLED": CONFIG.cimd_on,  # REGISTRATION_MODE=closed turns documents off too
    "CIMD_METADATA_FETCHER": "clients.cimd.MetadataFetcher",
    "CIMD_REGISTRATION_PERMISSION_CLASSES": ["clients.cimd.DynamicClientCapPermission"],
    "PKCE_REQUIRED": True,
    # DOT's alphabet and lengths, one read of the random source each (clients.generators).
    "CLIENT_ID_GENERATOR_CLASS": "clients.generators.ClientIdGenerator",
    "CLIENT_SECRET_GENERATOR_CLASS": "clients.generators.ClientSecretGenerator",
    "ACCESS_TOKEN_EXPIRE_SECONDS": CONFIG.access_token_lifetime,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": CONFIG.authorization_code_lifetime,
    "REFRESH_TOKEN_EXPIRE_SECONDS": CONFIG.refresh_token_idle_lifetime,
    # DOT's grace period re-sends the old token, which hashed storage cannot; our refresh
    # rotation implements the grace window itself (REFRESH_TOKEN_GRACE_SECONDS).
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ROTATE_REFRESH_TOKEN": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "ALLOW_LOCALHOST_LOOPBACK": True,
    "SCOPES": {"offline_access": "Stay connected: refresh access without signing in again"},
    "DEFAULT_SCOPES": [],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    # RFC 8414 §2 grant_types_supported: the one list (authserver/token_endpoint/grant_types.py).
    "OAUTH2_GRANT_TYPES_SUPPORTED": list(grant_types.SUPPORTED),
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "none",
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",  # RFC 7523 §2.2 (enterprise/client_assertion.py)
    ],
    # RFC 9700 gates, all on: no implicit, no password grant, no PKCE plain, iss (RFC 9207)
    # on authorization responses, tokens never stored in plaintext.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    # http stays allowed for loopback redirect URIs (RFC 8252 §7.3); our registration
    # validation refuses http on any other host.
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": False,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}

# Outgoing mail (approval notices, docs/APPROVALS.md): SMTP when EMAIL_HOST is set, else the
# console backend (the message goes to the log; the embedded default and development).
if CONFIG.email.host:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = CONFIG.email.host
    EMAIL_PORT = CONFIG.email.port
    EMAIL_HOST_USER = CONFIG.email.user
    EMAIL_HOST_PASSWORD = CONFIG.email.password
    EMAIL_USE_TLS = CONFIG.email.use_tls
    EMAIL_USE_SSL = CONFIG.email.use_ssl
    EMAIL_TIMEOUT = 10
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = CONFIG.email.sender

# Celery: Redis when configured; otherwise a broker that needs no server (files under var/),
# so the embedded default still runs its background jobs.
if CONFIG.redis_url:
    CELERY_BROKER_URL = CONFIG.redis_url
    CELERY_RESULT_BACKEND = CONFIG.redis_url
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
else:
    _celery_dir = CONFIG.var_dir / "celery"
    # An explicit host: a bare "filesystem://" makes kombu warn on every connection.
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_RESULT_BACKEND = None
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
# Publishing must fail fast when the broker is down: callers fall back to doing the work
# inline (authserver.revocation.published._enqueue) instead of hanging a request.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(CONFIG.var_dir / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    # Keeps the list's signature fresh and drops expired entries; revocations also publish
    # at once (authserver.revocation.published.schedule_publication).
    "publish-revocation-list": {
        "task": "authserver.tasks.publish_revocation_list",
        "schedule": timedelta(seconds=max(CONFIG.revocation_list_lifetime // 4, 5)),
    },
    "remove-stale-clients": {
        "task": "clients.tasks.remove_stale_clients",
        "schedule": timedelta(hours=6),
    },
    "seal-audit-trail": {
        "task": "authserver.tasks.seal_audit_trail",
        "schedule": timedelta(seconds=10),
    },
    # Audit sinks (authserver.audit_sinks): sealing kicks them too; this catches up after
    # a sink was down and its task's retries ran out.
    "stream-audit-trail": {
        "task": "authserver.tasks.stream_audit_trail",
        "schedule": timedelta(seconds=30),
    },
    # Advances the key schedule (publish ahead, activate, retire); idempotent.
    "rotate-signing-keys": {
        "task": "authserver.tasks.rotate_signing_keys",
        "schedule": timedelta(minutes=15),
    },
    # Upstream tokens refreshed ahead of expiry (connections.tasks; docs/CONNECTIONS.md);
    # connections.services.REFRESH_JOB_INTERVAL is this period (it looks one period ahead).
    "refresh-upstream-connections": {
        "task": "connections.tasks.refresh_due_connections",
        "schedule": timedelta(seconds=60),
    },
    "clear-expired-grants": {
        "task": "authserver.tasks.clear_expired_tokens",
        "schedule": timedelta(hours=1),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "authserver.ops.logs.RedactionFilter"},
        "request_id": {"()": "authserver.ops.logs.RequestIdFilter"},
    },
    "formatters": {
        "json": {"()": "authserver.ops.logs.JsonLogFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": CONFIG.log_format,
            # Every record passes the redaction filter, whoever logged it.
            "filters": ["request_id", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": CONFIG.log_level},
    "loggers": {
        # Django's defaults give "django" and "django.server" (runserver's request lines, with
        # query strings) handlers of their own, without the redaction filter: replace them.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # oauthlib and DOT debug-log request bodies, secrets included: never below WARNING.
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
        # httpx logs every request URL at INFO (connections' upstream calls): keep them out.
        "httpx": {"level": "WARNING"},
    },
}

# --- Upstream sign-in, group policy and SCIM (docs/IDENTITY.md) ----------------------------
from accounts.upstream import config as _upstream_config  # noqa: E402

UPSTREAM = _upstream_config.load()
LOCAL_LOGIN = UPSTREAM.local_login  # false: password sign-in only for staff (break-glass)
INSTALLED_APPS += [
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.github",
]
MIDDLEWARE.append("allauth.account.middleware.AccountMiddleware")
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
SOCIALACCOUNT_PROVIDERS = UPSTREAM.providers
SOCIALACCOUNT_ADAPTER = "accounts.upstream.adapter.SocialAccountAdapter"
ACCOUNT_ADAPTER = "accounts.upstream.adapter.AccountAdapter"
SOCIALACCOUNT_ONLY = True  # allauth's own password, sign-up and reset views stay off
ACCOUNT_EMAIL_VERIFICATION = "none"  # the provider vouches (email_verified), we send no mail
ACCOUNT_UNIQUE_EMAIL = False  # an email alone never links or blocks an account
SOCIALACCOUNT_AUTO_SIGNUP = True  # first sign-in provisions (after the admission rules)
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # per provider: settings "email_authentication"
# Never allauth's email linking (the adapter's authenticate_by_email returns nothing, so its
# wipe_password never runs); ours links only where docs/IDENTITY.md says. Off here as well.
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_STORE_TOKENS = False  # upstream tokens are used once, never kept
SOCIALACCOUNT_LOGIN_ON_GET = False  # start a sign-in only by a CSRF-protected POST
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_REQUESTS_TIMEOUT = 5
