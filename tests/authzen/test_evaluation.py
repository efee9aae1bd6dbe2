"""AuthZEN 1.0 access evaluation (§6) and evaluations (§7) for MCP tool calls."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from authserver.models import AuditEvent, ToolPolicy
from authzen import metrics
from tests.authzen.conftest import ask
from tests.factories import MCP, OTHER_MCP, make_client
from tests.support.http import basic

pytestmark = pytest.mark.django_db


def test_metadata_names_every_endpoint(client, settings):
    body = client.get("/.well-known/authzen-configuration").json()
    base = settings.ISSUER.rstrip("/")
    assert body == {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
        "search_subject_endpoint": f"{base}/access/v1/search/subject",
        "search_resource_endpoint": f"{base}/access/v1/search/resource",
        "search_action_endpoint": f"{base}/access/v1/search/action",
    }


def test_user_through_agent_may_call_a_tool_of_its_scopes(client, world):
    response = ask(client, world.pep_auth, world.question("list_notes"))
    assert response.status_code == 200
    assert response.json() == {"decision": True}
    assert "no-store" in response["Cache-Control"]


def test_tool_name_as_the_action_name(client, world):
    body = world.question()
    body["action"] = {"name": "add_note"}
    assert ask(client, world.pep_auth, body).json() == {"decision": True}


def test_unknown_tool_is_denied_with_reason(client, world):
    body = ask(client, world.pep_auth, world.question("rm_rf")).json()
    assert body["decision"] is False
    assert body["context"]["code"] == "unknown_tool"


def test_unauthenticated_pep_gets_401(client, world):
    response = ask(client, None, world.question())
    assert response.status_code == 401  # §11.1.2
    assert "WWW-Authenticate" in response


def test_wrong_secret_gets_401_and_is_audited(client, world):
    auth = world.pep_auth[:-4] + "AAAA"
    assert ask(client, auth, world.question()).status_code == 401
    assert AuditEvent.objects.filter(kind="client.auth_failed").exists()


def test_pep_asking_about_a_server_it_does_not_protect_gets_403(client, world):
    body = world.question()
    body["resource"]["id"] = OTHER_MCP
    assert ask(client, world.pep_auth, body).status_code == 403
    # The same question from the PEP of that server is answered.
    assert ask(client, world.other_auth, body).status_code == 200


def test_the_agent_itself_cannot_ask_about_a_server_it_does_not_protect(client, world):
    assert ask(client, world.agent_auth, world.question()).status_code == 403


@pytest.mark.parametrize("missing", ["subject", "action", "resource"])
def test_missing_required_entity_is_400(client, world, missing):
    body = world.question()
    del body[missing]
    response = ask(client, world.pep_auth, body)
    assert response.status_code == 400  # §11.1.1: a required attribute omitted
    assert response.json()["error"] == "invalid_request"


def test_body_that_is_not_json_is_400(client, world):
    response = client.post(
        "/access/v1/evaluation",
        "subject=x",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=world.pep_auth,
    )
    assert response.status_code == 400


def test_get_is_405(client, world):
    assert client.get("/access/v1/evaluation").status_code == 405


def test_request_id_is_echoed(client, world):
    response = client.post(
        "/access/v1/evaluation",
        json.dumps(world.question()),
        content_type="application/json",
        HTTP_AUTHORIZATION=world.pep_auth,
        HTTP_X_REQUEST_ID="bfe9eb29-ab87-4ca3-be83-a1d5d8305716",
    )
    assert response["X-Request-ID"] == "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"  # §11.1.3


def test_group_policy_on_the_resource_denies_non_members(client, world):
    world.resource.allowed_groups.add(Group.objects.create(name="admins"))
    body = ask(client, world.pep_auth, world.question()).json()
    assert body == {
        "decision": False,
        "context": {"code": "group_policy", "reason": body["context"]["reason"]},
    }
    world.user.groups.add(Group.objects.get(name="admins"))
    assert ask(client, world.pep_auth, world.question()).json()["decision"] is True


def test_scope_limited_to_a_group_denies_its_tools(client, world):
    scope = world.resource.scopes.get(name="notes:write")
    scope.allowed_groups.add(Group.objects.create(name="writers"))
    body = ask(client, world.pep_auth, world.question("add_note")).json()
    assert body["context"]["code"] == "scope"
    assert ask(client, world.pep_auth, world.question("list_notes")).json()["decision"] is True


def test_tool_policy_deny_rule(client, world):
    ToolPolicy.objects.create(
        resource=world.resource, effect="deny", group=world.group, tools=["add_note"]
    )
    body = ask(client, world.pep_auth, world.question("add_note")).json()
    assert body["decision"] is False
    assert body["context"]["code"] == "tool_policy"


def test_tool_policy_constraints_check_the_arguments(client, world):
    ToolPolicy.objects.create(
        resource=world.resource, tools=["add_note"], constraints={"text": {"prefix": "todo:"}}
    )
    ok = ask(client, world.pep_auth, world.question("add_note", arguments={"text": "todo: x"}))
    constraints = {"text": {"prefix": "todo:"}}
    assert ok.json() == {"decision": True, "context": {"constraints": constraints}}
    bad = ask(client, world.pep_auth, world.question("add_note", arguments={"text": "rm"}))
    assert bad.json()["context"]["code"] == "arguments"
    blind = ask(client, world.pep_auth, world.question("add_note", arguments_digest="abc"))
    assert blind.json()["context"]["code"] == "arguments_required"


def test_deactivated_user_is_denied(client, world):
    world.user.is_active = False
    world.user.save()
    assert ask(client, world.pep_auth, world.question()).json()["context"]["code"] == (
        "user_inactive"
    )


def test_disabled_agent_is_denied(client, world):
    world.agent.is_active = False
    world.agent.save()
    assert ask(client, world.pep_auth, world.question()).json()["context"]["code"] == (
        "client_disabled"
    )


def test_disabled_resource_is_denied(client, world):
    world.resource.enabled = False
    world.resource.save()
    body = ask(client, world.pep_auth, world.question()).json()
    assert body["context"]["code"] == "resource_disabled"


def test_client_subject_uses_its_resource_access(client, world):
    body = {
        "subject": {"type": "client", "id": world.agent.client_id},
        "action": {"name": "add_note"},
        "resource": {"type": "mcp_server", "id": MCP},
    }
    assert ask(client, world.pep_auth, body).json() == {"decision": True}
    world.agent.resource_access.update(scope="notes:read")
    assert ask(client, world.pep_auth, body).json()["context"]["code"] == "scope"


def test_unknown_user_is_denied_not_an_error(client, world):
    body = world.question()
    body["subject"]["id"] = "999999"
    assert ask(client, world.pep_auth, body).json()["context"]["code"] == "unknown_subject"


def test_every_deny_is_audited_with_its_reason_and_no_arguments(client, world, settings):
    settings.AUTHZEN_PERMIT_AUDIT_SAMPLE = 0
    ask(client, world.pep_auth, world.question("rm_rf", arguments={"secret": "s3cr3t"}))
    ask(client, world.pep_auth, world.question("list_notes"))
    events = list(AuditEvent.objects.filter(kind__startswith="authzen."))
    assert [e.kind for e in events] == ["authzen.deny"]
    assert events[0].detail["code"] == "unknown_tool"
    assert events[0].actor == f"pep:{world.pep.client_id}"
    assert "s3cr3t" not in str(events[0].detail)


def test_sampled_permits_are_audited(client, world, settings):
    settings.AUTHZEN_PERMIT_AUDIT_SAMPLE = 1.0
    ask(client, world.pep_auth, world.question("list_notes"))
    assert AuditEvent.objects.filter(kind="authzen.permit").count() == 1


def test_decisions_are_counted(client, world):
    before = metrics.DECISIONS.labels("deny", "unknown_tool")._value.get()
    ask(client, world.pep_auth, world.question("rm_rf"))
    assert metrics.DECISIONS.labels("deny", "unknown_tool")._value.get() == before + 1


# --- §7 evaluations ------------------------------------------------------------------------


def boxcar(world, semantic=None):
    q = world.question()
    body = {
        "subject": q["subject"],
        "resource": q["resource"],
        "evaluations": [
            {"action": {"name": "list_notes"}},
            {"action": {"name": "rm_rf"}},
            {"action": {"name": "add_note"}},
        ],
    }
    if semantic:
        body["options"] = {"evaluations_semantic": semantic}
    return body


def decisions(response):
    assert response.status_code == 200
    return [e["decision"] for e in response.json()["evaluations"]]


def test_evaluations_apply_defaults_and_keep_order(client, world):
    response = ask(client, world.pep_auth, boxcar(world), "/access/v1/evaluations")
    assert decisions(response) == [True, False, True]


def test_deny_on_first_deny_stops_at_the_deny(client, world):
    body = boxcar(world, "deny_on_first_deny")
    assert decisions(ask(client, world.pep_auth, body, "/access/v1/evaluations")) == [True, False]


def test_permit_on_first_permit_stops_at_the_permit(client, world):
    body = boxcar(world, "permit_on_first_permit")
    assert decisions(ask(client, world.pep_auth, body, "/access/v1/evaluations")) == [True]


def test_unknown_semantic_is_400(client, world):
    body = boxcar(world, "whatever")
    assert ask(client, world.pep_auth, body, "/access/v1/evaluations").status_code == 400


def test_empty_evaluations_is_a_single_evaluation(client, world):
    body = {**world.question(), "evaluations": []}
    response = ask(client, world.pep_auth, body, "/access/v1/evaluations")
    assert response.json() == {"decision": True}


def test_an_evaluation_about_another_server_fails_alone(client, world):
    body = boxcar(world)
    body["evaluations"][2]["resource"] = {"type": "mcp_server", "id": OTHER_MCP}
    response = ask(client, world.pep_auth, body, "/access/v1/evaluations")
    assert decisions(response) == [True, False, False]
    assert response.json()["evaluations"][2]["context"]["error"]["status"] == 403


def test_a_malformed_evaluation_fails_alone(client, world):
    body = boxcar(world)
    body["evaluations"][1] = {"action": {"name": 5}}
    response = ask(client, world.pep_auth, body, "/access/v1/evaluations")
    assert decisions(response) == [True, False, True]
    assert response.json()["evaluations"][1]["context"]["error"]["status"] == 400


def test_too_many_evaluations_is_400(client, world):
    body = boxcar(world)
    body["evaluations"] = body["evaluations"] * 30
    assert ask(client, world.pep_auth, body, "/access/v1/evaluations").status_code == 400


@pytest.mark.parametrize("size", [600 * 1024, 3 * 1024 * 1024])
def test_oversized_body_is_413_not_read(client, world, size):
    body = world.question(arguments={"text": "x" * size})
    assert ask(client, world.pep_auth, body).status_code == 413


def test_pep_disabled_after_a_decision_is_refused_at_the_next_request(client, world):
    """The PEP's client comes from the generation-checked cache: disabling it renews the
    generation, so the next request authenticates on current rows."""
    assert ask(client, world.pep_auth, world.question()).status_code == 200
    world.pep.is_active = False
    world.pep.save()
    assert ask(client, world.pep_auth, world.question()).status_code == 401


def test_public_client_cannot_be_a_pep(client, world):
    public, _ = make_client(confidential=False, grant_types=("authorization_code",))
    world.resource.introspection_client = public
    world.resource.save()
    response = client.post(
        "/access/v1/evaluation",
        json.dumps({**world.question(), "client_id": public.client_id}),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(public.client_id, ""),
    )
    assert response.status_code == 401
