"""Remembered consent: what a user allowed a client to do at one MCP server."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Consent(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="consents",
    )
    resource = models.ForeignKey(
        "authserver.Resource", on_delete=models.CASCADE, related_name="consents"
    )
    scope = models.TextField(help_text="Space-separated scopes the user allowed.")
    declined_tools = models.JSONField(
        default=list, blank=True, help_text="Tools the user unticked (authserver.tool_grants)."
    )
    consented_tools = models.JSONField(
        default=list,
        blank=True,
        help_text="Tools the user was shown on the consent screen (ticked or not): what this "
        "remembered consent covers. A tool the MCP server added since is asked about again.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client", "resource"], name="one_consent_per_user_client_resource"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} -> {self.client} @ {self.resource.identifier}"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()


from accounts.scim.models import ScimIdentity, ScimToken  # noqa: E402, F401 - docs/IDENTITY.md
