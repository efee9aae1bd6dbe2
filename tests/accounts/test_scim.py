"""SCIM 2.0 (RFC 7643/7644): users and groups, deprovisioning that revokes, §3.12 errors."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.scim.models import ScimIdentity, ScimToken, digest
from authserver.models import AccessToken, AuditEvent, RefreshToken, Resource
from authserver.revocation import published as revocation_list
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code, refresh

pytestmark = pytest.mark.django_db
User = get_user_model()
SCIM = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def token():
    return ScimToken.issue("Okta provisioning")[1]


@pytest.fixture
def scim(client, token):
    class Scim:
        def call(self, method, path, body=None, *, auth=f"Bearer {token}", raw=None):
            data = raw if raw is not None else (json.dumps(body) if body is not None else "")
            return getattr(client, method)(
                f"/scim/v2/{path}",
                data=data,
                content_type=SCIM,
                **({"HTTP_AUTHORIZATION": auth} if auth else {}),
            )

    return Scim()


def _user_body(**extra):
    return {
        "schemas": [USER_SCHEMA],
        "userName": "dana@corp.example",
        "externalId": "00u-dana",
        "name": {"givenName": "Dana", "familyName": "Scully"},
        "emails": [{"value": "dana@corp.example", "primary": True, "type": "work"}],
        "active": True,
        **extra,
    }


def _scim_error(response, status, scim_type=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(SCIM)
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body


def _state():
    return (
        list(User.objects.values_list("username", "is_active").order_by("pk")),
        list(Group.objects.values_list("name", flat=True).order_by("pk")),
    )


def test_token_is_stored_only_as_its_digest(token):
    row = ScimToken.objects.get()
    assert row.digest == digest(token)
    assert token not in str(ScimToken.objects.values().get())


def test_create_user_then_find_it_by_username_filter(scim):
    created = scim.call("post", "Users", _user_body())
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["userName"] == "dana@corp.example"
    assert body["externalId"] == "00u-dana"
    assert body["active"] is True
    user = User.objects.get(pk=int(body["id"]))
    assert not user.has_usable_password()
    assert ScimIdentity.objects.get(user=user).external_id == "00u-dana"

    found = scim.call("get", 'Users?filter=userName eq "DANA@corp.example"').json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == body["id"]
    none = scim.call("get", 'Users?filter=userName eq "nobody"').json()
    assert (none["totalResults"], none["Resources"]) == (0, [])
    assert AuditEvent.objects.filter(kind="scim.user.created", user_id=body["id"]).exists()


def test_duplicate_username_is_a_uniqueness_conflict(scim):
    scim.call("post", "Users", _user_body())
    duplicate = scim.call("post", "Users", _user_body(externalId="other"))
    _scim_error(duplicate, 409, "uniqueness")
    assert User.objects.count() == 1


@pytest.fixture
def provisioned_with_tokens(client, scim):
    """A SCIM-provisioned user who signed in and holds access and refresh tokens."""
    body = scim.call("post", "Users", _user_body()).json()
    user = User.objects.get(pk=int(body["id"]))
    make_resource()
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1:45678/callback",
        skip_authorization=True,
    )
    client.force_login(user)
    code, verifier, _ = get_code(client, app.client_id, resource=MCP, scope="offline_access")
    tokens = exchange(client, app.client_id, code, verifier).json()
    client.logout()
    return user, app, tokens


def test_patch_active_false_revokes_everything_and_lists_the_tokens(
    client, scim, provisioned_with_tokens, django_capture_on_commit_callbacks
):
    user, app, tokens = provisioned_with_tokens
    jti = AccessToken.objects.get(user=user).jti
    with django_capture_on_commit_callbacks(execute=True):
        # Entra ID's form: a path and a string boolean.
        response = scim.call(
            "patch",
            f"Users/{user.pk}",
            {
                "schemas": [PATCH],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            },
        )
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    assert not AccessToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()
    claims = revocation_list.build_claims(timezone.now())
    assert jti in json.dumps(claims)
    assert (
        refresh(client, app.client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    )
    assert AuditEvent.objects.filter(kind="scim.user.deactivated", user_id=str(user.pk)).exists()


def test_okta_style_patch_without_path_deactivates(scim, provisioned_with_tokens):
    user, _, _ = provisioned_with_tokens
    response = scim.call(
        "patch",
        f"Users/{user.pk}",
        {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert not user.is_active


def test_delete_user_revokes_and_removes_them(scim, provisioned_with_tokens):
    user, _, _ = provisioned_with_tokens
    pk = user.pk
    assert scim.call("delete", f"Users/{pk}").status_code == 204
    assert not User.objects.filter(pk=pk).exists()
    _scim_error(scim.call("get", f"Users/{pk}"), 404)
    assert AuditEvent.objects.filter(kind="user.revoked", user_id=str(pk)).exists()


def test_removing_a_member_from_a_required_group_revokes_their_tokens(
    scim, provisioned_with_tokens
):
    user, _, _ = provisioned_with_tokens
    group = scim.call(
        "post",
        "Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "mcp-users",
            "members": [{"value": str(user.pk)}],
        },
    ).json()
    Resource.objects.get(identifier=MCP).allowed_groups.add(Group.objects.get(pk=int(group["id"])))
    assert AccessToken.objects.filter(user=user, revoked_at__isnull=True).exists()  # still in
    response = scim.call(
        "patch",
        f"Groups/{group['id']}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": f'members[value eq "{user.pk}"]'}],
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["members"] == []
    assert not AccessToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()


def test_deleting_a_group_a_policy_names_is_refused_instead_of_opening_the_resource(
    scim, provisioned_with_tokens
):
    user, _, _ = provisioned_with_tokens
    group = Group.objects.create(name="mcp-users")
    group.user_set.add(user)
    resource = Resource.objects.get(identifier=MCP)
    resource.allowed_groups.add(group)
    response = scim.call("delete", f"Groups/{group.pk}")
    _scim_error(response, 409)
    assert list(resource.allowed_groups.all()) == [group]  # still restricted
    assert list(group.user_set.all()) == [user]  # nothing changed


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer", "Bearer scim_wrong", "Basic dXNlcjpwdw==", "Bearer not-a-scim-token"],
)
def test_missing_or_wrong_bearer_token_is_401_and_changes_nothing(scim, auth):
    before = _state()
    response = scim.call("post", "Users", _user_body(), auth=auth)
    _scim_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert _state() == before


def test_revoked_token_is_refused(scim):
    ScimToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    _scim_error(scim.call("get", "Users"), 401)


@pytest.mark.parametrize(
    ("raw", "scim_type"),
    [
        ('{"schemas": [', "invalidSyntax"),
        ("[1, 2]", "invalidSyntax"),
        ('{"userName": "x"}', "invalidSyntax"),  # no schemas
        (json.dumps(_user_body(favouriteColour="blue")), "invalidSyntax"),
        (json.dumps(_user_body(name={"givenName": "D", "nick": "x"})), "invalidSyntax"),
        (json.dumps(_user_body(userName="has space")), "invalidValue"),
        (json.dumps(_user_body(active="maybe")), "invalidValue"),
        ('{"a": NaN}', "invalidSyntax"),
    ],
)
def test_bad_user_bodies_get_scim_errors_and_change_nothing(scim, raw, scim_type):
    before = _state()
    _scim_error(scim.call("post", "Users", raw=raw), 400, scim_type)
    assert _state() == before


@pytest.mark.parametrize(
    "expression",
    [
        'userName sw "d"',
        "userName eq dana",
        'userName eq "a" or userName eq "b"',
        'password eq "x"',
        "",
    ],
)
def test_unsupported_filters_are_invalid_filter(scim, expression):
    from urllib.parse import quote

    _scim_error(scim.call("get", f"Users?filter={quote(expression)}"), 400, "invalidFilter")


def test_bad_patch_changes_nothing(scim, provisioned_with_tokens):
    user, _, _ = provisioned_with_tokens
    before = _state()
    ops = [
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "nonsense", "value": 1},
    ]
    response = scim.call("patch", f"Users/{user.pk}", {"schemas": [PATCH], "Operations": ops})
    _scim_error(response, 400, "invalidPath")
    assert _state() == before  # validated first: the deactivation was not applied
    assert AccessToken.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_group_with_unknown_member_is_refused(scim):
    body = {"schemas": [GROUP_SCHEMA], "displayName": "x", "members": [{"value": "999999"}]}
    _scim_error(scim.call("post", "Groups", body), 400, "invalidValue")
    assert not Group.objects.exists()


def test_unknown_user_id_is_404(scim):
    _scim_error(scim.call("get", "Users/12345678"), 404)
    _scim_error(scim.call("get", "Users/abc"), 404)


def test_service_provider_config_is_served(scim):
    body = scim.call("get", "ServiceProviderConfig").json()
    assert body["patch"] == {"supported": True}
    assert body["filter"]["supported"] is True


def test_admin_creates_a_scim_token_shown_once(admin_client):
    response = admin_client.post("/admin/accounts/scimtoken/add/", {"name": "Entra ID"})
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('id="scim-token">') + len('id="scim-token">')
    token = html[start : html.index("<", start)]
    assert token.startswith("scim_")
    assert ScimToken.objects.get(name="Entra ID").digest == digest(token)
    listing = admin_client.get("/admin/accounts/scimtoken/").content.decode()
    assert token not in listing


def test_scim_cannot_change_or_delete_an_administrator(scim, make_user):
    admin = make_user("root", superuser=True)
    deactivate = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    _scim_error(scim.call("patch", f"Users/{admin.pk}", deactivate), 403)
    _scim_error(scim.call("delete", f"Users/{admin.pk}"), 403)
    admin.refresh_from_db()
    assert admin.is_active
