"""Cedar policies an admin writes: they can only refuse what the server's own rules allow."""

from __future__ import annotations

import cedarpy
from django.core.exceptions import ValidationError
from django.db import models

MAX_POLICY = 20_000


class CedarPolicy(models.Model):
    """Cedar source evaluated at every live decision for one MCP server (or all of them).

    The request: principal ``User::"<sub>"`` (or ``Client::"<client_id>"``), action
    ``Action::"<tool>"``, resource ``McpServer::"<identifier>"``, context ``{"arguments",
    "client_id"}``. Evaluated together with ``permit(principal, action, resource);`` so a
    ``forbid`` refuses and nothing else can widen what the server's rules decided.
    """

    resource = models.ForeignKey(
        "authserver.Resource",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="cedar_policies",
        help_text="The MCP server these policies apply to (empty: every server).",
    )
    name = models.CharField(max_length=120)
    source = models.TextField(help_text="Cedar policies, e.g. forbid(...) when {...};")
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Cedar policy"
        verbose_name_plural = "Cedar policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if len(self.source) > MAX_POLICY:
            raise ValidationError({"source": f"at most {MAX_POLICY} characters"})
        problem = cedar_syntax_error(self.source)
        if problem:
            raise ValidationError({"source": problem})


def cedar_syntax_error(source: str) -> str:
    """Why ``source`` is not a Cedar policy set ("" when it is)."""
    if not source.strip():
        return "write at least one policy"
    try:
        cedarpy.PolicySet.from_str(source)
    except Exception as exc:  # cedarpy raises ValueError subclasses from Rust
        return f"not valid Cedar: {str(exc)[:300]}"
    return ""
