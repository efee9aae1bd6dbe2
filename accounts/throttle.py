"""Login brute-force protection: a per-username lockout and a per-address slow-down.

* **Per username** (the lock): after ``MAX_PER_USERNAME`` failures for one account within
  ``WINDOW`` seconds, from anywhere, sign-in for that account is refused without checking
  the password until the window passes. The key is the username as Django authenticates
  it: NFKC-normalised (``AbstractBaseUser.normalize_username``), then case-folded, so
  look-alikes (mathematical bold or fullwidth letters, ``ALICE``) share one counter and get no
  fresh tries. Only someone who knows a username can lock that account.
* **Per address** (only slows, never locks): after ``MAX_PER_ADDRESS`` failures from one
  client address within ``WINDOW``, that address may try again only ``SLOW_INTERVAL``
  seconds after its last failure. A password sprayer is cut to a few hundred guesses an
  hour, but nobody is locked out by someone else's failures: if many users share an
  address (a NAT, or a proxy whose hop count is misconfigured), they wait seconds, not
  fifteen minutes.

The address is authserver.ops.client_address's proxy-aware one. Counts live in the cache
(Redis in production, a file cache shared by all processes in the embedded default) as
atomic counters (authserver.ops.counters). An attempt is counted *before* its password is
checked (``admit``): check-then-act let 30 concurrent guesses check 12 passwords, where
counting first checks exactly ``MAX_PER_USERNAME``; a correct password clears the count. The
message is the same whether or not the username exists, so the lockout does not
enumerate users either. Time is passed in (``now``, Unix seconds) for the slow-down.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata

from django.core.cache import cache

from authserver.ops import counters

log = logging.getLogger("accounts.throttle")
WINDOW = 15 * 60
MAX_PER_USERNAME = 5
MAX_PER_ADDRESS = 30
SLOW_INTERVAL = 10  # seconds between attempts from an address over MAX_PER_ADDRESS


class ThrottleUnavailable(Exception):
    """The failure counts cannot be read: sign-in fails closed."""


def normalize_username(username: str) -> str:
    """The identity a username signs in as: NFKC (what Django authenticates with), then
    case-folded (so the throttle never counts ``Alice`` and ``alice`` apart), then NFKC
    again (case folding can leave text unnormalised)."""
    folded = unicodedata.normalize("NFKC", username.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def _user_key(username: str) -> str:
    digest = hashlib.sha256(normalize_username(username).encode()).hexdigest()[:32]
    return f"login-fail:user:{digest}"


def _addr_keys(address: str) -> tuple[str, str]:
    return f"login-fail:addr:{address}", f"login-slow:addr:{address}"


def check(username: str, address: str, *, now: float) -> str:
    """ "" when an attempt may go ahead; "locked" (the username) or "slowed" (the address)."""
    user_key = _user_key(username)
    count_key, slow_key = _addr_keys(address)
    try:
        counts = counters.read_many([user_key, count_key])
        slow_until = cache.get(slow_key, 0)
    except Exception:
        log.warning("login throttle unavailable (cache down); refusing sign-in")
        raise ThrottleUnavailable from None  # fail closed: no brute force while blind
    if counts[user_key] >= MAX_PER_USERNAME:
        return "locked"
    if counts[count_key] >= MAX_PER_ADDRESS and now < slow_until:
        return "slowed"
    return ""


def admit(username: str, address: str, *, now: float) -> str:
    """Like ``check``, but counts this attempt against the username first, atomically: of
    any number of concurrent attempts, at most ``MAX_PER_USERNAME`` per window are admitted.
    The caller clears the count (``reset``) when the password was right."""
    verdict = check(username, address, now=now)
    if verdict:
        return verdict
    try:
        attempts = counters.hit(_user_key(username), window=WINDOW, now=now)
    except Exception:
        log.warning("login throttle unavailable (cache down); refusing sign-in")
        raise ThrottleUnavailable from None
    return "locked" if attempts > MAX_PER_USERNAME else ""


def is_locked(username: str, address: str, *, now: float) -> bool:
    return check(username, address, now=now) != ""


def record_failure(username: str, address: str, *, now: float, admitted: bool = False) -> None:
    """A wrong password: count it against the address and (unless ``admit`` already did)
    the username."""
    count_key, slow_key = _addr_keys(address)
    try:
        keys = (count_key,) if admitted else (_user_key(username), count_key)
        for key in keys:
            counters.hit(key, window=WINDOW, now=now)
        # The earliest next attempt from this address (only enforced over the cap).
        cache.set(slow_key, now + SLOW_INTERVAL, WINDOW)
    except Exception:
        log.warning("login failure not counted (cache down)")


def reset(username: str) -> None:
    try:
        counters.clear(_user_key(username))
    except Exception:
        log.warning("login throttle reset failed (cache down)")
