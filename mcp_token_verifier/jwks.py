"""The issuer's signing keys: RFC 8414 discovery, then a cached, conditionally refetched JWKS.

Policy:

- the JWKS is fresh for its ``Cache-Control: max-age``, clamped to [60 s, 24 h]; a stale
  set is refetched with ``If-None-Match`` and a 304 renews it;
- an unknown ``kid`` refetches at most once per ``min_refetch_interval`` (the issuer
  publishes a key a day before it signs, so an unknown kid is rare and usually forged);
- a failed fetch keeps the cached keys and is retried no sooner than
  ``min_refetch_interval`` later;
- each kid's signature checks (which key fits which algorithm, its ``cryptography`` key
  object) are worked out once when a JWKS is parsed, not once per token.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from jwcrypto import jwk

from mcp_token_verifier.fetch import Fetch, FetchError
from mcp_token_verifier.jws import MIN_RSA_BITS as MIN_RSA_BITS  # re-exported: defined there
from mcp_token_verifier.jws import SIGNATURE_ALGORITHMS, SignatureCheck, signature_check
from mcp_token_verifier.jws import key_fits as key_fits  # re-exported: defined there
from mcp_token_verifier.strictjson import loads_json_object as loads_json_object  # re-exported

log = logging.getLogger(__name__)

MIN_MAX_AGE = 60.0
MAX_MAX_AGE = 24 * 3600.0
DEFAULT_MAX_AGE = 300.0
ACCEPT_JSON = {"Accept": "application/json"}
_DIGITS = re.compile(r"[0-9]+")
SUPPORTED_ALGORITHMS = SIGNATURE_ALGORITHMS  # the verifier's name for the one list


def metadata_url(issuer: str) -> str:
    """RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path."""
    parts = urlsplit(issuer)
    # RFC 8414 §3.1: "any terminating '/' MUST be removed before inserting".
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"


def cache_lifetime(headers: Mapping[str, str]) -> float:
    """Seconds the JWKS stays fresh: ``max-age``, clamped; no-store/no-cache get the floor."""
    lifetime = DEFAULT_MAX_AGE
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().lower().partition("=")
        if name in ("no-store", "no-cache"):
            return MIN_MAX_AGE
        if name == "max-age":
            seconds = value.strip().strip('"')
            # RFC 9111 §1.2.2: a value too large to represent means "very long": the ceiling.
            if not _DIGITS.fullmatch(seconds):
                lifetime = MIN_MAX_AGE
            else:
                lifetime = MAX_MAX_AGE if len(seconds) > 100 else float(int(seconds))
    return min(max(lifetime, MIN_MAX_AGE), MAX_MAX_AGE)


class KidKeys(NamedTuple):
    """The keys published under one kid, and what each allowed algorithm verifies with."""

    keys: tuple[jwk.JWK, ...]
    # alg -> check, or None when no key, or more than one, fits alg (key_fits).
    checks: Mapping[str, SignatureCheck | None]


_NO_KEYS = KidKeys((), {})


def parse_jwks(body: bytes) -> dict[str, KidKeys]:
    """RFC 7517 §5: ``{"keys": [...]}``. Keys we cannot import or that lack a kid are skipped.

    Each kid's signature checks are built here, once per JWKS, not once per token.
    """
    try:
        document = loads_json_object(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FetchError(f"JWKS is not a JSON object: {exc}") from None
    members = document.get("keys")
    if not isinstance(members, list):
        raise FetchError("JWKS has no keys array")
    keys: dict[str, tuple[jwk.JWK, ...]] = {}
    for member in members:
        if not isinstance(member, dict) or not isinstance(member.get("kid"), str):
            continue
        try:
            key = jwk.JWK(**member)
        except Exception as exc:  # jwcrypto raises many types for a malformed key
            log.warning("skipping unusable JWK %r: %s", member.get("kid"), exc)
            continue
        # RFC 7517 §4.5: one kid may name several keys of different types.
        keys[member["kid"]] = (*keys.get(member["kid"], ()), key)
    return {kid: KidKeys(found, _checks_for(found)) for kid, found in keys.items()}


def _checks_for(keys: tuple[jwk.JWK, ...]) -> dict[str, SignatureCheck | None]:
    checks: dict[str, SignatureCheck | None] = {}
    for alg in SUPPORTED_ALGORITHMS:
        fitting = [key for key in keys if key_fits(key, alg)]
        # An RSA or EC key must never verify a token whose header names another
        # algorithm (RFC 8725 §2.1, algorithm confusion); two fitting keys is ambiguous.
        checks[alg] = signature_check(fitting[0], alg) if len(fitting) == 1 else None
    return checks


class KeyCache:
    """The JWKS of one issuer, shared by every verification; safe across threads."""

    def __init__(
        self,
        *,
        issuer: str,
        jwks_uri: str | None,
        fetch: Fetch,
        clock: Callable[[], float],
        min_refetch_interval: float,
    ) -> None:
        self._issuer = issuer
        self._fetch = fetch
        self._clock = clock
        self._min_refetch_interval = min_refetch_interval
        self._fetch_lock = threading.Lock()  # one fetch at a time
        self._lock = threading.Lock()  # guards everything below
        self._jwks_uri = jwks_uri
        self._keys: dict[str, KidKeys] = {}
        self._loaded = False
        self._etag: str | None = None
        self._fresh_until = -math.inf
        self._last_fetch: float | None = None

    @property
    def loaded(self) -> bool:
        """Whether a JWKS was ever fetched successfully."""
        with self._lock:
            return self._loaded

    def keys_for(self, kid: str) -> tuple[jwk.JWK, ...]:
        """The keys published under ``kid``, refetching per the policy above; () if none."""
        return self.lookup(kid).keys

    def check_for(self, alg: str, kid: str | None, _header: object = None) -> SignatureCheck | None:
        """The signature check of the one key under ``kid`` that fits ``alg``, or None: the
        ``resolve`` hook of ``jws.verify``. Inlines ``lookup``'s fast path (the hot path)."""
        found = self._keys.get(kid)  # type: ignore[arg-type]
        if found is None or self._clock() >= self._fresh_until:
            if not kid:
                return None
            found = self.lookup(kid)
        return found.checks.get(alg)

    def peek(self, kid: str | None) -> KidKeys:
        """The keys held under ``kid``, without fetching: to explain a refusal."""
        with self._lock:
            return self._keys.get(kid, _NO_KEYS)  # type: ignore[arg-type]

    def lookup(self, kid: str, now: float | None = None) -> KidKeys:
        """``kid``'s keys and signature checks, refetching per the policy above."""
        # Fast path without the lock: each attribute read is atomic, and a refresh racing
        # with it only means these keys are used a moment longer, as if we had come first.
        found = self._keys.get(kid)
        if found is not None and (self._clock() if now is None else now) < self._fresh_until:
            return found
        with self._fetch_lock:
            # Re-read: another thread may have refreshed while we waited for the fetch lock.
            now = self._clock()
            with self._lock:
                stale = now >= self._fresh_until
                unknown = kid not in self._keys
                last = self._last_fetch
            may_refetch = last is None or now - last >= self._min_refetch_interval
            if stale or (unknown and may_refetch):
                self._refresh(now)
            with self._lock:
                return self._keys.get(kid, _NO_KEYS)

    def _refresh(self, now: float) -> None:
        with self._lock:
            self._last_fetch = now
            etag = self._etag if self._loaded else None
        try:
            uri = self._jwks_uri or self._discover()
            headers = dict(ACCEPT_JSON)
            if etag:
                headers["If-None-Match"] = etag
            status, raw_headers, body = self._fetch(uri, headers)
            response_headers = {name.lower(): value for name, value in raw_headers.items()}
            if status == 304 and etag:
                new_keys = None  # RFC 9110 §15.4.5: our copy is still current
            elif status == 200:
                new_keys = parse_jwks(body)
            else:
                raise FetchError(f"JWKS answered HTTP {status}")
        except Exception as exc:  # fail soft: keep the keys we have, retry later
            log.warning("JWKS refresh for %s failed: %s", self._issuer, exc)
            with self._lock:
                self._fresh_until = max(self._fresh_until, now + self._min_refetch_interval)
            return
        with self._lock:
            if new_keys is not None:
                self._keys = new_keys
                self._etag = response_headers.get("etag")
                self._loaded = True
            self._fresh_until = now + cache_lifetime(response_headers)

    def _discover(self) -> str:
        """RFC 8414 §3: the ``jwks_uri`` from the issuer's metadata, cached once found."""
        status, _headers, body = self._fetch(metadata_url(self._issuer), dict(ACCEPT_JSON))
        if status != 200:
            raise FetchError(f"authorization server metadata answered HTTP {status}")
        try:
            document = loads_json_object(body)
        except (ValueError, UnicodeDecodeError):
            raise FetchError("authorization server metadata is not a JSON object") from None
        # RFC 8414 §3.3: the issuer in the document MUST be identical to the one we asked
        # about, or an attacker-controlled document could point us at its own keys.
        if document.get("issuer") != self._issuer:
            raise FetchError(
                f"authorization server metadata names issuer {document.get('issuer')!r}, "
                f"expected {self._issuer!r}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not is_http_url(jwks_uri):
            raise FetchError("authorization server metadata has no usable jwks_uri")
        # Keys fetched in the clear would let a network attacker sign tokens.
        if urlsplit(self._issuer).scheme == "https" and urlsplit(jwks_uri).scheme != "https":
            raise FetchError("an https issuer must publish an https jwks_uri")
        with self._lock:
            self._jwks_uri = jwks_uri
        return jwks_uri


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host and no fragment."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("https", "http") and bool(parts.netloc) and "#" not in value
