"""The issuer's signed revocation list, polled with If-None-Match (README, "Revocation list").

A compact JWS with header ``typ: revocation-list+jwt``, signed by a key in the issuer's JWKS;
claims ``iss``, ``iat``, ``exp``, ``jti`` (revoked token ids), ``sub_before`` and
``client_before`` (``{value: unix time}``: tokens issued at or before it are revoked) and
``kid`` (compromised keys). Lookups are set/dict lookups: O(1) per token.

Fail closed: when the list cannot be fetched and the copy we hold has passed its ``exp``,
``is_revoked`` raises and the verifier refuses the token ("revocation status unavailable").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from mcp_token_verifier import jws
from mcp_token_verifier.fetch import Fetch, FetchError
from mcp_token_verifier.jwks import KeyCache

log = logging.getLogger(__name__)
LIST_TYPE = "revocation-list+jwt"
# The list grows with revocations; the fetch caps the body first (fetch.MAX_BODY_BYTES by
# default), this only bounds what a custom fetch may hand over.
MAX_LIST_CHARS = 64 * 1024 * 1024


class RevocationListUnavailable(Exception):
    """No current, verified revocation list."""


@dataclass(frozen=True, slots=True)
class _List:
    exp: float
    jtis: frozenset[str] = field(default_factory=frozenset)
    kids: frozenset[str] = field(default_factory=frozenset)
    sub_before: dict[str, float] = field(default_factory=dict)
    client_before: dict[str, float] = field(default_factory=dict)


class RevocationList:
    def __init__(
        self,
        uri: str,
        *,
        issuer: str,
        keys: KeyCache,
        fetch: Fetch,
        clock: Callable[[], float],
        algorithms: tuple[str, ...],
        poll_interval: float = 5.0,
        leeway: float = 0.0,
    ) -> None:
        self.uri = uri
        self._issuer = issuer
        self._keys = keys
        self._fetch = fetch
        self._clock = clock
        self._algorithms = algorithms
        self._poll_interval = poll_interval
        self._leeway = leeway
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._list: _List | None = None
        self._etag: str | None = None
        self._checked_at = float("-inf")
        # (list, until): the list answers without a poll while now < until, the earlier of
        # the next poll and its exp; replaced whole, so one read sees a consistent pair.
        self._usable: tuple[_List | None, float] = (None, float("-inf"))

    def is_revoked(self, claims: dict, kid: str, now: float | None = None) -> bool:
        """Whether the current list revokes this token; raises RevocationListUnavailable."""
        if now is None:
            now = self._clock()
        current, until = self._usable
        if now >= until:  # due for a poll, or expired, or none yet
            current = self._current(now)
        if claims.get("jti") in current.jtis or kid in current.kids:
            return True
        # Tokens issued at or before their user's or client's cutoff are revoked.
        if current.sub_before:
            before = current.sub_before.get(claims.get("sub"))
            if before is not None and claims.get("iat", 0) <= before:
                return True
        if current.client_before:
            before = current.client_before.get(claims.get("client_id"))
            if before is not None and claims.get("iat", 0) <= before:
                return True
        return False

    def _current(self, now: float | None = None) -> _List:
        if now is None:
            now = self._clock()
        # Read without the lock: each attribute read is atomic, and a poll under way
        # elsewhere (``_checked_at`` set first) leaves us with the list it replaces.
        current = self._list
        due = now - self._checked_at >= self._poll_interval
        if due:
            with self._fetch_lock:
                with self._lock:
                    due = now - self._checked_at >= self._poll_interval
                if due:
                    self._refresh(now)
            with self._lock:
                current = self._list
        if current is None or now >= current.exp:
            raise RevocationListUnavailable("no current revocation list")
        return current

    def _refresh(self, now: float) -> None:
        headers = {"Accept": "application/jwt"}
        with self._lock:
            self._checked_at = now
            self._set_usable()
            if self._etag and self._list is not None:
                headers["If-None-Match"] = self._etag
        try:
            status, raw_headers, body = self._fetch(self.uri, headers)
            response_headers = {k.lower(): v for k, v in raw_headers.items()}
            if status == 304 and "If-None-Match" in headers:
                return
            if status != 200:
                raise FetchError(f"revocation list answered HTTP {status}")
            parsed = self._verify(body.decode("ascii").strip(), now)
        except Exception as exc:  # keep the copy we have; it fails closed once expired
            log.warning("revocation list refresh failed: %s", exc)
            return
        with self._lock:
            self._list = parsed
            self._etag = response_headers.get("etag")
            self._set_usable()

    def _set_usable(self) -> None:
        """Called with ``_lock`` held, whenever ``_list`` or ``_checked_at`` changes."""
        current = self._list
        if current is None:
            self._usable = (None, float("-inf"))
        else:
            self._usable = (current, min(self._checked_at + self._poll_interval, current.exp))

    def _verify(self, token: str, now: float) -> _List:
        """The list's claims through the one JWS path (jws.verify): typ, alg, key, signature,
        then iss and the time claims on our clock (exp and iat required)."""
        try:
            verified = jws.verify(
                token,
                typ=LIST_TYPE,
                algorithms=self._algorithms,
                resolve=self._keys.check_for,
                kid_required=True,
                max_chars=MAX_LIST_CHARS,
            )
            claims = verified.claims
            if claims.get("iss") != self._issuer:
                raise FetchError("revocation list from another issuer")
            jws.check_times(claims, now=now, leeway=self._leeway, required=("exp", "iat"))
        except jws.JWSError as exc:
            raise FetchError(f"revocation list {exc}") from None
        exp = claims["exp"]
        return _List(
            exp=float(exp),
            jtis=frozenset(str(j) for j in claims.get("jti", [])),
            kids=frozenset(str(k) for k in claims.get("kid", [])),
            sub_before={str(k): float(v) for k, v in dict(claims.get("sub_before", {})).items()},
            client_before={
                str(k): float(v) for k, v in dict(claims.get("client_before", {})).items()
            },
        )
