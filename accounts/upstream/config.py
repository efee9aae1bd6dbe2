"""Upstream sign-in settings from the environment: LOCAL_LOGIN and UPSTREAM_PROVIDERS.

``UPSTREAM_PROVIDERS`` is a JSON list; each entry becomes a django-allauth app (the same thing
an admin creates as a "Social application" in Django admin). Example::

    [{"provider": "openid_connect", "id": "okta", "name": "Okta",
      "client_id": "0oa...", "secret": "...", "server_url": "https://acme.okta.com",
      "allowed_email_domains": ["acme.com"], "groups_claim": "groups"},
     {"provider": "github", "id": "github", "name": "GitHub", "client_id": "...",
      "secret": "...", "github_org": "acme"}]

Admission and linking keys (``allowed_email_domains``, ``tenant_id``, ``github_org``,
``groups_claim``, ``groups_map``, ``email_authentication``, ``email_authoritative_domains``,
``scim_external_id_claim``) go to the app's
``settings``, where an admin sets the same keys for apps created in Django admin.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

PROVIDERS = ("openid_connect", "github")
RULE_KEYS = (
    "allowed_email_domains",
    "tenant_id",
    "github_org",
    "groups_claim",
    "email_authentication",
    "email_authoritative_domains",
    "groups_map",
    "scim_external_id_claim",
)
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass(frozen=True)
class UpstreamConfig:
    local_login: bool
    providers: dict  # allauth's SOCIALACCOUNT_PROVIDERS


def _app(entry: object, index: int) -> tuple[str, dict]:
    if not isinstance(entry, dict):
        raise ImproperlyConfigured(f"UPSTREAM_PROVIDERS[{index}] must be an object")
    provider = entry.get("provider")
    if provider not in PROVIDERS:
        raise ImproperlyConfigured(f"UPSTREAM_PROVIDERS[{index}].provider must be in {PROVIDERS}")
    for key in ("client_id", "secret", "name"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ImproperlyConfigured(f"UPSTREAM_PROVIDERS[{index}].{key} is required")
    provider_id = entry.get("id", provider)
    if not isinstance(provider_id, str) or not _ID.fullmatch(provider_id):
        raise ImproperlyConfigured(f"UPSTREAM_PROVIDERS[{index}].id must be a short slug")
    app_settings = {k: entry[k] for k in RULE_KEYS if k in entry}
    if provider == "openid_connect":
        server_url = entry.get("server_url", "")
        # OpenID Connect Discovery §4: the issuer must be https (loopback http for tests).
        if not (
            server_url.startswith("https://")
            or server_url.startswith(("http://127.0.0.1", "http://localhost"))
        ):
            raise ImproperlyConfigured(f"UPSTREAM_PROVIDERS[{index}].server_url must be https")
        app_settings["server_url"] = server_url
        app_settings["oauth_pkce_enabled"] = True
        if "scope" in entry:
            app_settings["scope"] = entry["scope"]
    for key in ("allowed_email_domains", "email_authoritative_domains"):
        domains = app_settings.get(key, [])
        if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
            raise ImproperlyConfigured(f"UPSTREAM_PROVIDERS[{index}].{key}: list of strings")
    mapping = app_settings.get("groups_map", {})
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise ImproperlyConfigured(f"UPSTREAM_PROVIDERS[{index}].groups_map: object of strings")
    app = {
        "provider_id": provider_id,
        "name": entry["name"],
        "client_id": entry["client_id"],
        "secret": entry["secret"],
        "settings": app_settings,
    }
    return provider, app


def load(env: dict[str, str] | None = None) -> UpstreamConfig:
    env = dict(os.environ if env is None else env)
    raw_local = env.get("LOCAL_LOGIN", "true").strip().lower()
    if raw_local not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ImproperlyConfigured(f"LOCAL_LOGIN must be a boolean, got {raw_local!r}")
    try:
        entries = json.loads(env.get("UPSTREAM_PROVIDERS", "").strip() or "[]")
    except ValueError:
        raise ImproperlyConfigured("UPSTREAM_PROVIDERS must be a JSON list") from None
    if not isinstance(entries, list):
        raise ImproperlyConfigured("UPSTREAM_PROVIDERS must be a JSON list")
    providers: dict = {
        "openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": []},
        "github": {"SCOPE": ["read:user", "user:email", "read:org"], "APPS": []},
    }
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        provider, app = _app(entry, index)
        if app["provider_id"] in seen:
            raise ImproperlyConfigured(f"UPSTREAM_PROVIDERS: duplicate id {app['provider_id']}")
        seen.add(app["provider_id"])
        providers[provider]["APPS"].append(app)
    return UpstreamConfig(local_login=raw_local in ("1", "true", "yes", "on"), providers=providers)
