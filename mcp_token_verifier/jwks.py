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

import json
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto import jwk
from jwcrypto.common import base64url_decode

from mcp_token_verifier.fetch import Fetch, FetchError

log = logging.getLogger(__name__)

MIN_MAX_AGE = 60.0
MAX_MAX_AGE = 24 * 3600.0
DEFAULT_MAX_AGE = 300.0
ACCEPT_JSON = {"Accept": "application/json"}
_DIGITS = re.compile(r"[0-9]+")
SUPPORTED_ALGORITHMS = ("ES256", "RS256", "EdDSA")
MIN_RSA_BITS = 2048
# (signature, signing input) -> None, or raises: one per (kid, alg), built when the JWKS loads.
SignatureCheck = Callable[[bytes, bytes], None]


def metadata_url(issuer: str) -> str:
    """RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path."""
    parts = urlsplit(issuer)
    # RFC 8414 §3.1: "any terminating '/' MUST be removed before inserting".
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate JSON member")
    return obj


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: json.loads with hooks would build a new one each time.
STRICT_JSON = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def loads_json_object(body: bytes | str) -> dict:
    """Strict JSON: UTF-8, an object, no duplicate members, no NaN. Raises ValueError."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")  # RFC 8259 §8.1: UTF-8, not json's UTF-16/32 sniffing
    try:
        # Compact JSON (a JWS part) ends where the value does; anything else, such as
        # surrounding whitespace, takes the full decode, which also refuses trailing data.
        try:
            value, end = STRICT_JSON.raw_decode(body)
        except ValueError:
            end = -1
        if end != len(body):
            value = STRICT_JSON.decode(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


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


def key_fits(key: jwk.JWK, alg: str) -> bool:
    """Whether ``key`` may verify ``alg`` (RFC 7518 §3, RFC 8037 §3.1)."""
    if key.get("alg") not in (None, alg):
        return False
    if key.get("use") not in (None, "sig"):
        return False
    ops = key.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return False
    kty = key.get("kty")
    if alg == "ES256":
        return kty == "EC" and key.get("crv") == "P-256"
    if alg == "EdDSA":
        return kty == "OKP" and key.get("crv") == "Ed25519"
    if alg == "RS256":
        # RFC 7518 §3.3: a key of size 2048 bits or larger MUST be used.
        try:
            bits = int.from_bytes(base64url_decode(key.get("n", "")), "big").bit_length()
        except (ValueError, TypeError):
            return False
        return kty == "RSA" and bits >= MIN_RSA_BITS
    return False


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_SHA256 = hashes.SHA256()
_PKCS1V15 = padding.PKCS1v15()


def signature_check(key: jwk.JWK, alg: str) -> SignatureCheck:
    """RFC 7515 §5.2 for a key that fits ``alg``: raises unless the signature verifies.

    The ``cryptography`` key object is made here, once, so a token costs one verify call.
    """
    try:
        public = key.get_op_key("verify")
    except Exception:  # jwcrypto raises many types: a key we cannot use verifies nothing
        log.warning("JWK %r has no usable public key", key.get("kid"))
        return _refuse

    if alg == "ES256":

        def check(signature: bytes, signing_input: bytes) -> None:
            # RFC 7518 §3.4: r || s, 32 bytes each; cryptography takes the DER ECDSA-Sig-Value.
            if len(signature) != 64:
                raise InvalidSignature
            r0, s0 = signature[0], signature[32]
            if r0 and s0:
                head, middle = _DER_HEADERS[r0 > 0x7F][s0 > 0x7F]
                der = head + signature[:32] + middle + signature[32:]
            else:  # a leading zero byte, 1 in 128: the general encoder strips it
                der = encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                )
            public.verify(der, signing_input, _ECDSA_SHA256)

    elif alg == "RS256":

        def check(signature: bytes, signing_input: bytes) -> None:
            public.verify(signature, signing_input, _PKCS1V15, _SHA256)

    elif alg == "EdDSA":

        def check(signature: bytes, signing_input: bytes) -> None:
            public.verify(signature, signing_input)

    else:
        return _refuse
    return check


def _refuse(signature: bytes, signing_input: bytes) -> None:
    raise InvalidSignature


def _der_headers(r_high: bool, s_high: bool) -> tuple[bytes, bytes]:
    """DER (X.690 §8.3) around r and s, 32 bytes each, neither starting with a zero byte:
    SEQUENCE and INTEGER headers before r, INTEGER header before s. A first byte of 0x80 or
    more takes a zero byte in front, or the INTEGER would read as negative."""
    r_head = b"\x02\x21\x00" if r_high else b"\x02\x20"
    s_head = b"\x02\x21\x00" if s_high else b"\x02\x20"
    return b"\x30" + bytes((len(r_head) + len(s_head) + 64,)) + r_head, s_head


# [r_high][s_high]: building the DER from the bytes saves a round trip through two ints.
_DER_HEADERS = tuple(tuple(_der_headers(r, s) for s in (False, True)) for r in (False, True))


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
