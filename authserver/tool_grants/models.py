"""The admin's tool policy per resource: which tools a client, a group or everyone may use."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models

from authserver.tool_grants.details import registered_tools
from mcp_token_verifier.tools import MalformedDetails, validate_constraint


class ToolPolicy(models.Model):
    """One allow or deny rule for some tools of one MCP server.

    Deny wins. A tool named by any allow rule of its resource is reserved to whoever those
    allow rules match, with their argument constraints; a tool no rule names stays available
    to everyone its scopes reach (docs/TOOL-AUTHORIZATION.md).
    """

    class Effect(models.TextChoices):
        ALLOW = "allow", "allow"
        DENY = "deny", "deny"

    resource = models.ForeignKey(
        "authserver.Resource", on_delete=models.CASCADE, related_name="tool_policies"
    )
    effect = models.CharField(max_length=5, choices=Effect.choices, default=Effect.ALLOW)
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tool_policies",
        help_text="Only this client (leave client and group empty for everyone).",
    )
    group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        # A group a rule names cannot be deleted: an allow rule cascading away would open
        # its tools to everyone (docs/IDENTITY.md, "Groups that policies name").
        on_delete=models.PROTECT,
        related_name="tool_policies",
        help_text="Only users of this group.",
    )
    tools = models.JSONField(
        default=list, help_text='Tool names of this resource, e.g. ["add_note"]; "*" = all.'
    )
    constraints = models.JSONField(
        default=dict,
        blank=True,
        help_text="Allow rules only: argument constraints for every listed tool, e.g. "
        '{"text": {"prefix": "todo:"}}. Keys: const, enum, prefix, pattern, maximum.',
    )
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True, help_text="Why this rule exists.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "authserver"
        verbose_name_plural = "tool policies"
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(client__isnull=False) & models.Q(group__isnull=False)),
                name="tool_policy_client_or_group",
            )
        ]

    def __str__(self) -> str:
        return f"{self.effect} {', '.join(self.tools)} for {self.audience} @ {self.resource_id}"

    @property
    def audience(self) -> str:
        if self.client_id:
            return f"client {self.client}"
        if self.group_id:
            return f"group {self.group}"
        return "everyone"

    def clean(self) -> None:
        if self.client_id and self.group_id:
            raise ValidationError("a rule is for a client, a group, or everyone; not both")
        if not isinstance(self.tools, list) or not self.tools:
            raise ValidationError({"tools": "a non-empty list of tool names"})
        if self.resource_id is not None and self.tools != ["*"]:
            known = registered_tools(self.resource)
            unknown = [t for t in self.tools if t not in known]
            if unknown:
                raise ValidationError({"tools": f"not registered by this resource: {unknown}"})
        if not isinstance(self.constraints, dict):
            raise ValidationError({"constraints": "an object keyed by argument name"})
        if self.constraints and self.effect == self.Effect.DENY:
            raise ValidationError({"constraints": "a deny rule takes no constraints"})
        try:
            for value in self.constraints.values():
                validate_constraint(value)
        except MalformedDetails as exc:
            raise ValidationError({"constraints": str(exc)}) from None
