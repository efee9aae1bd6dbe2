"""The Cedar policy admin's "Test a request" form: the PDP's own decision on current rows,
with the reasons (the refusing Cedar policy named), precise field errors, nothing written."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from authserver.models import AuditEvent, CacheGeneration
from authzen import metrics
from authzen.mapping import MAX_ARGUMENTS
from authzen.models import CedarPolicy

pytestmark = pytest.mark.django_db

URL = "/admin/authzen/cedarpolicy/test/"


@pytest.fixture
def staff(client, make_user):
    admin = make_user("root", superuser=True)
    client.force_login(admin)
    return client


def form(world, **over) -> dict:
    data = {
        "user": world.user.username,
        "agent": world.agent.client_id,
        "server": world.resource.pk,
        "tool": "add_note",
        "arguments": json.dumps({"text": "milk"}),
    }
    return {**data, **over}


def decide(staff, world, **over) -> str:
    response = staff.post(URL, form(world, **over))
    assert response.status_code == 200
    return response.content.decode()


def _counted() -> float:
    return sum(s.value for m in metrics.DECISIONS.collect() for s in m.samples)


def test_the_policy_list_links_to_the_test_form(staff, world):
    page = staff.get(reverse("admin:authzen_cedarpolicy_changelist")).content.decode()
    assert URL in page
    assert staff.get(URL).status_code == 200


def test_a_permitted_request_shows_permit(staff, world):
    page = decide(staff, world)
    assert "Permit" in page
    assert "<code>permit</code>" in page


def test_a_cedar_refusal_names_the_policy_that_refused(staff, world):
    CedarPolicy.objects.create(
        name="no secret notes",
        source='forbid(principal, action == Action::"add_note", resource) '
        'when { context.arguments.text like "*secret*" };',
    )
    CedarPolicy.objects.create(
        name="staff only at night", source="forbid(principal, action, resource) when { false };"
    )
    page = decide(staff, world, arguments=json.dumps({"text": "a secret"}))
    assert "<code>cedar_forbid</code>" in page
    assert "no secret notes" in page
    assert "staff only at night" not in page.split('id="cedar-test-forbidding"')[1]


def test_a_rule_refusal_shows_the_rule_and_its_reason(staff, world):
    world.resource.allowed_groups.add(world.group)
    world.user.groups.clear()
    page = decide(staff, world)
    assert "<code>group_policy</code>" in page
    assert "is limited to members of: staff" in page


def test_the_agent_acting_for_itself(staff, world):
    page = decide(staff, world, user="")
    assert "<code>permit</code>" in page  # the agent's ResourceAccess grants both scopes


def test_testing_writes_nothing(staff, world):
    """No audit event, no metric, no renewed cache generation: a test grants nothing."""
    CedarPolicy.objects.create(name="freeze", source="forbid(principal, action, resource);")
    events, counted = AuditEvent.objects.count(), _counted()
    generation = CacheGeneration.objects.values_list("value", flat=True).first()
    assert "<code>cedar_forbid</code>" in decide(staff, world)
    assert "<code>permit</code>" not in decide(staff, world, tool="list_notes")
    assert AuditEvent.objects.count() == events
    assert _counted() == counted
    assert CacheGeneration.objects.values_list("value", flat=True).first() == generation


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("user", "nobody-by-that-name", "No person has this username or id."),
        ("agent", "no-such-client", "No client has this client_id."),
        ("arguments", "{not json", "Not a JSON object"),
        ("arguments", "[1, 2]", "Not a JSON object"),
        ("arguments", '{"a": 1, "a": 2}', "Not a JSON object"),
        ("arguments", json.dumps({"t": "x" * MAX_ARGUMENTS}), f"at most {MAX_ARGUMENTS}"),
        ("tool", "", "This field is required."),
        ("server", "999999", "Select a valid choice."),
    ],
)
def test_invalid_input_is_a_precise_field_error(staff, world, field, value, words):
    events = AuditEvent.objects.count()
    response = staff.post(URL, form(world, **{field: value}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert words in " ".join(errors[field]).replace(",", "")
    assert response.context["result"] is None
    assert AuditEvent.objects.count() == events


def test_a_user_by_numeric_id(staff, world):
    assert "<code>permit</code>" in decide(staff, world, user=str(world.user.pk))


def test_staff_without_the_policy_view_permission_cannot_test(client, make_user, world):
    client.force_login(make_user("bare", staff=True))
    assert client.get(URL).status_code == 403
    assert client.post(URL, form(world)).status_code == 403


def test_view_only_staff_may_test(client, make_user, world):
    viewer = make_user("viewer", staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_cedarpolicy"))
    client.force_login(viewer)
    assert "<code>permit</code>" in client.post(URL, form(world)).content.decode()


def test_the_form_needs_csrf(make_user, world):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_user("root", superuser=True))
    assert strict.post(URL, form(world)).status_code == 403
