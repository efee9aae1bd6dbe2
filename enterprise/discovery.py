"""What enterprise adds to our RFC 8414 metadata, registered from ``EnterpriseConfig.ready``."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from authserver.ops import localcache
from authserver.token_endpoint import registry
from enterprise.models import TrustedIdentityProvider

# Enterprise-Managed Authorization (ext-auth, SEP-990): the ID-JAG grant profile.
ID_JAG_PROFILE = "urn:ietf:params:oauth:grant-profile:id-jag"


def id_jag_active() -> bool:
    """ID-JAGs are accepted only from an enabled trusted identity provider
    (enterprise/idjag.py), so the profile is advertised only while one exists."""
    return TrustedIdentityProvider.objects.filter(enabled=True).exists()


def metadata() -> dict:
    """Enterprise-Managed Authorization (ext-auth, 2026-06-18): an AS that accepts ID-JAGs
    MUST list the id-jag profile in RFC 8414 ``authorization_grant_profiles_supported``.
    Absent while no IdP is enabled, so no IdP or client is told to send what would be
    refused."""
    return {"authorization_grant_profiles_supported": [ID_JAG_PROFILE]} if id_jag_active() else {}


def _forget(sender, **kwargs) -> None:
    # The cached discovery documents (authserver.ops.fastpath) change with the IdP list.
    localcache.clear()


def register() -> None:
    registry.register_metadata("enterprise", metadata)
    post_save.connect(_forget, sender=TrustedIdentityProvider, dispatch_uid="idp-saved")
    post_delete.connect(_forget, sender=TrustedIdentityProvider, dispatch_uid="idp-deleted")
