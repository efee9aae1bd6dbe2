"""Per-client token issuance limits: each client gets so many token requests a minute.

The Enterprise-Managed Authorization extension says the token endpoint SHOULD be rate
limited. Every request to ``/token`` (every grant, and a token exchange a feature answers,
such as vending) counts against its client's budget once the client has authenticated:
an unauthenticated caller cannot spend another client's budget, and the check comes before
the DPoP replay cache and the grant, so a refused request writes nothing.

* **The limit**: the client's ``token_rate_limit`` (editable in the admin), else
  ``CLIENT_TOKEN_RATE_LIMIT`` (600 a minute by default); 0 means no limit.
* **The window**: fixed, aligned to the minute (``now // WINDOW``); one key per client and
  window, counted atomically in the shared cache (authserver.ops.counters.hit_named_window:
  one ``INCRBY`` on Redis; the embedded file cache under its lock), so every worker
  and process spends one budget, taking slots a hundredth of the limit at a time
  (``CHUNK_SHARE``: one round trip per chunk). A fixed window admits at most twice the
  limit across a window boundary; a sliding window would cost a second key or a sorted set
  per request.
* **The answer**: 429 (RFC 6585 §4) with ``Retry-After`` (the seconds left in the window)
  and an RFC 6749 §5.2 body whose ``error`` is ``temporarily_unavailable``, as for the
  client-authentication slow-down (client_throttle.py). RFC 6749 §5.2 has no code for
  this; ``slow_down`` belongs to polling grants (RFC 8628 §3.5, CIBA §11), where it tells a
  poller to lengthen its interval by five seconds, which is not what this means.
* **The record**: the first refusal of a window is audited (``client.rate_limited``) and
  logged; every refusal is counted in ``authserver_client_rate_limited_total``.
* **A cache that cannot be reached** limits nobody (logged): token issuance needs the
  database, not the cache (docs/SECURITY.md, "Per-client token limits").
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from prometheus_client import Counter

from authserver import audit
from authserver.errors import TemporarilyUnavailable
from authserver.ops import counters

log = logging.getLogger("authserver.token_endpoint.issuance_limit")
WINDOW = 60  # seconds
COUNTED = "issuance-limit-counted"  # marks a request counted, across the pipeline's retries
# A process takes slots from the shared count a hundredth of the limit at a time (one round
# trip per chunk, not per request): exact for limits under 200, and for larger ones at most
# a hundredth of the limit per process is left unused when a window ends; never more than
# the limit is admitted.
CHUNK_SHARE = 100
MAX_RESERVED = 10_000
_reserved: dict[str, int] = {}  # window key -> slots this process reserved and not yet used
_reserved_lock = threading.Lock()
RATE_LIMITED = Counter(
    "authserver_client_rate_limited_total",
    "Token requests refused by their client's issuance limit",
)


class IssuanceRateLimited(TemporarilyUnavailable):
    """The client used up its token requests for this window (RFC 6585 §4)."""

    status = 429
    decided_on_current_rows = True  # final: deciding again would count the request twice

    def __init__(self, *, retry_after: int, client_id: str, limit: int) -> None:
        super().__init__(
            "this client made too many token requests; try again later",
            detail=f"client {client_id[:100]!r} over its limit of {limit} a minute",
        )
        self.retry_after = retry_after


def limit_of(client) -> int:
    """Token requests a minute this client may make; 0 for no limit."""
    own = client.token_rate_limit
    return settings.CONFIG.client_token_rate_limit if own is None else own


def count_request(client, *, once: set | None = None, now: float | None = None) -> None:
    """Count one token request of ``client``; raise IssuanceRateLimited past its limit.

    ``once`` is the pipeline's per-request set: a request it already counted (a retry on
    fresh cached rows) is not counted again."""
    if once is not None:
        if COUNTED in once:
            return
        once.add(COUNTED)
    limit = limit_of(client)
    if limit == 0:
        return
    now = time.time() if now is None else now
    window = int(now // WINDOW)
    key = f"client-issuance:{client.pk}:{window}"
    if _take_reserved(key):
        return  # a slot this process reserved earlier in this window: no round trip
    chunk = max(1, limit // CHUNK_SHARE)
    try:
        total = counters.hit_named_window(key, window=WINDOW, now=now, amount=chunk)
    except Exception:
        log.warning("token issuance limit unavailable (cache down)")
        return
    first = total - chunk  # this process now holds slots first + 1 .. total of the window
    granted = max(0, min(chunk, limit - first))
    if granted:
        _reserve(key, granted - 1)  # one for this request, the rest for the next ones
        return
    RATE_LIMITED.inc()
    if first < limit + chunk:  # the window's first refusal: audited once, not per request
        log.warning("client %s over its token limit of %d a minute", client.client_id, limit)
        audit.record(
            "client.rate_limited",
            client_id=client.client_id,
            detail={"limit": limit, "window": WINDOW},
        )
    retry_after = max(1, int((window + 1) * WINDOW - now + 0.999))
    raise IssuanceRateLimited(retry_after=retry_after, client_id=client.client_id, limit=limit)


def _take_reserved(key: str) -> bool:
    with _reserved_lock:
        left = _reserved.get(key, 0)
        if left <= 0:
            return False
        _reserved[key] = left - 1
        return True


def _reserve(key: str, slots: int) -> None:
    if slots <= 0:
        return
    with _reserved_lock:
        if len(_reserved) >= MAX_RESERVED:  # old windows' keys: dropping them only under-admits
            _reserved.clear()
        _reserved[key] = _reserved.get(key, 0) + slots
