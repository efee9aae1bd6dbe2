"""Sign-in, sign-out and the Connected apps page (thin: parse, call one service, render)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import Max, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import throttle
from accounts.models import Consent
from accounts.upstream.providers import sign_in_choices
from authserver.authorization import consent
from authserver.models import AccessToken
from authserver.ops import client_address


class ThrottleMixin:
    """Refuses attempts while the username is locked out or the address is slowed down
    (accounts.throttle); the address is the proxy-aware one (authserver.ops.client_address)."""

    throttled_message = "Too many failed sign-in attempts. Wait a few minutes and try again."
    slowed_message = "Too many failed sign-in attempts from your network. Wait a few seconds."

    def clean(self):
        username = self.data.get("username", "")
        address = client_address.client_ip(self.request) if self.request else ""
        now = time.time()
        try:
            verdict = throttle.admit(username, address, now=now)
        except throttle.ThrottleUnavailable:
            raise ValidationError(
                "Sign-in is temporarily unavailable. Try again in a moment.", code="unavailable"
            ) from None
        if verdict == "locked":
            raise ValidationError(self.throttled_message, code="throttled")
        if verdict == "slowed":
            raise ValidationError(self.slowed_message, code="slowed")
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.record_failure(username, address, now=now, admitted=True)
            raise
        throttle.reset(username)
        return cleaned


class ThrottledAuthenticationForm(ThrottleMixin, AuthenticationForm):
    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        # LOCAL_LOGIN=false: passwords are the admins' break-glass path only. A non-staff
        # user's right password gets the wrong password's answer (and counts as a failure):
        # a different message would tell a guesser the password was right.
        if not settings.LOCAL_LOGIN and not user.is_staff:
            raise self.get_invalid_login_error()


class ThrottledAdminAuthenticationForm(ThrottleMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    """Django's login view: CSRF, sensitive_post_parameters and a safe ``next`` built in,
    plus brute-force throttling."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    authentication_form = ThrottledAuthenticationForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["providers"] = sign_in_choices(self.request)
        context["local_login"] = settings.LOCAL_LOGIN
        return context


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/home.html")


@login_required
def connected_apps(request: HttpRequest) -> HttpResponse:
    """Every client holding the user's consent: for which MCP server, what, last used when."""
    last_used = (
        AccessToken.objects.filter(
            user=request.user, application=OuterRef("client"), token_family__isnull=False
        )
        .values("application")
        .annotate(last=Max("created"))
        .values("last")
    )
    consents = (
        Consent.objects.filter(user=request.user)
        .select_related("client", "resource")
        .annotate(last_used=Subquery(last_used))
        .order_by("-updated_at")
    )
    return render(request, "accounts/connected_apps.html", {"consents": consents})


@login_required
@require_POST
def revoke_app(request: HttpRequest, consent_id: int) -> HttpResponse:
    """Withdraw consent and revoke every token of that grant at once."""
    granted = get_object_or_404(Consent, pk=consent_id, user=request.user)
    name = granted.client.name or granted.client.client_id
    consent.withdraw(granted)
    messages.success(request, f"{name} can no longer reach {granted.resource.name}.")
    return redirect("accounts:connected-apps")
