"""The people list at a company's size: a million users and twenty thousand groups."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from authserver.admin_base import EstimatedCountPaginator

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:auth_user_changelist"


def test_people_list_does_not_render_every_group_into_the_page(admin_client):
    """The group filter is a search box: 20,000 group names made each page 1.6 MB."""
    Group.objects.bulk_create(Group(name=f"team-{i:05d}") for i in range(40))
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    page = response.content.decode()
    assert "team-00007" not in page
    assert "team-00039" not in page


def test_people_list_filtered_by_a_group_shows_its_members(admin_client, django_user_model):
    finance = Group.objects.create(name="finance")
    member = django_user_model.objects.create_user("carol")
    member.groups.add(finance)
    django_user_model.objects.create_user("dave")
    response = admin_client.get(reverse(CHANGELIST), {"groups__id__exact": finance.pk})
    assert [u.username for u in response.context["cl"].result_list] == ["carol"]


def test_unfiltered_people_list_runs_no_count_over_every_user(
    admin_client, django_user_model, monkeypatch
):
    """Unfiltered, a large table's page count comes from PostgreSQL's estimate: there was
    one COUNT(*) for the paginator and one for "N total", each reading a million rows."""
    django_user_model.objects.bulk_create(
        django_user_model(username=f"person-{i}") for i in range(30)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE auth_user")
    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_BELOW", 10)
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
    assert not [sql for sql in counts if '"auth_user"' in sql], counts
    assert response.context["cl"].result_count >= 30


def test_filtered_people_list_counts_exactly(admin_client, django_user_model, monkeypatch):
    django_user_model.objects.bulk_create(
        django_user_model(username=f"person-{i}", is_staff=i < 3) for i in range(30)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE auth_user")
    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_BELOW", 10)
    response = admin_client.get(reverse(CHANGELIST), {"is_staff__exact": "1"})
    assert response.context["cl"].result_count == 4  # three plus the admin


def test_the_access_review_finds_a_person_without_scanning_every_user(django_user_model):
    """The review looks a person up by username or email, case-insensitively; an index must
    serve both halves of that OR (sequential scans priced out: a handful of test rows makes
    any scan cheap, so the question is whether an index can serve it)."""
    from django.db.models import Q

    django_user_model.objects.create(username="ada", email="ada@example.com")
    query = "ADA@example.com"
    found = django_user_model.objects.filter(Q(username__iexact=query) | Q(email__iexact=query))
    sql, params = found.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        text = "\n".join(row[0] for row in cursor.fetchall())
    assert "accounts_index_user_upper_email" in text, text
    assert "Seq Scan" not in text, text
