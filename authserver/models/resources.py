"""MCP servers (RFC 8707 resources), their scopes, client credentials access, exchange policies."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from authserver.protocol.resources import canonicalize, validate_registered_identifier
from authserver.protocol.scopes import is_scope_token


def _validate_scope_token(value: str) -> None:
    if not is_scope_token(value) or value == "offline_access":
        raise ValidationError(
            "a scope name is printable ASCII without spaces, quotes or backslashes "
            "(RFC 6749 §3.3), and offline_access is reserved"
        )


class Resource(models.Model):
    """An MCP server we issue tokens for (an RFC 8707 resource; the tokens' ``aud``)."""

    identifier = models.CharField(
        max_length=512,
        unique=True,
        help_text="Exactly the `resource` the MCP server publishes in its RFC 9728 metadata; "
        "tokens carry it as `aud`.",
    )
    canonical = models.CharField(max_length=512, unique=True, editable=False)
    name = models.CharField(max_length=120, help_text="Shown to users on the consent screen.")
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    access_token_lifetime = models.PositiveIntegerField(
        default=300, help_text="Seconds (at most ACCESS_TOKEN_MAX_LIFETIME)."
    )
    issue_refresh_tokens = models.BooleanField(
        default=True, help_text="Issue refresh tokens to clients that ask for offline_access."
    )
    require_dpop = models.BooleanField(
        default=False, help_text="Only DPoP-bound tokens (RFC 9449) for this MCP server."
    )
    require_sender_constrained_exchange = models.BooleanField(
        default=False,
        help_text="Token exchange (RFC 8693) from or to this MCP server: a DPoP-bound subject "
        "token is exchanged only for a DPoP-bound token (the exchanging party proves its own "
        "key), never for a Bearer token.",
    )
    introspection_client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="introspects_for",
        help_text="Confidential client this MCP server authenticates with at /introspect.",
    )
    allowed_groups = models.ManyToManyField(  # docs/IDENTITY.md, "Groups and central policy"
        "auth.Group", blank=True, related_name="+", help_text="Only these groups (empty: all)."
    )
    high_risk_tools = models.JSONField(
        default=list,
        blank=True,
        help_text="Tools of this MCP server that always need fresh consent: a remembered "
        'consent never grants them silently, e.g. ["delete_note"] (docs/TOOL-AUTHORIZATION.md).',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"

    def save(self, *args, **kwargs) -> None:
        self.canonical = canonicalize(self.identifier)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        try:
            canonical = validate_registered_identifier(self.identifier)
        except Exception as exc:
            raise ValidationError({"identifier": str(getattr(exc, "description", exc))}) from exc
        # authserver.protocol.resources: spellings with one canonical form are one MCP server.
        twin = Resource.objects.filter(canonical=canonical).exclude(pk=self.pk).first()
        if twin is not None:
            raise ValidationError(
                {"identifier": f"the same MCP server as {twin.identifier!r} (docs/clients.md)"}
            )
        self._clean_high_risk_tools()
        max_lifetime = settings.CONFIG.access_token_max_lifetime
        if not 1 <= self.access_token_lifetime <= max_lifetime:
            raise ValidationError(
                {"access_token_lifetime": f"between 1 and {max_lifetime} seconds"}
            )

    def _clean_high_risk_tools(self) -> None:
        if self.high_risk_tools in (None, ""):  # an empty admin field
            self.high_risk_tools = []
        names = self.high_risk_tools
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValidationError({"high_risk_tools": "a list of tool names"})
        if self.pk is None:
            return
        known = {tool for tools in self.scopes.values_list("tools", flat=True) for tool in tools}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValidationError(
                {
                    "high_risk_tools": f"not registered by this MCP server's scopes: {unknown} "
                    "(save a new tool in its scope first)"
                }
            )


class Scope(models.Model):
    """A scope an MCP server defines, with the words and tools a user sees on consent."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="scopes")
    name = models.CharField(max_length=64, validators=[_validate_scope_token])
    description = models.CharField(max_length=300, help_text="Plain words: what it allows.")
    tools = models.JSONField(
        default=list, blank=True, help_text="Names of the MCP tools this scope unlocks."
    )
    is_default = models.BooleanField(
        default=False, help_text="Granted when a request names no scope of this resource."
    )
    implies = models.JSONField(
        default=list,
        blank=True,
        help_text="Scopes of this MCP server that this one includes (MCP scope hierarchies, "
        "SEP-2350): e.g. notes:write implies notes:read. Granted together; consent shows both.",
    )
    allowed_groups = models.ManyToManyField(  # docs/IDENTITY.md, "Groups and central policy"
        "auth.Group", blank=True, related_name="+", help_text="Only these groups (empty: all)."
    )

    class Meta:
        ordering = ("resource", "name")
        constraints = [
            models.UniqueConstraint(fields=["resource", "name"], name="unique_scope_per_resource")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Names of scopes this MCP server defines, never itself (a cycle through others is
        # harmless: authserver.protocol.scopes.with_implied follows each scope once).
        if not isinstance(self.implies, list) or not all(isinstance(n, str) for n in self.implies):
            raise ValidationError({"implies": "a list of scope names"})
        if self.name in self.implies:
            raise ValidationError({"implies": "a scope does not imply itself"})
        if self.resource_id is None:
            return
        defined = set(self.resource.scopes.values_list("name", flat=True))
        unknown = [n for n in self.implies if n not in defined]
        if unknown:
            raise ValidationError({"implies": f"not defined by this resource: {' '.join(unknown)}"})


class ResourceAccess(models.Model):
    """What an admin allows a (confidential) client to get with client credentials."""

    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="resource_access",
    )
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="access")
    scope = models.TextField(
        help_text="Space-separated scopes of this resource the client may get."
    )

    class Meta:
        verbose_name_plural = "resource access"
        constraints = [
            models.UniqueConstraint(fields=["client", "resource"], name="unique_access_per_pair")
        ]

    def __str__(self) -> str:
        return f"{self.client} -> {self.resource.identifier}"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def clean(self) -> None:
        if self.resource_id is None:
            return
        defined = set(self.resource.scopes.values_list("name", flat=True))
        unknown = [s for s in self.scopes if s not in defined]
        if unknown:
            raise ValidationError({"scope": f"not defined by this resource: {' '.join(unknown)}"})


class TokenExchangePolicy(models.Model):
    """RFC 8693: which client may exchange a token for resource ``source`` into one for
    ``target``, carrying at most ``scope``. No policy, no exchange."""

    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="exchange_policies",
        help_text="The exchanging client (an MCP server or gateway acting for `source`).",
    )
    source = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="+")
    scope = models.TextField(help_text="Space-separated scopes of the target it may carry.")
    enabled = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "token exchange policies"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "source", "target"], name="one_policy_per_exchange"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client}: {self.source.identifier} -> {self.target.identifier}"

    def clean(self) -> None:
        if self.target_id is None:
            return
        defined = set(self.target.scopes.values_list("name", flat=True))
        unknown = [s for s in self.scope.split() if s not in defined]
        if unknown:
            raise ValidationError({"scope": f"not defined by the target: {' '.join(unknown)}"})
