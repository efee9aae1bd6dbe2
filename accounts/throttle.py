"""Login brute-force protection: a fixed-window failure count per username and per address.

After ``MAX_PER_USERNAME`` failures for one username (from anywhere) or ``MAX_PER_ADDRESS``
failures from one address (any usernames) within ``WINDOW`` seconds, sign-in attempts are
refused without checking the password until the window passes. Counts live in the cache
(Redis in production, shared by every replica). The message is the same whether or not the
username exists, so the lockout does not enumerate users either.
"""

from __future__ import annotations

import hashlib
import logging

from django.core.cache import cache

log = logging.getLogger("accounts.throttle")
WINDOW = 15 * 60
MAX_PER_USERNAME = 5
MAX_PER_ADDRESS = 30


class ThrottleUnavailable(Exception):
    """The failure counts cannot be read: sign-in fails closed."""


def _keys(username: str, address: str) -> tuple[str, str]:
    user_digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:user:{user_digest}", f"login-fail:addr:{address}"


def is_locked(username: str, address: str) -> bool:
    user_key, addr_key = _keys(username, address)
    try:
        counts = cache.get_many([user_key, addr_key])
    except Exception:
        log.warning("login throttle unavailable (cache down); refusing sign-in")
        raise ThrottleUnavailable from None  # fail closed: no brute force while blind
    return counts.get(user_key, 0) >= MAX_PER_USERNAME or counts.get(addr_key, 0) >= MAX_PER_ADDRESS


def record_failure(username: str, address: str) -> None:
    for key in _keys(username, address):
        try:
            if not cache.add(key, 1, WINDOW):
                cache.incr(key)
        except Exception:
            log.warning("login failure not counted (cache down)")


def reset(username: str) -> None:
    try:
        cache.delete(_keys(username, "")[0])
    except Exception:
        log.warning("login throttle reset failed (cache down)")
