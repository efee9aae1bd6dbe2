"""django-allauth adapters: no local sign-up, admission rules, SCIM linking, audited outcomes."""

from __future__ import annotations

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.shortcuts import render

from accounts import principals
from accounts.scim.models import ScimIdentity
from accounts.upstream import admission, providers
from authserver import audit, egress

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
    def get_requests_session(self):
        """allauth's session for every call to an upstream provider (OIDC discovery, token,
        userinfo, GitHub's API), routed by the one egress rule (authserver.egress)."""
        session = super().get_requests_session()
        send = session.request

        def request(method, url, *args, **kwargs):
            kwargs.setdefault("proxies", egress.requests_proxies(url))
            return send(method, url, *args, **kwargs)

        session.request = request
        return session

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
        verdict = admission.admit(
            rules,
            sociallogin.account.extra_data or {},
            provider_emails=_provider_emails(sociallogin),
            github_member=_github_member(self, sociallogin),
        )
        if not verdict.admitted:
            refuse(request, sociallogin, verdict.reason)
        if not sociallogin.is_existing:
            _link_scim_identity(request, sociallogin, rules)
        if not sociallogin.is_existing:
            _link_by_email(request, sociallogin, rules)
        user = sociallogin.user
        if user is not None and user.pk and not user.is_active:
            refuse(request, sociallogin, "your account here is deactivated")

    def authenticate_by_email(self, sociallogin):
        """Never allauth's own email linking: it takes any verified address of any provider
        with ``email_authentication``, staff included, and then wipes the local password
        (``wipe_password``). Ours is ``_link_by_email``, with the rules of docs/IDENTITY.md."""
        return None

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        audit.record(
            "signin.failed",
            actor=f"upstream:{getattr(provider, 'id', '')}",
            ip=request.META.get("REMOTE_ADDR") or None,
            detail={"provider": getattr(provider, "id", ""), "error": str(error or "")[:100]},
        )


def _provider_emails(sociallogin) -> list[tuple[str, bool]]:
    if sociallogin.account.provider != "github":
        return []  # OIDC: only the email_verified claim counts (admission.verified_emails)
    return [(e.email, bool(e.verified)) for e in sociallogin.email_addresses]


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


def _linkable(user, provider: str) -> bool:
    """May a first sign-in of ``provider`` attach to this existing user? Never staff or
    superusers (their password is the break-glass path), never a user already holding
    another subject of this provider, never a user another provider or an enterprise IdP
    provisioned."""
    if user.is_staff or user.is_superuser:
        return False
    if SocialAccount.objects.filter(user=user, provider=provider).exists():
        return False
    if principals.provisioned_elsewhere(user):  # e.g. by an enterprise IdP (ID-JAG)
        return False
    identity = ScimIdentity.objects.filter(user=user).first()
    return identity is None or identity.provider == provider


def _link_scim_identity(request, sociallogin, rules: dict) -> None:
    """A user provisioned by SCIM signs in for the first time: link by the pair (provider,
    the provider's own identifier), ``scim_external_id_claim`` (Okta's ``sub``, Entra's
    ``oid``), which that provider's SCIM token sent as ``externalId``. Only identities the
    same provider's token created; an unbound identity links nothing. Never by email."""
    claim = rules.get("scim_external_id_claim")
    provider = sociallogin.account.provider
    if not claim or not provider:
        return
    value = admission.merged_claims(sociallogin.account.extra_data or {}).get(claim)
    if not isinstance(value, str) or not value:
        return
    identity = (
        ScimIdentity.objects.filter(provider=provider, external_id=value)
        .select_related("user")
        .first()
    )
    if identity is None:
        return
    if not identity.user.is_active:
        refuse(request, sociallogin, "your account here is deactivated")
    if not _linkable(identity.user, provider):
        refuse(request, sociallogin, "this account cannot be linked to this sign-in")
    principals.link_upstream(request, sociallogin, identity.user, via="scim_external_id")


def _authoritative(rules: dict, email: str) -> bool:
    domains = rules.get("email_authoritative_domains") or []
    wanted = {d.strip().lower().lstrip("@") for d in domains if isinstance(d, str)}
    return email.rpartition("@")[2] in wanted


def _link_by_email(request, sociallogin, rules: dict) -> None:
    """Where the operator allowed it (``email_authentication``), a verified address from a
    provider authoritative for its domain (``email_authoritative_domains``) links to the one
    active, non-staff user with that address (case-normalised) that no upstream identity
    holds yet. The password stays."""
    if rules.get("email_authentication") is not True:
        return
    provider = sociallogin.account.provider
    claims = admission.merged_claims(sociallogin.account.extra_data or {})
    for email in admission.verified_emails(claims, _provider_emails(sociallogin)):
        if not _authoritative(rules, email):
            continue
        candidates = [
            user
            for user in get_user_model().objects.filter(email__iexact=email, is_active=True)
            if user.email.strip().lower() == email  # not PostgreSQL's locale-dependent match
        ]
        # Only to an account no upstream identity holds yet (one an admin made): an account
        # another provider created carries an address nobody authoritative vouched for,
        # and its provider could still sign in to it (pre-hijacking).
        if (
            len(candidates) == 1
            and _linkable(candidates[0], provider)
            and not SocialAccount.objects.filter(user=candidates[0]).exists()
        ):
            principals.link_upstream(request, sociallogin, candidates[0], via="email")
            return
