"""Fresh re-authentication by password on the approval page (where the approval policy allows
it): the same throttle as sign-in (accounts.throttle: per-username lockout, per-address
slow-down), failing closed when the throttle's cache is down. Messages go to the page."""

from __future__ import annotations

import time

from django.contrib import messages
from django.http import HttpRequest

from accounts import throttle
from authserver import audit
from authserver.ops import client_address


def check_password(request: HttpRequest, password: str) -> bool:
    """True when ``password`` is the signed-in person's, and they are not throttled."""
    user = request.user
    username = user.get_username()
    address = client_address.client_ip(request)
    now = time.time()
    try:
        verdict = throttle.admit(username, address, now=now)
    except throttle.ThrottleUnavailable:
        messages.error(request, "Approving by password is unavailable right now. Try again.")
        return False
    if verdict:
        messages.error(request, "Too many wrong passwords. Wait a few minutes and try again.")
        return False
    if not password or not user.check_password(password):
        throttle.record_failure(username, address, now=now, admitted=True)
        audit.record("approval.reauth_failed", user_id=user.pk, ip=address or None)
        messages.error(request, "That is not your password.")
        return False
    throttle.reset(username)
    return True
