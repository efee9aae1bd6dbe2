"""django-allauth adapters: no local sign-up, admission rules, SCIM linking, audited outcomes."""

from __future__ import annotations

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.shortcuts import render

from accounts.scim.models import ScimIdentity
from accounts.upstream import admission, providers
from authserver import audit

log = logging.getLogger("accounts.upstream")
GITHUB_API = "https://api.github.com"


class AccountAdapter(DefaultAccountAdapter):
    """Accounts come from an upstream provider, SCIM or an admin, never self sign-up."""

    def is_open_for_signup(self, request) -> bool:
        return False

    def is_safe_url(self, url: str) -> bool:
        return providers.is_own_page(url)  # only this server's pages, never ALLOWED_HOSTS


def _subject(sociallogin) -> str:
    return f"{sociallogin.account.provider}:{sociallogin.account.uid}"


def refuse(request, sociallogin, reason: str) -> None:
    audit.record(
        "signin.refused",
        actor=f"upstream:{sociallogin.account.provider}",
        ip=request.META.get("REMOTE_ADDR") or None,
        detail={
            "provider": sociallogin.account.provider,
            "subject": str(sociallogin.account.uid),
            "reason": reason,
        },
    )
    log.info("upstream sign-in refused: %s (%s)", _subject(sociallogin), reason)
    response = render(
        request,
        "accounts/signin_refused.html",
        {"provider": sociallogin.provider.name, "reason": reason},
        status=403,
    )
    raise ImmediateHttpResponse(response)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return True  # first sign-in provisions the user (admission rules already passed)

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        return True

    def pre_social_login(self, request, sociallogin) -> None:
        if sociallogin.state.get("process") == "connect":
            # Identities are linked by the provider (issuer + subject), SCIM or an admin;
            # a signed-in user may not attach another login to their account.
            refuse(request, sociallogin, "connecting another account is not allowed here")
        rules = sociallogin.provider.app.settings if sociallogin.provider.app else {}
        emails = [(e.email, bool(e.verified)) for e in sociallogin.email_addresses]
        if sociallogin.account.provider != "github":
            emails = []  # OIDC: only the email_verified claim counts (admission.verified_emails)
        verdict = admission.admit(
            rules,
            sociallogin.account.extra_data or {},
            provider_emails=emails,
            github_member=_github_member(self, sociallogin),
        )
        if not verdict.admitted:
            refuse(request, sociallogin, verdict.reason)
        if not sociallogin.is_existing:
            _link_scim_identity(request, sociallogin, rules)
        user = sociallogin.user
        if user is not None and user.pk and not user.is_active:
            refuse(request, sociallogin, "your account here is deactivated")

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        audit.record(
            "signin.failed",
            actor=f"upstream:{getattr(provider, 'id', '')}",
            ip=request.META.get("REMOTE_ADDR") or None,
            detail={"provider": getattr(provider, "id", ""), "error": str(error or "")[:100]},
        )


def _github_member(adapter, sociallogin):
    if sociallogin.account.provider != "github" or sociallogin.token is None:
        return None
    token = sociallogin.token.token

    def is_member(org: str) -> bool:
        with adapter.get_requests_session() as session:
            response = session.get(
                f"{GITHUB_API}/user/memberships/orgs/{org}",
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        return response.status_code == 200 and response.json().get("state") == "active"

    return is_member


def _link_scim_identity(request, sociallogin, rules: dict) -> None:
    """A user provisioned by SCIM signs in for the first time: link by the provider's own
    identifier (``scim_external_id_claim``, e.g. Okta's ``sub`` or Entra's ``oid``), the
    value the provider also sent as SCIM ``externalId``. Never by email."""
    claim = rules.get("scim_external_id_claim")
    if not claim:
        return
    value = admission.merged_claims(sociallogin.account.extra_data or {}).get(claim)
    if not isinstance(value, str) or not value:
        return
    identity = ScimIdentity.objects.filter(external_id=value).select_related("user").first()
    if identity is not None and not identity.user.is_active:
        refuse(request, sociallogin, "your account here is deactivated")
    if identity is not None:
        sociallogin.connect(request, identity.user)
