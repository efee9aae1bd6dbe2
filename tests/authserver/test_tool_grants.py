"""Tool grants (RFC 9396 authorization_details, type mcp_tool) at the token endpoint, at
/authorize, in introspection and under the admin's tool policy."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from authserver.models import AccessToken, Grant, Scope, TokenExchangePolicy, ToolPolicy
from authserver.token_endpoint.grants.subject_token import GRANT_TYPE
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.oauthflow import (
    authorize_url,
    claims_of,
    consent_request_id,
    exchange,
    pkce_pair,
    query_of,
    refresh,
)
from tests.support.exchange import do_exchange
from tests.support.http import basic

pytestmark = pytest.mark.django_db

TOOLS = {"notes:read": ["list_notes", "whoami"], "notes:write": ["add_note"]}


@pytest.fixture
def resource():
    resource = make_resource(
        MCP, scopes={"notes:read": "Read notes", "notes:write": "Add notes"}, defaults=()
    )
    for name, tools in TOOLS.items():
        Scope.objects.filter(resource=resource, name=name).update(tools=tools)
    return resource


@pytest.fixture
def machine(resource):
    return make_client(access={resource: "notes:read notes:write"})


def cc(client, machine, **data):
    c, secret = machine
    body = {"grant_type": "client_credentials", "resource": MCP, **data}
    if "authorization_details" in body and not isinstance(body["authorization_details"], str):
        body["authorization_details"] = json.dumps(body["authorization_details"])
    return client.post("/token", body, HTTP_AUTHORIZATION=basic(c.client_id, secret))


def detail(actions, constraints=None, locations=(MCP,)) -> dict:
    d = {"type": "mcp_tool", "locations": list(locations), "actions": list(actions)}
    if constraints:
        d["constraints"] = constraints
    return d


def test_metadata_publishes_authorization_details_types_supported(client):
    body = client.get("/.well-known/oauth-authorization-server").json()
    assert body["authorization_details_types_supported"] == ["mcp_tool"]


def test_scope_only_request_gets_the_tools_of_its_scopes(client, machine):
    body = cc(client, machine, scope="notes:read").json()
    expected = [detail(["list_notes", "whoami"])]
    assert body["authorization_details"] == expected  # RFC 9396 §7: in the token response
    assert claims_of(body["access_token"])["authorization_details"] == expected


def test_resource_without_registered_tools_issues_no_authorization_details(client):
    bare = make_resource(OTHER_MCP, scopes={"x:read": "x"}, defaults=("x:read",))
    Scope.objects.filter(resource=bare).update(tools=[])
    machine = make_client(access={bare: "x:read"})
    body = cc(client, machine, resource=OTHER_MCP).json()
    assert "authorization_details" not in claims_of(body["access_token"])
    refused = cc(client, machine, resource=OTHER_MCP, authorization_details=[detail(["a"])])
    assert refused.json()["error"] == "invalid_authorization_details"


def test_request_narrows_to_the_tools_and_constraints_it_names(client, machine):
    wanted = [detail(["add_note"], {"add_note": {"text": {"prefix": "todo:"}}})]
    body = cc(client, machine, scope="notes:read notes:write", authorization_details=wanted)
    assert body.status_code == 200, body.content
    assert claims_of(body.json()["access_token"])["authorization_details"] == wanted


def test_requested_tool_outside_the_scopes_is_not_granted(client, machine):
    body = cc(client, machine, scope="notes:read", authorization_details=[detail(["add_note"])])
    assert body.json()["authorization_details"] == []


@pytest.mark.parametrize(
    ("details", "why"),
    [
        ("not json", "not JSON"),
        ("{}", "JSON array"),
        ("[]", "JSON array"),
        ('[{"actions": ["list_notes"]}]', "needs a type"),
        ('[{"type": "payment_initiation"}]', "unsupported authorization_details type"),
        (json.dumps([detail(["delete_everything"])]), "unknown tool"),
        (json.dumps([detail(["list_notes"], locations=[OTHER_MCP])]), "requested resource"),
        (json.dumps([detail(["list_notes"], locations=["not a uri"])]), "resource URI"),
        (json.dumps([detail([])]), "actions"),
        (json.dumps([detail(["add_note"], {"add_note": {"text": {"regex": "x"}}})]), "unknown"),
        (json.dumps([detail(["add_note"], {"add_note": {"n": {"maximum": "9"}}})]), "maximum"),
        (json.dumps([detail(["add_note"], {"whoami": {"n": {"maximum": 9}}})]), "not in actions"),
    ],
)
def test_rfc9396_section5_malformed_or_unknown_is_invalid_authorization_details(
    client, machine, details, why
):
    response = cc(client, machine, scope="notes:read notes:write", authorization_details=details)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_authorization_details"
    assert why in response.json()["error_description"]
    assert not AccessToken.objects.exists()


def test_introspection_reports_the_authorization_details(client, machine, resource):
    rs, rs_secret = make_client(name="mcp server", access={})
    resource.introspection_client = rs
    resource.save()
    token = cc(client, machine, scope="notes:read").json()["access_token"]
    body = client.post(
        "/introspect", {"token": token}, HTTP_AUTHORIZATION=basic(rs.client_id, rs_secret)
    ).json()
    assert body["authorization_details"] == [detail(["list_notes", "whoami"])]


# --- the admin's tool policy -------------------------------------------------------------


def test_policy_deny_for_everyone_removes_the_tool(client, machine, resource):
    ToolPolicy.objects.create(resource=resource, effect="deny", tools=["whoami"])
    body = cc(client, machine, scope="notes:read").json()
    assert body["authorization_details"] == [detail(["list_notes"])]


def test_policy_deny_for_another_client_leaves_this_one_alone(client, machine, resource):
    other, _ = make_client(access={resource: "notes:read"})
    ToolPolicy.objects.create(resource=resource, effect="deny", client=other, tools=["whoami"])
    assert cc(client, machine, scope="notes:read").json()["authorization_details"] == [
        detail(["list_notes", "whoami"])
    ]


def test_policy_allow_reserves_a_tool_to_its_audience_with_constraints(client, machine, resource):
    other, _ = make_client(access={resource: "notes:read notes:write"})
    ToolPolicy.objects.create(resource=resource, tools=["add_note"], client=other)
    body = cc(client, machine, scope="notes:write").json()
    assert body["authorization_details"] == []  # reserved to the other client
    constraint = {"text": {"prefix": "todo:"}}
    ToolPolicy.objects.create(
        resource=resource, tools=["add_note"], client=machine[0], constraints=constraint
    )
    body = cc(client, machine, scope="notes:write").json()
    assert body["authorization_details"] == [detail(["add_note"], {"add_note": constraint})]


def test_deny_wins_over_allow(client, machine, resource):
    ToolPolicy.objects.create(resource=resource, tools=["list_notes"], client=machine[0])
    ToolPolicy.objects.create(resource=resource, effect="deny", tools=["*"])
    assert cc(client, machine, scope="notes:read").json()["authorization_details"] == []


def test_request_and_policy_constraints_both_apply(client, machine, resource):
    ToolPolicy.objects.create(
        resource=resource, tools=["add_note"], constraints={"text": {"prefix": "todo:"}}
    )
    wanted = [detail(["add_note"], {"add_note": {"text": {"prefix": "todo: work"}}})]
    body = cc(client, machine, scope="notes:write", authorization_details=wanted).json()
    assert body["authorization_details"] == wanted  # the longer prefix implies both
    wanted = [detail(["add_note"], {"add_note": {"text": {"prefix": "home:"}}})]
    body = cc(client, machine, scope="notes:write", authorization_details=wanted).json()
    assert body["authorization_details"] == []  # no text satisfies both: not granted


def test_group_rule_applies_to_members_only(resource, user, make_user):
    from authserver.tool_grants.policy import evaluate

    editors = Group.objects.create(name="editors")
    ToolPolicy.objects.create(resource=resource, tools=["add_note"], group=editors)
    member = make_user("member")
    member.groups.add(editors)
    app, _ = make_client()
    assert evaluate(resource, ["add_note"], client=app, user=member).grants == {"add_note": {}}
    outsider = evaluate(resource, ["add_note"], client=app, user=user)
    assert outsider.grants == {}
    assert "reserved" in outsider.removed["add_note"]


def test_policy_rule_naming_an_unregistered_tool_is_refused_by_clean(resource):
    rule = ToolPolicy(resource=resource, tools=["rm_rf"])
    with pytest.raises(ValidationError, match="not registered"):
        rule.full_clean()
    rule = ToolPolicy(resource=resource, tools=["add_note"], constraints={"text": {"x": 1}})
    with pytest.raises(ValidationError, match="unknown constraint"):
        rule.full_clean()
    rule = ToolPolicy(resource=resource, effect="deny", tools=["add_note"], constraints={"t": {}})
    with pytest.raises(ValidationError, match="deny rule takes no constraints"):
        rule.full_clean()


# --- authorization code and refresh: only ever narrower ----------------------------------


@pytest.fixture
def app(resource):
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
    )
    return client


def authorize(client, app, *, scope, details=None, ticked=None):
    verifier, challenge = pkce_pair()
    extra = {"code_challenge": challenge, "code_challenge_method": "S256"}
    if details is not None:
        extra["authorization_details"] = json.dumps(details)
    response = client.get(authorize_url(app.client_id, resource=MCP, scope=scope, **extra))
    if response.status_code == 200:
        answer = {"request_id": consent_request_id(response), "allow": "1"}
        if ticked is not None:
            answer.update(tool=ticked, tools_shown="1")
        response = client.post("/authorize", answer)
    assert response.status_code == 302, response.content[:300]
    return query_of(response["Location"]), verifier


def test_code_carries_the_approved_tools_and_refresh_keeps_them(client, user, app):
    client.force_login(user)
    query, verifier = authorize(client, app, scope="notes:read offline_access")
    body = exchange(client, app.client_id, query["code"], verifier).json()
    assert body["authorization_details"] == [detail(["list_notes", "whoami"])]
    again = refresh(client, app.client_id, body["refresh_token"]).json()
    assert again["authorization_details"] == [detail(["list_notes", "whoami"])]


def test_unticked_tool_is_left_out_of_the_code_and_remembered(client, user, app):
    client.force_login(user)
    query, verifier = authorize(client, app, scope="notes:read", ticked=["list_notes"])
    assert Grant.objects.get().authorization_details == [detail(["list_notes"])]
    body = exchange(client, app.client_id, query["code"], verifier).json()
    assert body["authorization_details"] == [detail(["list_notes"])]
    # Remembered: the next authorization skips the screen and still leaves whoami out ...
    query, verifier = authorize(client, app, scope="notes:read")
    body = exchange(client, app.client_id, query["code"], verifier).json()
    assert body["authorization_details"] == [detail(["list_notes"])]
    # ... and asking for it by name is a step-up: the consent screen again.
    _, challenge = pkce_pair()
    url = authorize_url(
        app.client_id,
        resource=MCP,
        scope="notes:read",
        code_challenge=challenge,
        code_challenge_method="S256",
        authorization_details=json.dumps([detail(["whoami"])]),
    )
    assert client.get(url).status_code == 200


def test_authorization_request_with_unknown_tool_redirects_invalid_authorization_details(
    client, user, app
):
    client.force_login(user)
    _, challenge = pkce_pair()
    url = authorize_url(
        app.client_id,
        resource=MCP,
        scope="notes:read",
        code_challenge=challenge,
        code_challenge_method="S256",
        authorization_details=json.dumps([detail(["rm_rf"])]),
    )
    response = client.get(url)
    assert response.status_code == 302
    assert query_of(response["Location"])["error"] == "invalid_authorization_details"


def test_rfc9396_section6_token_request_beyond_the_grant_is_refused(client, user, app):
    client.force_login(user)
    query, verifier = authorize(client, app, scope="notes:read", ticked=["list_notes"])
    response = exchange(
        client,
        app.client_id,
        query["code"],
        verifier,
        authorization_details=json.dumps([detail(["whoami"])]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_authorization_details"


def test_refresh_may_narrow_and_never_widen(client, user, app):
    client.force_login(user)
    query, verifier = authorize(client, app, scope="notes:read offline_access")
    body = exchange(client, app.client_id, query["code"], verifier).json()
    narrowed = refresh(
        client,
        app.client_id,
        body["refresh_token"],
        authorization_details=json.dumps([detail(["whoami"])]),
    ).json()
    assert narrowed["authorization_details"] == [detail(["whoami"])]
    widened = refresh(
        client,
        app.client_id,
        narrowed["refresh_token"],
        authorization_details=json.dumps([detail(["list_notes"])]),
    )
    assert widened.json()["error"] == "invalid_authorization_details"
    plain = refresh(client, app.client_id, narrowed["refresh_token"]).json()
    assert plain["authorization_details"] == [detail(["whoami"])]  # stays narrowed


def test_policy_change_reaches_the_next_refresh(client, user, app, resource):
    client.force_login(user)
    query, verifier = authorize(client, app, scope="notes:read offline_access")
    body = exchange(client, app.client_id, query["code"], verifier).json()
    ToolPolicy.objects.create(resource=resource, effect="deny", tools=["whoami"])
    again = refresh(client, app.client_id, body["refresh_token"]).json()
    assert again["authorization_details"] == [detail(["list_notes"])]


def test_admin_adds_a_tool_policy_and_refuses_an_unregistered_tool(client, admin_user, resource):
    client.force_login(admin_user)
    url = "/admin/authserver/toolpolicy/add/"
    form = {
        "resource": resource.pk,
        "effect": "allow",
        "tools": '["add_note"]',
        "constraints": '{"text": {"prefix": "todo:"}}',
        "enabled": "on",
        "note": "",
    }
    refused = client.post(url, {**form, "tools": '["rm_rf"]'})
    assert refused.status_code == 200
    assert "not registered by this resource" in refused.content.decode()
    assert client.post(url, form).status_code == 302
    rule = ToolPolicy.objects.get()
    assert rule.constraints == {"text": {"prefix": "todo:"}}
    listing = client.get("/admin/authserver/toolpolicy/")
    assert listing.status_code == 200
    assert "add_note" in listing.content.decode()


# --- token exchange: the target's tools under the target's policy ------------------------


def test_token_exchange_carries_the_targets_tools_and_refuses_unknown_ones(client, world):
    _, target, _ = world["resources"]
    body = do_exchange(client, world["a"], world["user_token"], OTHER_MCP).json()
    granted = [{"type": "mcp_tool", "locations": [OTHER_MCP], "actions": ["read_note"]}]
    assert claims_of(body["access_token"])["authorization_details"] == granted
    unknown = do_exchange(
        client,
        world["a"],
        world["user_token"],
        OTHER_MCP,
        authorization_details=json.dumps([detail(["rm_rf"], locations=[OTHER_MCP])]),
    )
    assert unknown.json()["error"] == "invalid_authorization_details"
    ToolPolicy.objects.create(resource=target, effect="deny", tools=["read_note"])
    body = do_exchange(client, world["a"], world["user_token"], OTHER_MCP).json()
    assert claims_of(body["access_token"])["authorization_details"] == []


def test_redos_client_chosen_pattern_is_refused(client, machine):
    """A client-chosen regular expression is work every MCP server runs per call: only the
    administrator's policy may write patterns (RFC 9396 §5: invalid_authorization_details)."""
    wanted = [detail(["add_note"], {"add_note": {"text": {"pattern": "(a+)+"}}})]
    response = cc(client, machine, scope="notes:write", authorization_details=wanted)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_authorization_details"
    assert "administrator" in response.json()["error_description"]
    assert not AccessToken.objects.exists()


