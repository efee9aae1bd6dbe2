"""The Cedar policy admin's "Test a request" form: a question an admin types, decided by the
decision point's own function (``services.decide``) on current rows, with its reasons.

Nothing is written: not the audit trail (a test grants nothing, and the admin's own views
are not audited either), not the metrics, not the cache. Which Cedar policy refused is found
by evaluating each enabled policy alone beside the base permit (only here, not on the hot
path, where one parsed set decides).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cedarpy
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from authserver.models import Resource
from authserver.policy import ToolDecision
from authzen import mapping, services
from authzen.models import CedarPolicy
from clients.models import Client
from mcp_token_verifier.strictjson import loads_json_object
from mcp_token_verifier.tools import MAX_TOOL_NAME


class TrialForm(forms.Form):
    """A question as the PDP receives it (docs/AUTHZEN.md, "The mapping"), each field
    checked on its own so an error names what is wrong."""

    user = forms.CharField(
        required=False,
        max_length=150,
        widget=UnfoldAdminTextInputWidget,
        help_text="Username or numeric id of the person. Empty: the agent acts for itself.",
    )
    agent = forms.CharField(
        max_length=255,
        widget=UnfoldAdminTextInputWidget,
        help_text="The client_id of the agent (client).",
    )
    server = forms.ModelChoiceField(
        queryset=Resource.objects.order_by("name"),
        label="MCP server",
        empty_label=None,
        widget=UnfoldAdminSelectWidget,
    )
    tool = forms.CharField(max_length=MAX_TOOL_NAME, widget=UnfoldAdminTextInputWidget)
    arguments = forms.CharField(
        required=False,
        max_length=mapping.MAX_ARGUMENTS,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="The call's arguments, a JSON object (empty: {}). "
        f"At most {mapping.MAX_ARGUMENTS:,} characters.",
    )

    def clean_user(self):
        value = self.cleaned_data["user"].strip()
        if not value:
            return None
        users = get_user_model().objects
        found = users.filter(username=value).first()
        if found is None and value.isascii() and value.isdigit() and len(value) <= 18:
            found = users.filter(pk=int(value)).first()
        if found is None:
            raise forms.ValidationError("No person has this username or id.")
        return found

    def clean_agent(self):
        value = self.cleaned_data["agent"].strip()
        agent = Client.objects.filter(client_id=value).first()
        if agent is None:
            raise forms.ValidationError("No client has this client_id.")
        return agent

    def clean_arguments(self):
        text = self.cleaned_data["arguments"].strip() or "{}"
        try:
            return loads_json_object(text.encode())
        except ValueError as exc:  # RFC 8259 object, no duplicate member names
            raise forms.ValidationError(f"Not a JSON object: {str(exc)[:200]}") from None


@dataclass(frozen=True)
class Trial:
    decision: ToolDecision
    question: mapping.Question
    forbidding: list[CedarPolicy] = field(default_factory=list)
    policies: list[CedarPolicy] = field(default_factory=list)


def run(form: TrialForm, *, tester: str) -> Trial:
    """Decide the form's question as the PDP would for a PEP protecting that server."""
    data = form.cleaned_data
    user, agent, server = data["user"], data["agent"], data["server"]
    question = mapping.Question(
        subject_type="client" if user is None else "user",
        subject_id=agent.client_id if user is None else str(user.pk),
        agent=agent.client_id,
        server=server.identifier,
        tool=data["tool"].strip(),
        arguments=data["arguments"],
    )
    caller = services.Caller(tester, frozenset({server.identifier}))  # current rows, no cache
    decision = services.decide(caller, question, now=timezone.now(), record=False)
    policies = list(
        CedarPolicy.objects.filter(Q(resource=server) | Q(resource=None), enabled=True)
        .select_related("resource")
        .order_by("pk")
    )
    forbidding = []
    if decision.code == "cedar_forbid":
        forbidding = _forbidding(question, server, user, policies)
    return Trial(decision, question, forbidding, policies)


def _forbidding(question, server, user, policies: list[CedarPolicy]) -> list[CedarPolicy]:
    request = services.cedar_request(question, server)
    entities = services.principal_entities(question, user)
    found = []
    for policy in policies:
        try:
            result = cedarpy.is_authorized(
                request, "\n".join([services.BASE_PERMIT, policy.source]), entities
            )
        except Exception:  # noqa: S112 - an engine error is shown as the decision already
            continue
        if result.decision != cedarpy.Decision.Allow:
            found.append(policy)
    return found
