"""Sequences of principal events, checked after every step (docs/IDENTITY.md, "Who a
principal is"): sign-ins by two providers (one an attacker's), SCIM by each provider's token
(users and groups: create, patch, put, delete), group policies and their groups deleted by
SCIM and by the admin path. After every step:

- no user is reachable through another provider's subject, and no staff user through any;
- no deletion of a group (or of the policy rows it carried) widens any user's scopes or tools;
- a deactivated user has no live session, consent, token, refresh-token family or connection.

A fixed, derandomized example budget, so CI runs the same sequences every time.
"""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import ProtectedError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.scim.models import ScimIdentity
from authserver.models import Resource, Scope, ToolPolicy
from authserver.resources import grouppolicy
from authserver.tool_grants import policy as tool_policy
from tests.accounts.identity_support import (
    GROUP_SCHEMA,
    NOTHING,
    PATCH,
    USER_SCHEMA,
    Scim,
    give_holdings,
    live_holdings,
    provider,
    sign_in,
)
from tests.factories import make_client, make_resource

pytestmark = pytest.mark.django_db
User = get_user_model()
PROVIDERS = ("okta", "evil")
SUBJECTS = ("s0", "s1", "s2")
EMAILS = ("root@acme.com", "carol@acme.com", "new@acme.com")
GROUPS = ("finance", "eng")
TOOLS = ("read_note", "write_note")


class _Rollback(Exception):
    pass


providers = st.sampled_from(PROVIDERS)
users = st.integers(0, 5)  # an index into the users that exist at that step
groups = st.integers(0, 4)
sign_ins = st.tuples(
    st.just("sign_in"),
    providers,
    st.sampled_from(SUBJECTS),
    st.sampled_from(EMAILS),
    st.booleans(),
    st.lists(st.sampled_from(GROUPS), max_size=2),
)
events = st.one_of(
    sign_ins,  # three times: most seams open at a sign-in
    sign_ins,
    sign_ins,
    st.tuples(st.just("scim_create"), providers, st.integers(0, 3), st.sampled_from(SUBJECTS)),
    st.tuples(st.just("scim_active"), providers, users, st.booleans()),
    st.tuples(st.just("scim_put"), providers, users, st.sampled_from([None, True, False])),
    st.tuples(st.just("scim_external_id"), providers, users, st.sampled_from(SUBJECTS)),
    st.tuples(st.just("scim_delete_user"), providers, users),
    st.tuples(st.just("scim_create_group"), providers, st.sampled_from(GROUPS), users),
    st.tuples(st.just("scim_members"), providers, groups, users, st.booleans()),
    st.tuples(st.just("scim_delete_group"), providers, groups),
    st.tuples(st.just("admin_delete_group"), groups),
    st.tuples(st.just("policy"), st.sampled_from(("resource", "scope", "tool")), groups),
    st.tuples(st.just("hold"), users),
)