def test_redos_client_chosen_pattern_is_refused_at_authorize(client, user, app):
    client.force_login(user)
    wanted = [detail(["add_note"], {"add_note": {"text": {"pattern": "(a+)+"}}})]
    query, _ = authorize(client, app, scope="notes:write", details=wanted)
    assert query["error"] == "invalid_authorization_details"


def test_redos_admin_pattern_must_be_re2_syntax(resource):
    rule = ToolPolicy(
        resource=resource, tools=["add_note"], constraints={"text": {"pattern": r"(a)\1"}}
    )
    with pytest.raises(ValidationError):
        rule.full_clean()
    rule.constraints = {"text": {"pattern": "[a-z]+"}}
    rule.full_clean()


def test_deeply_nested_authorization_details_is_invalid_authorization_details(client, machine):
    nested = "[" * 10_000 + "]" * 10_000
    response = cc(client, machine, scope="notes:write", authorization_details=nested)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_authorization_details"


# --- token exchange only narrows: unticked tools never come back --------------------------


@pytest.fixture
def gateway(resource):
    other = make_resource(OTHER_MCP, scopes={"notes:read": "Read"}, defaults=())
    Scope.objects.filter(resource=other, name="notes:read").update(tools=["list_notes", "whoami"])
    gw, secret = make_client(name="gateway", grant_types=(GRANT_TYPE,))
    for target in (resource, other):
        TokenExchangePolicy.objects.create(
            client=gw, source=resource, target=target, scope="notes:read notes:write"
        )
    return basic(gw.client_id, secret)


