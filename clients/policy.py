"""Who may register, how often, how many, and what happens to registrations nobody uses.

Set from the environment (authserver/config.py, read at call time from
``settings.CONFIG``) and shown on the admin's client list:

* ``REGISTRATION_MODE``: ``open`` (the default for MCP: clients arrive unannounced) or
  ``initial_access_token`` (RFC 7591 §3): ``POST /register`` then needs
  ``Authorization: Bearer <token>`` issued by ``manage.py issue_initial_access_token``.
* ``REGISTRATION_RATE_LIMIT``: registrations per client address per hour (a fixed window
  counted in the cache, Redis in production; IPv6 counted per /64). Over it: 429 with
  ``Retry-After``. If the cache is down, registration answers 503 (fail closed); nothing
  else depends on it.
* ``MAX_DYNAMIC_CLIENTS``: a cap on self-registered clients (DCR and CIMD together). A full
  server answers **503** ``temporarily_unavailable`` with ``Retry-After``, not 400: the
  request is fine, the server is not, and the operator is the one who has to act (delete
  stale clients or raise the cap). The count is checked before the insert, so concurrent
  registrations can overshoot it by a few: it is a brake, not an invariant.
* Self-registered clients start ``verified=False``; the consent screen says so.

**Duplicates.** MCP clients that register again on every connect (dozens of identical rows
per user have been seen) are handled two ways:

1. *Collapse on arrival*: each client stores a fingerprint of its normalised metadata
   (clients.registration.fingerprint; loopback ports ignored, since RFC 8252 §7.3 lets any
   port match). When a registration arrives, earlier DCR registrations with the same
   fingerprint, from the same address, that were never used (no token ever issued, no
   grant outstanding) and are older than ``DUPLICATE_GRACE`` are deleted. The grace keeps
   an authorization that is still in progress (login, consent) alive. We never hand out an
   existing client_id again: we keep only hashes, and re-issuing a registration access
   token would let a stranger with the same metadata manage someone else's client.
2. *Expire fast*: clients/cleanup.py removes DCR and CIMD clients never used within
   ``DYNAMIC_CLIENT_UNUSED_DAYS`` (default 1) and those idle ``DYNAMIC_CLIENT_IDLE_DAYS``
   (default 90), unless an admin verified them.

The admin list groups what is left by fingerprint (a "copies" column and a filter).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.http import HttpRequest
from oauth2_provider.models import get_access_token_model, get_grant_model

from authserver import client_secrets as secrets
from authserver.ops import client_address, counters
from clients import modes
from clients.errors import InvalidToken, RegistrationRateLimited, RegistrationUnavailable
from clients.models import Client, InitialAccessToken

logger = logging.getLogger("clients.policy")

RATE_WINDOW = 3600  # seconds: REGISTRATION_RATE_LIMIT is per hour
DUPLICATE_GRACE = timedelta(minutes=30)
SELF_REGISTERED = (Client.RegistrationSource.DCR, Client.RegistrationSource.CIMD)


def client_ip(request: HttpRequest) -> str:
    """The caller's address (authserver.ops.client_address: proxy-aware, one rule everywhere)."""
    return client_address.client_ip(request)


