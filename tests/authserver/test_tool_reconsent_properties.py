"""Re-consent when a scope grows, as a state machine over /authorize and /token (Django's test
client, PostgreSQL).

hypothesis drives: the user answers a consent screen (ticking any subset of what is shown),
the client authorizes silently (``prompt=none``), the admin adds a tool to a scope, removes
one, or marks one high-risk, the client refreshes. After every token it checks:

* a token from an authorization carries only tools the user ticked on some screen and has
  not unticked since;
* a silent authorization never carries a tool that is high-risk at that moment;
* a refreshed token carries only tools its grant's own authorization carried.
"""

from __future__ import annotations

import itertools
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client as HttpClient
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from authserver.models import Scope
from tests.conftest import PASSWORD
from tests.factories import make_client, make_resource
from tests.oauthflow import (
    authorize_url,
    consent_request_id,
    exchange,
    pkce_pair,
    query_of,
    refresh,
)

pytestmark = pytest.mark.django_db

SCOPES = ("notes:read", "notes:write")
EXTRA = ("delete_note", "share_note", "export_notes")
_n = itertools.count(1)


def tools_of(body: dict) -> set[str]:
    return {a for d in body.get("authorization_details") or [] for a in d["actions"]}


class ScopeGrows(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()  # each example rolls back to a clean database
        self.atomic.__enter__()
        n = next(_n)
        self.mcp = f"https://grow{n}.example.com/mcp"
        self.resource = make_resource(
            self.mcp, scopes={s: s for s in SCOPES}, defaults=("notes:read",)
        )
        Scope.objects.filter(resource=self.resource, name="notes:read").update(tools=["list_notes"])
        Scope.objects.filter(resource=self.resource, name="notes:write").update(tools=["add_note"])
        self.app, _ = make_client(
            confidential=False,
            grant_types=("authorization_code", "refresh_token"),
            redirect_uris="http://127.0.0.1/callback",
        )
        user = get_user_model().objects.create_user(f"grow{n}", password=PASSWORD)
        self.web = HttpClient()
        self.web.force_login(user)
        self.allowed: set[str] = set()  # ticked on a screen, not unticked since
        self.high_risk: set[str] = set()
        self.families: list[tuple[str, set[str]]] = []  # (refresh token, its grant's tools)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- the client ---------------------------------------------------------------------

    def authorize(self, **extra):
        verifier, challenge = pkce_pair()
        url = authorize_url(
            self.app.client_id,
            resource=self.mcp,
            scope="notes:read notes:write offline_access",
            code_challenge=challenge,
            code_challenge_method="S256",
            **extra,
        )
        return self.web.get(url), verifier

    def redeem(self, redirect, verifier) -> set[str]:
        assert redirect.status_code == 302, redirect.content[:300]
        code = query_of(redirect["Location"])["code"]
        body = exchange(self.web, self.app.client_id, code, verifier).json()
        tools = tools_of(body)
        self.families.append((body["refresh_token"], tools))
        return tools

    @rule(ticks=st.sets(st.sampled_from(("list_notes", "add_note", *EXTRA))))
    def consent(self, ticks):
        screen, verifier = self.authorize(prompt="consent")
        assert screen.status_code == 200
        shown = set(re.findall(r'name="tool" value="([^"]+)"', screen.content.decode()))
        ticked = shown & ticks
        answer = {
            "request_id": consent_request_id(screen),
            "allow": "1",
            "tools_shown": "1",
            "tool": sorted(ticked),
        }
        self.allowed = (self.allowed - shown) | ticked
        tools = self.redeem(self.web.post("/authorize", answer), verifier)
        assert tools <= ticked

    @rule()
    def silent_authorization(self):
        redirect, verifier = self.authorize(prompt="none")
        assert redirect.status_code == 302
        if "code" not in query_of(redirect["Location"]):
            assert query_of(redirect["Location"])["error"] in ("consent_required",)
            return
        tools = self.redeem(redirect, verifier)
        assert tools <= self.allowed, "a silent authorization granted an unconsented tool"
        assert not tools & self.high_risk, "a silent authorization granted a high-risk tool"

    @precondition(lambda self: self.families)
    @rule(pick=st.integers(min_value=0))
    def refresh(self, pick):
        token, tools = self.families[pick % len(self.families)]
        response = refresh(self.web, self.app.client_id, token)
        if response.status_code != 200:  # rotated already (past the grace window): refused
            assert response.json()["error"] == "invalid_grant"
            return
        body = response.json()
        assert tools_of(body) <= tools, "refresh widened the grant's tools"
        self.families.append((body["refresh_token"], tools))

    # --- the admin ------------------------------------------------------------------------

    @rule(scope=st.sampled_from(SCOPES), tool=st.sampled_from(EXTRA))
    def add_tool(self, scope, tool):
        row = Scope.objects.get(resource=self.resource, name=scope)
        if tool not in row.tools:
            row.tools = [*row.tools, tool]
            row.save()

    @rule(scope=st.sampled_from(SCOPES), tool=st.sampled_from(("add_note", *EXTRA)))
    def remove_tool(self, scope, tool):
        row = Scope.objects.get(resource=self.resource, name=scope)
        row.tools = [t for t in row.tools if t != tool]
        row.save()

    @rule(tool=st.sampled_from(("list_notes", "add_note", *EXTRA)))
    def mark_high_risk(self, tool):
        self.high_risk.add(tool)
        self.resource.refresh_from_db()
        self.resource.high_risk_tools = sorted(self.high_risk)
        self.resource.save()


BUDGET = hsettings(
    max_examples=12,
    stateful_step_count=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)


def test_tokens_carry_only_consented_tools_and_never_a_silent_high_risk_tool() -> None:
    run_state_machine_as_test(ScopeGrows, settings=BUDGET)
