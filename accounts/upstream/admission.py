"""Who an upstream identity provider may sign in: per-provider admission rules, pure functions.

Rules live in the allauth app's ``settings`` (Django admin, "Social applications", or
``UPSTREAM_PROVIDERS``): ``allowed_email_domains``, ``tenant_id`` (Entra ID) and
``github_org``. Every configured rule must pass; a failed or unknowable rule refuses.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    reason: str = ""  # shown to the person and recorded in the audit trail; never a secret


ADMITTED = Verdict(True)


def merged_claims(extra_data: dict) -> dict:
    """OIDC: the ID token's claims overlaid with the UserInfo response's."""
    if "userinfo" in extra_data or "id_token" in extra_data:
        id_token = extra_data.get("id_token") or {}
        userinfo = extra_data.get("userinfo") or {}
        return {**id_token, **userinfo}
    return dict(extra_data)


def verified_emails(claims: dict, provider_emails: list[tuple[str, bool]]) -> list[str]:
    """Addresses the provider itself vouches for (OIDC Core §5.1 ``email_verified`` must be
    the JSON true; a string "true" or a missing claim counts as unverified)."""
    found = [email.lower() for email, verified in provider_emails if verified is True]
    email = claims.get("email")
    if isinstance(email, str) and claims.get("email_verified") is True:
        found.append(email.lower())
    return list(dict.fromkeys(found))


def check_subject(extra_data: dict) -> Verdict:
    # OIDC Core §5.3.2: the UserInfo sub MUST equal the ID token's, or the response is not used.
    id_sub = (extra_data.get("id_token") or {}).get("sub")
    info_sub = (extra_data.get("userinfo") or {}).get("sub")
    if id_sub is not None and info_sub is not None and id_sub != info_sub:
        return Verdict(False, "the provider's UserInfo subject differs from its ID token")
    return ADMITTED


def check_domains(rules: dict, emails: list[str]) -> Verdict:
    allowed = [d.strip().lower().lstrip("@") for d in rules.get("allowed_email_domains") or []]
    if not allowed:
        return ADMITTED
    for email in emails:
        if email.rpartition("@")[2] in allowed:
            return ADMITTED
    if not emails:
        return Verdict(False, "the provider sent no verified email address")
    return Verdict(False, f"email domain not allowed here ({', '.join(sorted(allowed))} only)")


def check_tenant(rules: dict, claims: dict) -> Verdict:
    tenant = rules.get("tenant_id")
    if not tenant:
        return ADMITTED
    tid = claims.get("tid")
    # Bytes: compare_digest refuses str with non-ASCII characters (claims are provider data).
    if isinstance(tid, str) and hmac.compare_digest(
        tid.lower().encode(), str(tenant).lower().encode()
    ):
        return ADMITTED
    return Verdict(False, "your account belongs to another Microsoft Entra tenant")


def check_github_org(rules: dict, is_member: Callable[[str], bool] | None) -> Verdict:
    org = rules.get("github_org")
    if not org:
        return ADMITTED
    try:
        member = is_member(org) if is_member is not None else False
    except Exception:  # the membership cannot be known: fail closed
        member = False
    if member:
        return ADMITTED
    return Verdict(False, f"you are not an active member of the GitHub organisation {org}")


def admit(
    rules: dict,
    extra_data: dict,
    *,
    provider_emails: list[tuple[str, bool]] = (),
    github_member: Callable[[str], bool] | None = None,
) -> Verdict:
    claims = merged_claims(extra_data)
    for verdict in (
        check_subject(extra_data),
        check_tenant(rules, claims),
        check_domains(rules, verified_emails(claims, list(provider_emails))),
        check_github_org(rules, github_member),
    ):
        if not verdict.admitted:
            return verdict
    return ADMITTED


def groups_from_claims(rules: dict, extra_data: dict) -> list[str] | None:
    """Group names from the configured claim; None when the provider manages no groups."""
    claim = rules.get("groups_claim")
    if not claim:
        return None
    value = merged_claims(extra_data).get(claim, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return sorted({v.strip()[:150] for v in value if isinstance(v, str) and v.strip()})