def _rate_key(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if address.version == 6:  # one host gets a whole /64
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def check_rate_limit(ip: str, *, now: float) -> None:
    """Count one registration attempt from ``ip``; raise when over the hourly limit."""
    limit = settings.CONFIG.registration_rate_limit
    if limit == 0:
        return
    window = int(now // RATE_WINDOW)
    key = f"clients:register:{_rate_key(ip)}:{window}"
    try:  # atomic in every supported cache (authserver.ops.counters)
        count = counters.hit(key, window=RATE_WINDOW + 60, now=now)
    except Exception as exc:  # the cache (Redis) is down: refuse only registration
        raise RegistrationUnavailable(detail=f"rate limiter unavailable: {exc!r}") from None
    if count > limit:
        retry_after = (window + 1) * RATE_WINDOW - int(now) + 1
        raise RegistrationRateLimited(
            "too many registrations from this address; retry later",
            retry_after=retry_after,
            detail=f"rate limit {limit}/h exceeded by {ip}",
        )


# The cap's count, per process. A full count (at most ``limit`` rows) at most every
# RECOUNT_SECONDS; in between, at most every READ_SECONDS, the self-registered rows created
# after the newest one counted so far, read on the index (registration_source, created), so
# a read visits only the rows that arrived since the previous read. Between reads, this
# process adds its own new clients as it saves them (signals in clients.signals) and
# deletions forget the count; only other processes' registrations wait for the next read.
# Near the cap (NEAR_CAP of it) every check reads, so the brake is as exact as a count
# before the insert can be; far from it the count costs no query (a query on every
# registration was a third of its CPU). A row still in flight at a read (a registration
# that commits late) is missed until the recount: the overshoot stays bounded by the
# concurrent registrations, as the module docstring says.
RECOUNT_SECONDS = 60.0
READ_SECONDS = 1.0
NEAR_CAP = 0.9


@dataclass
class _Count:
    recounted_at: float
    read_at: float
    counted: int  # rows seen by the last read
    newest: datetime | None  # their newest ``created``
    saved_here: int = 0  # this process's new self-registered clients since that read

    @property
    def value(self) -> int:
        return self.counted + self.saved_here


_counts: dict[int, _Count] = {}  # by limit


def forget_count(**_kwargs) -> None:
    _counts.clear()


def count_saved_client(client: Client) -> None:
    """A self-registered client this process created joins its counts before the next read."""
    if client.registration_source in SELF_REGISTERED:
        for count in _counts.values():
            count.saved_here += 1


def self_registered_count(limit: int) -> int:
    """Self-registered clients, counted no further than ``limit`` (see above for how fresh)."""
    now = time.monotonic()
    count = _counts.get(limit)
    fresh = count is not None and now - count.recounted_at <= RECOUNT_SECONDS
    if fresh and now - count.read_at <= READ_SECONDS and count.value < NEAR_CAP * limit:
        return count.value
    self_registered = Client.objects.filter(registration_source__in=SELF_REGISTERED).order_by()
    if not fresh:
        # COUNT and MAX over a LIMIT subquery: bounded by the cap, not by how many exist.
        found = self_registered[:limit].aggregate(n=Count("pk"), newest=Max("created"))
        count = _counts[limit] = _Count(now, now, found["n"], found["newest"])
        return count.value
    since = self_registered.filter(created__gt=count.newest) if count.newest else self_registered
    newer = since[:limit].aggregate(n=Count("pk"), newest=Max("created"))
    count.read_at, count.saved_here = now, 0
    if newer["n"]:
        count.counted += newer["n"]
        count.newest = newer["newest"]
    return count.value


def check_capacity() -> None:
    """MAX_DYNAMIC_CLIENTS: refuse new self-registered clients once the cap is reached."""
    limit = settings.CONFIG.max_dynamic_clients
    if limit and self_registered_count(limit) >= limit:
        logger.warning("MAX_DYNAMIC_CLIENTS (%d) reached: registration refused", limit)
        raise RegistrationUnavailable(detail=f"MAX_DYNAMIC_CLIENTS {limit} reached")


def bearer_token(request: HttpRequest) -> str:
    """The token of an ``Authorization: Bearer`` header (RFC 6750 §2.1), or ""."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def issue_initial_access_token(
    *, label: str, expires_at: datetime, max_uses: int | None = None, created_by=None
) -> tuple[InitialAccessToken, str]:
    """A new initial access token; the plaintext is returned once and never stored."""
    plaintext = secrets.generate_secret()
    token = InitialAccessToken.objects.create(
        label=label,
        token_hash=secrets.hash_secret(plaintext),
        expires_at=expires_at,
        max_uses=max_uses,
        created_by=created_by,
    )
    return token, plaintext


def require_initial_access_token(
    presented: str, *, now: datetime, consume: bool = False
) -> InitialAccessToken | None:
    """RFC 7591 §3: in ``initial_access_token`` mode, a valid token is required; in open
    mode none is needed (one that is sent anyway is ignored).

    Checked first without ``consume`` (a 401 before any validation); then, inside the
    registration transaction, with ``consume``: the row is locked, re-checked and its use
    counted, so ``max_uses`` holds under concurrent registrations.
    """
    if settings.CONFIG.registration_mode != "initial_access_token":
        return None
    if not presented or len(presented) > 256:
        raise InvalidToken("an initial access token is required to register")
    digest = secrets.hash_secret(presented)
    tokens = InitialAccessToken.objects.filter(token_hash=digest)
    token = (tokens.select_for_update() if consume else tokens).first()
    # The lookup is by keyed hash; compare again in constant time before trusting it.
    if token is None or not secrets.check_secret(presented, token.token_hash):
        raise InvalidToken("the initial access token is invalid")
    if not token.usable_at(now):
        raise InvalidToken("the initial access token is expired, used up or revoked")
    if consume:
        token.uses += 1
        token.save(update_fields=["uses"])
    return token


def _never_used():
    """Clients that never got a token and have no authorization code outstanding."""
    AccessToken, Grant = get_access_token_model(), get_grant_model()
    return (
        Client.objects.filter(last_used_at__isnull=True)
        .exclude(Exists(AccessToken.objects.filter(application=OuterRef("pk"))))
        .exclude(Exists(Grant.objects.filter(application=OuterRef("pk"))))
    )


# When each (fingerprint, address) can next have a duplicate to collapse, per process: a
# candidate must be older than DUPLICATE_GRACE, so after a probe the next one can exist no
# sooner than the oldest pending (younger) copy's ``created`` plus the grace, or, with no
# copy at all, the probe's time plus the grace. Until then a registration skips the probe:
# a client that registers on every connect (or a registration storm from one host) costs
# one probe per grace per worker instead of one a registration. Created stamps never change
# (tests that age rows by hand call forget_duplicates); a copy still in flight at the probe
# is collapsed by a later registration, or expires (the module docstring's second way).
NEXT_PROBES_KEPT = 10_000
_next_probe: dict[tuple[str, str], datetime] = {}


def forget_duplicates() -> None:
    _next_probe.clear()


def collapse_duplicates(client: Client, *, now: datetime) -> int:
    """Delete earlier, never-used, identical DCR registrations from the same address.

    Runs in the new client's registration transaction; returns how many were removed.
    """
    if not client.metadata_fingerprint or not client.registered_from:
        return 0
    key = (client.metadata_fingerprint, str(client.registered_from))
    due = _next_probe.get(key)
    if due is not None and now < due:
        return 0
    # The copies, from the partial index clients_index_dup_candidates alone (a plain filter:
    # never-used, unverified DCR rows only, not every client sharing a popular fingerprint
    # and address); only candidates past the grace are checked for tokens and codes.
    copies = Client.objects.filter(
        registration_source=Client.RegistrationSource.DCR,
        metadata_fingerprint=client.metadata_fingerprint,
        registered_from=client.registered_from,
        verified=False,
        last_used_at__isnull=True,
    ).exclude(pk=client.pk)
    cutoff = now - DUPLICATE_GRACE
    found = copies.aggregate(
        candidates=Count("pk", filter=Q(created__lt=cutoff)),
        pending=Min("created", filter=Q(created__gte=cutoff)),
    )
    if len(_next_probe) >= NEXT_PROBES_KEPT:
        _next_probe.clear()
    _next_probe[key] = (found["pending"] or now) + DUPLICATE_GRACE
    if not found["candidates"]:
        return 0
    _next_probe.pop(key)  # some may stay (a code outstanding): probe again next time
    stale = _never_used().filter(pk__in=copies.filter(created__lt=cutoff).values("pk"))
    removed = [c.client_id for c in stale.only("client_id")]
    if removed:
        Client.objects.filter(client_id__in=removed).delete()
        logger.info("collapsed %d duplicate registrations into %s", len(removed), client.client_id)
    return len(removed)


def summary() -> dict[str, object]:
    """The policy in force, for the admin's client list."""
    config = settings.CONFIG
    return {
        "mode": config.registration_mode,
        "modes": modes.describe(),  # REGISTRATION_MODE in one line: what is on
        "rate_limit": config.registration_rate_limit,
        "cap": config.max_dynamic_clients,
        "self_registered": Client.objects.filter(registration_source__in=SELF_REGISTERED).count(),
        "unused_days": config.dynamic_client_unused_days,
        "idle_days": config.dynamic_client_idle_days,
        "cimd": config.cimd_enabled,
    }