def test_token_exchange_to_the_same_resource_cannot_bring_back_an_unticked_tool(
    client, user, app, gateway
):
    client.force_login(user)
    query, verifier = authorize(
        client, app, scope="notes:read notes:write", ticked=["list_notes", "add_note"]
    )
    subject = exchange(client, app.client_id, query["code"], verifier).json()["access_token"]
    assert claims_of(subject)["authorization_details"] == [detail(["add_note", "list_notes"])]

    body = do_exchange(client, gateway, subject, MCP).json()
    assert claims_of(body["access_token"])["authorization_details"] == [
        detail(["add_note", "list_notes"])
    ]
    asked = do_exchange(
        client, gateway, subject, MCP, authorization_details=json.dumps([detail(["whoami"])])
    )
    assert asked.status_code == 400
    assert asked.json()["error"] == "invalid_authorization_details"


def test_token_exchange_to_another_resource_cannot_bring_back_a_tool_unticked_there(
    client, user, app, gateway
):
    client.force_login(user)
    # The user consented to the app at the other resource and unticked whoami there ...
    query, verifier = authorize_at(client, app, OTHER_MCP, ticked=["list_notes"])
    assert query.get("code")
    query, verifier = authorize(client, app, scope="notes:read")
    subject = exchange(client, app.client_id, query["code"], verifier).json()["access_token"]
    # ... so a gateway exchanging the user's token for that resource cannot get it either.
    body = do_exchange(client, gateway, subject, OTHER_MCP).json()
    assert claims_of(body["access_token"])["authorization_details"] == [
        detail(["list_notes"], locations=[OTHER_MCP])
    ]
    asked = do_exchange(
        client,
        gateway,
        subject,
        OTHER_MCP,
        authorization_details=json.dumps([detail(["whoami"], locations=[OTHER_MCP])]),
    )
    assert asked.json()["error"] == "invalid_authorization_details"


def authorize_at(client, app, resource_uri, *, ticked):
    verifier, challenge = pkce_pair()
    extra = {"code_challenge": challenge, "code_challenge_method": "S256"}
    response = client.get(
        authorize_url(app.client_id, resource=resource_uri, scope="notes:read", **extra)
    )
    answer = {"request_id": consent_request_id(response), "allow": "1"}
    answer.update(tool=ticked, tools_shown="1")
    response = client.post("/authorize", answer)
    assert response.status_code == 302, response.content[:300]
    return query_of(response["Location"]), verifier
