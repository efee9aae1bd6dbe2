"""What enterprise adds to our RFC 8414 metadata, registered from ``EnterpriseConfig.ready``."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from authserver.ops import localcache
from authserver.protocol import metadata
from enterprise.models import TrustedIdentityProvider

# Enterprise-Managed Authorization (ext-auth, SEP-990): the ID-JAG grant profile.
ID_JAG_PROFILE = "urn:ietf:params:oauth:grant-profile:id-jag"


def id_jag_active() -> bool:
    """ID-JAGs are accepted only from an enabled trusted identity provider
    (enterprise/idjag.py), so the profile is advertised only while one exists."""
    return TrustedIdentityProvider.objects.filter(enabled=True).exists()


def _forget(sender, **kwargs) -> None:
    # The cached discovery documents (authserver.ops.fastpath) change with the IdP list.
    localcache.clear()


def register() -> None:
    metadata.register_grant_profile(ID_JAG_PROFILE, id_jag_active)
    post_save.connect(_forget, sender=TrustedIdentityProvider, dispatch_uid="idp-saved")
    post_delete.connect(_forget, sender=TrustedIdentityProvider, dispatch_uid="idp-deleted")
