"""Property tests: the SCIM parsers and the admission rules take any input and either accept
it or refuse it with their own error, never crash (a crash would be a 500, not §3.12)."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from accounts.scim import filters, groups, users
from accounts.scim.errors import ScimError
from accounts.upstream import admission

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
patch_like = st.fixed_dictionaries(
    {
        "schemas": st.just([users.PATCH_SCHEMA]),
        "Operations": st.lists(
            st.fixed_dictionaries(
                {"op": st.sampled_from(["add", "replace", "remove", "Replace", "move"])},
                optional={
                    "path": st.one_of(
                        st.text(max_size=30),
                        st.sampled_from(["active", "members", 'members[value eq "1"]']),
                    ),
                    "value": json_values,
                },
            ),
            max_size=4,
        ),
    }
)


@given(st.text(max_size=80))
def test_filter_parser_raises_only_scim_errors(expression: str) -> None:
    with contextlib.suppress(ScimError):
        field, value = filters.parse_eq(expression, {"username": "username__iexact"})
        assert field == "username__iexact"
        assert isinstance(value, str)


def _body(schema: str, keys: list[str]):
    optional = {key: json_values for key in keys}
    return st.fixed_dictionaries({"schemas": st.just([schema])}, optional=optional)


@given(json_values | _body(users.USER_SCHEMA, ["userName", "active", "name", "emails", "x"]))
def test_user_parser_raises_only_scim_errors(payload) -> None:
    with contextlib.suppress(ScimError):
        users.parse_user(payload)


@given(json_values | _body(groups.GROUP_SCHEMA, ["displayName", "members", "externalId", "x"]))
def test_group_parser_raises_only_scim_errors(payload) -> None:
    with contextlib.suppress(ScimError):
        groups.parse_group(payload)


@given(patch_like | json_values)
def test_patch_parsers_raise_only_scim_errors(payload) -> None:
    with contextlib.suppress(ScimError):
        users.parse_patch(payload)
    with contextlib.suppress(ScimError):
        groups.parse_patch(payload)


@given(
    st.dictionaries(
        st.sampled_from(["allowed_email_domains", "tenant_id", "github_org", "groups_claim"]),
        st.lists(st.text(max_size=10), max_size=3) | st.text(max_size=10),
    ),
    st.dictionaries(st.sampled_from(["id_token", "userinfo", "email", "tid"]), json_values),
)
def test_admission_never_crashes_and_refuses_with_a_reason(rules, extra_data) -> None:
    rules = {k: v for k, v in rules.items() if k != "allowed_email_domains" or isinstance(v, list)}
    if not all(isinstance(v, dict) for k, v in extra_data.items() if k in ("id_token", "userinfo")):
        return
    verdict = admission.admit(rules, extra_data)
    assert verdict.admitted or verdict.reason
