"""Django admin for clients: provenance, grouping, verify / disable / delete actions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from authserver.models import AccessToken, Grant, RefreshToken
from clients.models import Client
from tests.clients.conftest import MCP_PYTHON_SDK_BODY
from tests.factories import make_client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.clients.urls")]

CHANGELIST = "admin:clients_client_changelist"


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def public_client(**fields) -> Client:
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/cb",
        registration_source="dcr",
        **fields,
    )
    return client


def issue_tokens(client: Client, user) -> tuple[AccessToken, RefreshToken]:
    expires = timezone.now() + timedelta(minutes=5)
    access = AccessToken.objects.create(
        application=client, user=user, token=uuid.uuid4().hex, expires=expires
    )
    refresh = RefreshToken.objects.create(
        application=client, user=user, token=uuid.uuid4().hex, access_token=access
    )
    AccessToken.objects.create(
        application=client, user=user, token=uuid.uuid4().hex, expires=expires
    )
    Grant.objects.create(
        application=client,
        user=user,
        code=uuid.uuid4().hex,
        expires=expires,
        redirect_uri="http://127.0.0.1/cb",
    )
    return access, refresh


def test_changelist_shows_provenance_grants_copies_and_policy(staff, register, user):
    first = register(MCP_PYTHON_SDK_BODY).json()
    register(MCP_PYTHON_SDK_BODY)
    issue_tokens(Client.objects.get(client_id=first["client_id"]), user)
    response = staff.get(reverse(CHANGELIST))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Dynamic Client Registration" in page
    # REGISTRATION_MODE and what it turns on, in one line (clients.modes.describe).
    assert "REGISTRATION_MODE=dcr+cimd: dynamic registration (RFC 7591) on" in page
    rows = {c.client_id: c for c in response.context["cl"].result_list}
    assert rows[first["client_id"]].grant_count == 1
    assert rows[first["client_id"]].live_token_count == 2
    assert rows[first["client_id"]].copies == 2


def test_changelist_groups_identical_registrations(staff, register):
    register(MCP_PYTHON_SDK_BODY)
    register(MCP_PYTHON_SDK_BODY)
    register({**MCP_PYTHON_SDK_BODY, "client_name": "unique"})
    fingerprint = Client.objects.exclude(name="unique").first().metadata_fingerprint
    grouped = staff.get(reverse(CHANGELIST), {"metadata_fingerprint": fingerprint})
    assert len(grouped.context["cl"].result_list) == 2
    duplicates = staff.get(reverse(CHANGELIST), {"duplicates": "yes"})
    assert len(duplicates.context["cl"].result_list) == 2


def test_verify_action_marks_clients_verified(staff):
    target = public_client()
    staff.post(reverse(CHANGELIST), {"action": "verify_clients", "_selected_action": [target.pk]})
    target.refresh_from_db()
    assert target.verified is True


def test_disable_action_deactivates_and_revokes_every_token_at_once(staff, user):
    target = public_client()
    bystander = public_client()
    _access, refresh = issue_tokens(target, user)
    issue_tokens(bystander, user)
    response = staff.post(
        reverse(CHANGELIST), {"action": "disable_clients", "_selected_action": [target.pk]}
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.is_active is False
    assert not target.allows_grant_type(Client.GRANT_AUTHORIZATION_CODE)
    assert not AccessToken.objects.filter(application=target, revoked_at__isnull=True).exists()
    refresh.refresh_from_db()
    assert refresh.revoked is not None
    assert not Grant.objects.filter(application=target).exists()
    # Other clients keep theirs.
    assert AccessToken.objects.filter(application=bystander, revoked_at__isnull=True).count() == 2


def test_delete_action_removes_client_with_its_tokens(staff, user):
    target = public_client()
    issue_tokens(target, user)
    staff.post(
        reverse(CHANGELIST),
        {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"},
    )
    assert not Client.objects.filter(pk=target.pk).exists()
    assert not AccessToken.objects.exists()


def test_change_form_never_shows_secret_or_registration_token(staff, register):
    info = register(
        {k: v for k, v in MCP_PYTHON_SDK_BODY.items() if k != "token_endpoint_auth_method"}
    ).json()
    stored = Client.objects.get(client_id=info["client_id"])
    page = staff.get(reverse("admin:clients_client_change", args=[stored.pk])).content.decode()
    assert stored.client_secret not in page
    assert stored.registration_access_token not in page
    assert info["registration_access_token"] not in page


def test_delete_confirmation_page_lists_the_cascade_without_permission_errors(staff, user):
    target = public_client()
    issue_tokens(target, user)
    page = staff.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [target.pk]}
    )
    assert page.status_code == 200
    assert not page.context["perms_lacking"]


def test_initial_access_tokens_are_listed_but_not_added_in_admin(staff):
    assert staff.get(reverse("admin:clients_initialaccesstoken_changelist")).status_code == 200
    assert staff.get(reverse("admin:clients_initialaccesstoken_add")).status_code == 403


def _statements(queries) -> list[str]:
    return [q["sql"] for q in queries]


def test_client_list_counts_the_pages_rows_without_a_subquery_per_client(staff, user):
    """The live-token and grant counts are read for the page's clients only: a subquery in
    the list's own SELECT ran once per row and let the list be sorted by it (a count for
    every client), and at a million tokens it scanned the access-token table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    issue_tokens(public_client(), user)
    with CaptureQueriesContext(connection) as captured:
        response = staff.get(reverse(CHANGELIST))
    assert response.status_code == 200
    listing = [s for s in _statements(captured) if 'FROM "clients_client"' in s]
    assert listing
    for sql in listing:
        assert "authserver_accesstoken" not in sql
        assert "authserver_refreshtoken" not in sql
    from clients.admin import ClientAdmin

    for column in (ClientAdmin.grants, ClientAdmin.live_tokens, ClientAdmin.copies_link):
        assert getattr(column, "admin_order_field", None) is None


