"""The core's registries (authserver.token_endpoint.registry): a name is taken once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from authserver.token_endpoint import registry


def test_a_feature_cannot_replace_a_grant_another_serves():
    """Every registry refuses a second registration under a taken name: a feature's class
    for ``authorization_code`` would otherwise silently replace the core's PKCE-checking one."""
    from authserver.token_endpoint.grants.base import Grant

    class Lenient(Grant):
        grant_type = "authorization_code"

    with pytest.raises(ImproperlyConfigured):
        registry.register_grant(Lenient)
    assert registry.GRANTS["authorization_code"] is not Lenient