class World:
    def __init__(self, client) -> None:
        for name, domain in (("okta", "acme.com"), ("evil", "evil.example")):
            provider(
                name,
                scim_external_id_claim="sub",
                groups_claim="groups",
                email_authentication=True,
                email_authoritative_domains=[domain],
            )
        self.scim = {p: Scim(client, p) for p in PROVIDERS}
        self.root = User.objects.create_superuser("root", email="root@acme.com", password="pw-0")
        self.carol = User.objects.create_user("carol", email="carol@acme.com", password="pw-1")
        self.resource = make_resource()
        self.app, _ = make_client(confidential=False, grant_types=("authorization_code",))
        # One group per policy kind from the start, so deletions meet policies often.
        self.policy("tool", Group.objects.create(name="payers"))
        self.policy("scope", Group.objects.create(name="writers"))
        self.policy("resource", Group.objects.create(name="staff-tools"))
        self.resource.allowed_groups.add(Group.objects.get(name="writers"))

    # -- helpers ---------------------------------------------------------------------------

    def user(self, index: int):
        found = list(User.objects.order_by("pk"))
        return found[index % len(found)] if found else None

    def group(self, index: int):
        found = list(Group.objects.order_by("pk"))
        return found[index % len(found)] if found else None

    def reach(self) -> dict:
        """Per user: the scopes and tools the policies let them have at the resource."""
        scopes = list(self.resource.scopes.values_list("name", flat=True))
        out = {}
        for user in User.objects.all():
            try:
                allowed = grouppolicy.allowed_scopes(user, self.resource, scopes)
            except grouppolicy.PolicyRefused:
                allowed = set()
            tools = tool_policy.evaluate(self.resource, TOOLS, client=self.app, user=user)
            out[user.pk] = (frozenset(allowed), frozenset(tools.grants))
        return out

    # -- events ----------------------------------------------------------------------------

    def apply(self, event: tuple) -> None:
        getattr(self, event[0])(*event[1:])

    def sign_in(self, p, sub, email, verified, claimed) -> None:
        before = SocialAccount.objects.filter(provider=p, uid=sub).first()
        _, request = sign_in(p, sub, email=email, email_verified=verified, groups=claimed)
        if before is not None and request.user.is_authenticated:
            assert request.user.pk == before.user_id  # (provider, subject) always finds its user

    def scim_create(self, p, n, sub) -> None:
        body = {"schemas": [USER_SCHEMA], "userName": f"{p}-user{n}", "externalId": sub}
        self.scim[p].call("post", "Users", body)

    def scim_active(self, p, index, active) -> None:
        if user := self.user(index):
            op = {"op": "replace", "path": "active", "value": active}
            self.scim[p].call("patch", f"Users/{user.pk}", {"schemas": [PATCH], "Operations": [op]})

    def scim_put(self, p, index, active) -> None:
        if user := self.user(index):
            body = {"schemas": [USER_SCHEMA], "userName": user.username}
            if active is not None:
                body["active"] = active
            was_active = user.is_active
            self.scim[p].call("put", f"Users/{user.pk}", body)
            if active is None:  # an omitted active never changes it
                user.refresh_from_db()
                assert user.is_active == was_active

    def scim_external_id(self, p, index, sub) -> None:
        if user := self.user(index):
            op = {"op": "replace", "path": "externalId", "value": sub}
            self.scim[p].call("patch", f"Users/{user.pk}", {"schemas": [PATCH], "Operations": [op]})

    def scim_delete_user(self, p, index) -> None:
        if user := self.user(index):
            self.scim[p].call("delete", f"Users/{user.pk}")

    def scim_create_group(self, p, name, index) -> None:
        members = [{"value": str(u.pk)}] if (u := self.user(index)) else []
        body = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}
        self.scim[p].call("post", "Groups", body)

    def scim_members(self, p, gindex, uindex, add) -> None:
        group, user = self.group(gindex), self.user(uindex)
        if group and user:
            op = (
                {"op": "add", "path": "members", "value": [{"value": str(user.pk)}]}
                if add
                else {"op": "remove", "path": f'members[value eq "{user.pk}"]'}
            )
            body = {"schemas": [PATCH], "Operations": [op]}
            self.scim[p].call("patch", f"Groups/{group.pk}", body)

    def scim_delete_group(self, p, gindex) -> None:
        if group := self.group(gindex):
            before = self.reach()
            self.scim[p].call("delete", f"Groups/{group.pk}")
            self.no_wider(before)

    def admin_delete_group(self, gindex) -> None:
        if group := self.group(gindex):
            before = self.reach()
            try:
                with transaction.atomic():
                    group.delete()
            except ProtectedError:
                pass
            self.no_wider(before)

    def policy(self, kind, gindex) -> None:
        group = gindex if isinstance(gindex, Group) else self.group(gindex)
        if group is None:
            return
        if kind == "resource":
            self.resource.allowed_groups.add(group)
        elif kind == "scope":
            Scope.objects.get(resource=self.resource, name="tools:write").allowed_groups.add(group)
        else:
            ToolPolicy.objects.get_or_create(resource=self.resource, group=group, tools=["*"])

    def hold(self, index) -> None:
        user = self.user(index)
        if user is not None and user.is_active:
            give_holdings(user, self.app, self.resource)

    # -- invariants ------------------------------------------------------------------------

    def no_wider(self, before: dict) -> None:
        after = self.reach()
        for pk, (scopes, tools) in after.items():
            assert scopes <= before[pk][0], f"user {pk} gained scopes by a deletion"
            assert tools <= before[pk][1], f"user {pk} gained tools by a deletion"

    def check(self) -> None:
        linked: dict[int, set[str]] = {}
        for pk, name in SocialAccount.objects.values_list("user_id", "provider"):
            linked.setdefault(pk, set()).add(name)
        for pk, names in linked.items():
            assert len(names) == 1, f"user {pk} is reachable through {sorted(names)}"
        for account in SocialAccount.objects.select_related("user"):
            user = account.user
            assert not user.is_staff, "a staff user linked upstream"
            assert not user.is_superuser, "a superuser linked upstream"
            identity = ScimIdentity.objects.filter(user=user).first()
            if identity is not None:
                assert identity.provider == account.provider, "linked across providers"
            if user.pk == self.carol.pk:
                assert account.provider == "okta", "linked by a provider not authoritative"
        self.root.refresh_from_db()
        self.carol.refresh_from_db()
        assert self.root.check_password("pw-0"), "a local password was wiped"
        assert self.carol.check_password("pw-1"), "a local password was wiped"
        for user in User.objects.filter(is_active=False):
            assert live_holdings(user) == NOTHING, f"deactivated user {user.pk} still holds"
        assert Resource.objects.filter(pk=self.resource.pk).exists()


@settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(events, min_size=1, max_size=14))
# The known attacks, always run besides the generated sequences:
@example(  # pre-hijack: the attacker's IdP plants the address, the authority's sign-in follows
    sequence=[
        ("sign_in", "evil", "s0", "new@acme.com", True, []),
        ("sign_in", "okta", "s1", "new@acme.com", True, []),
    ]
)
@example(  # cross-provider externalId, then the attacker's IdP signs in with that sub
    sequence=[("scim_create", "okta", 0, "s2"), ("sign_in", "evil", "s2", "new@acme.com", True, [])]
)
@example(  # the superuser's address, in capitals, from the authoritative provider
    sequence=[("sign_in", "okta", "s0", "ROOT@ACME.COM", True, ["finance"])]
)
@example(sequence=[("scim_delete_group", "evil", 0), ("admin_delete_group", 1)])
def test_no_event_sequence_crosses_providers_widens_access_or_leaves_a_leaver_holding(
    client, sequence
):
    try:
        with transaction.atomic():
            world = World(client)
            for event in sequence:
                world.apply(event)
                world.check()
            raise _Rollback
    except _Rollback:
        pass