def test_client_list_counts_are_capped_so_one_busy_client_costs_a_bounded_scan(staff, user):
    from clients.admin import COUNT_CAP

    busy = public_client()
    expires = timezone.now() + timedelta(minutes=5)
    AccessToken.objects.bulk_create(
        AccessToken(
            application=busy,
            user=user,
            token=f"cap-{i}",
            token_checksum=f"cap-{i}",
            jti=f"cap-{i}",
            expires=expires,
        )
        for i in range(COUNT_CAP + 5)
    )
    response = staff.get(reverse(CHANGELIST))
    row = {c.pk: c for c in response.context["cl"].result_list}[busy.pk]
    assert row.live_token_count == COUNT_CAP + 1
    assert f"{COUNT_CAP}+" in response.content.decode()


def test_client_list_live_token_count_never_scans_the_token_table(user):
    """EXPLAIN with sequential scans priced out: each page row's count is an index lookup by
    client. On a table this small the planner may take the plain ``application_id`` index or
    the partial ``live_tokens_by_client`` one (which it takes at a million rows:
    docs/performance.md, "A large company's data"); either is a lookup, a scan is not."""
    from django.db import connection

    from clients import admin as client_admin

    app = public_client()
    issue_tokens(app, user)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN " + client_admin._LIVE_TOKENS.format(table="authserver_accesstoken"),
            {"ids": [app.pk], "now": timezone.now(), "cap": 1001},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'live_tokens_by_client'")
        (indexdef,) = cursor.fetchone()
    assert "Seq Scan on authserver_accesstoken" not in plan
    conditions = [line for line in plan.splitlines() if "Index Cond:" in line]
    assert any("application_id = page.id" in line for line in conditions), plan
    assert "WHERE (revoked_at IS NULL)" in indexdef


def test_duplicate_filter_finds_identical_registrations_without_counting_every_client(
    staff, register
):
    register(MCP_PYTHON_SDK_BODY)
    register(MCP_PYTHON_SDK_BODY)
    register({**MCP_PYTHON_SDK_BODY, "client_name": "unique"})
    unique = staff.get(reverse(CHANGELIST), {"duplicates": "no"})
    assert [c.name for c in unique.context["cl"].result_list] == ["unique"]


def test_client_list_does_not_read_every_clients_software_id_on_each_page(staff, register):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    register({**MCP_PYTHON_SDK_BODY, "software_id": "claude-ai"})
    with CaptureQueriesContext(connection) as captured:
        assert staff.get(reverse(CHANGELIST)).status_code == 200
    assert not [s for s in _statements(captured) if s.startswith("SELECT DISTINCT")]
    found = staff.get(reverse(CHANGELIST), {"software_id__icontains": "claude"})
    assert len(found.context["cl"].result_list) == 1
