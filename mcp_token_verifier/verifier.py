"""RFC 9068 JWT access token validation for an MCP server (a resource server).

Every check fails closed with ``TokenError``; the order is the one RFC 9068 §4 implies:
shape, JOSE header, key, signature, then claims, revocation and scopes.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto import jwk
from jwcrypto.common import base64url_decode

from mcp_token_verifier.dpop import InvalidDPoPProof, ReplayCache, check_proof
from mcp_token_verifier.errors import TokenError
from mcp_token_verifier.fetch import Fetch, make_urllib_fetch
from mcp_token_verifier.jwks import KeyCache, is_http_url, loads_json_object
from mcp_token_verifier.revocation import RevocationList

log = logging.getLogger(__name__)

SUPPORTED_ALGORITHMS = ("ES256", "RS256", "EdDSA")
# RFC 9068 §2.1: "at+jwt"; RFC 7515 §4.1.9 allows the "application/" prefix, and media
# types compare case-insensitively (RFC 2045 §5.1).
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
MIN_RSA_BITS = 2048
MAX_TOKEN_CHARS = 16 * 1024
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
RevocationCheck = Callable[[dict], bool]


class TokenVerifier:
    """Verifies access tokens one issuer minted for one resource (this MCP server).

    Args:
        issuer: the authorization server's issuer identifier, compared exactly with ``iss``.
        resource: this server's resource URI, which the token's ``aud`` must name.
        jwks_uri: where the signing keys are; None discovers it from the issuer's RFC 8414
            metadata (whose ``issuer`` must equal ours).
        algorithms: accepted JWS algorithms, a subset of ES256, RS256 and EdDSA.
        leeway: seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
        http_timeout: seconds per HTTP request of the default fetch.
        min_refetch_interval: least seconds between two JWKS fetches for unknown kids.
        clock: returns the current Unix time; injectable for tests.
        fetch: ``(url, headers) -> (status, headers, body)``; default: urllib.
        revocation_check: extension point for a revocation list: called with the verified
            claims (``jti``, ``client_id``, ...); returning True rejects the token.
        revocation_list_uri: the issuer's signed revocation list (its metadata's
            ``revocation_list_uri``); polled at most every ``revocation_poll_interval``
            seconds, which bounds how long a revoked token keeps working here.
    """

    def __init__(
        self,
        issuer: str,
        resource: str,
        *,
        jwks_uri: str | None = None,
        algorithms: Iterable[str] = SUPPORTED_ALGORITHMS,
        leeway: float = 10,
        http_timeout: float = 5.0,
        min_refetch_interval: float = 30.0,
        clock: Callable[[], float] = time.time,
        fetch: Fetch | None = None,
        revocation_check: RevocationCheck | None = None,
        revocation_list_uri: str | None = None,
        revocation_poll_interval: float = 5.0,
        require_dpop: bool = False,
        dpop_window: float = 60.0,
    ) -> None:
        if not isinstance(issuer, str) or not is_http_url(issuer) or urlsplit(issuer).query:
            raise ValueError("issuer must be an http(s) URL without query or fragment")
        if not isinstance(resource, str) or not resource:
            raise ValueError("resource must be this server's resource URI")
        if jwks_uri is not None and not is_http_url(jwks_uri):
            raise ValueError("jwks_uri must be an http(s) URL")
        self.algorithms = _allowed_algorithms(algorithms)
        if leeway < 0 or min_refetch_interval < 0 or http_timeout <= 0:
            raise ValueError("leeway and min_refetch_interval must be >= 0, http_timeout > 0")
        if revocation_check is not None and not callable(revocation_check):
            raise ValueError("revocation_check must be callable")
        self.issuer = issuer
        self.resource = resource
        self.leeway = leeway
        self._clock = clock
        self._revocation_check = revocation_check
        fetch = fetch or make_urllib_fetch(http_timeout)
        self._keys = KeyCache(
            issuer=issuer,
            jwks_uri=jwks_uri,
            fetch=fetch,
            clock=clock,
            min_refetch_interval=min_refetch_interval,
        )
        self.require_dpop = require_dpop
        self.dpop_window = dpop_window
        self._dpop_replay = ReplayCache(clock)
        self._revocation_list = None
        if revocation_list_uri is not None:
            if not is_http_url(revocation_list_uri) or revocation_poll_interval <= 0:
                raise ValueError("revocation_list_uri must be an http(s) URL, poll interval > 0")
            self._revocation_list = RevocationList(
                revocation_list_uri,
                issuer=issuer,
                keys=self._keys,
                fetch=fetch,
                clock=clock,
                algorithms=self.algorithms,
                poll_interval=revocation_poll_interval,
            )

    def verify(
        self,
        token: str,
        required_scopes: Iterable[str] = (),
        *,
        dpop_proof: str | None = None,
        http_method: str | None = None,
        http_uri: str | None = None,
    ) -> dict:
        """Return the token's claims if it is valid here and grants ``required_scopes``.

        Raises ``TokenError``: ``invalid_token`` (401) for anything wrong with the token,
        ``insufficient_scope`` (403) when it is valid but lacks a required scope, and
        ``invalid_dpop_proof`` (401) when a DPoP-bound token (``cnf.jkt``, RFC 9449) comes
        without a valid proof for this request (``dpop_proof``, ``http_method``, ``http_uri``).
        """
        if isinstance(required_scopes, str):
            raise TypeError("required_scopes must be an iterable of scopes, not a string")
        required = list(dict.fromkeys(required_scopes))
        header = _parse_header(token)
        alg, kid = self._check_header(header)
        key = self._key_for(kid, alg)
        claims = _verify_signature(token, key, alg)
        self._check_claims(claims, self._clock())
        self._check_dpop(token, claims, dpop_proof, http_method, http_uri)
        self._check_not_revoked(claims)
        self._check_revocation_list(claims, kid)
        # RFC 9068 §4 and RFC 6750 §3.1: valid but not enough scope is a 403.
        granted = set(claims.get("scope", "").split())
        missing = [scope for scope in required if scope not in granted]
        if missing:
            raise TokenError(f"token lacks scope {' '.join(missing)}", scope=" ".join(required))
        return claims

    def _check_header(self, header: dict) -> tuple[str, str]:
        # RFC 9068 §4: the resource server MUST check typ, so an ID token or any other
        # JWT the issuer signs cannot pass as an access token.
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES:
            raise TokenError("token type is not at+jwt")
        # RFC 8725 §3.1: only the algorithms we allow, never "none" or an HMAC.
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise TokenError("token algorithm is not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("token has no key id")
        # RFC 7515 §4.1.11: we understand no extension, so any "crit" header must fail;
        # "b64" (RFC 7797) changes what is signed, and our issuer never sets it.
        if "crit" in header or "b64" in header:
            raise TokenError("token uses an unsupported JWS extension")
        return alg, kid

    def _key_for(self, kid: str, alg: str) -> jwk.JWK:
        candidates = self._keys.keys_for(kid)
        if not candidates:
            if not self._keys.loaded:
                raise TokenError("signing keys unavailable")
            raise TokenError("token signed with an unknown key")
        fitting = [key for key in candidates if key_fits(key, alg)]
        if len(fitting) != 1:
            # An RSA or EC key must never verify a token whose header names another
            # algorithm (RFC 8725 §2.1, algorithm confusion); two fitting keys is ambiguous.
            raise TokenError("token key does not match its algorithm")
        return fitting[0]

    def _check_claims(self, claims: dict, now: float) -> None:
        # RFC 9068 §4: iss MUST exactly match; no normalisation (trailing slash included).
        if claims.get("iss") != self.issuer:
            raise TokenError("token issuer mismatch")
        # RFC 9068 §4 and RFC 8707: aud MUST name this resource.
        aud = claims.get("aud")
        if isinstance(aud, list):
            audience_ok = any(isinstance(a, str) and a == self.resource for a in aud)
        else:
            audience_ok = isinstance(aud, str) and aud == self.resource
        if not audience_ok:
            raise TokenError("token audience is not this resource")
        # RFC 9068 §2.2: exp and iat are REQUIRED.
        # Arithmetic stays on our side: a huge integer claim must not overflow a float.
        if not now - self.leeway < _numeric_date(claims, "exp"):
            raise TokenError("token expired")
        if "nbf" in claims and now + self.leeway < _numeric_date(claims, "nbf"):
            raise TokenError("token not yet valid")
        if _numeric_date(claims, "iat") > now + self.leeway:
            raise TokenError("token issued in the future")
        # RFC 9068 §2.2: sub, client_id and jti are REQUIRED.
        for name in ("sub", "client_id", "jti"):
            if not isinstance(claims.get(name), str) or not claims[name]:
                raise TokenError(f"token has no {name} claim")
        if not isinstance(claims.get("scope", ""), str):
            raise TokenError("token scope is not a string")

    def _check_not_revoked(self, claims: dict) -> None:
        """Extension point: the revocation list goes in ``revocation_check``."""
        if self._revocation_check is None:
            return
        try:
            revoked = self._revocation_check(dict(claims))
        except Exception:
            # Fail closed: a revocation list we cannot read cannot clear the token.
            log.exception("revocation check failed for jti %s", claims.get("jti"))
            raise TokenError("revocation status unavailable") from None
        if revoked:
            raise TokenError("token revoked")

    def _check_dpop(self, token, claims, proof, http_method, http_uri) -> None:
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        if jkt is None:
            if self.require_dpop:
                raise InvalidDPoPProof("this resource only accepts DPoP-bound tokens")
            return
        if not isinstance(jkt, str) or not http_method or not http_uri:
            raise InvalidDPoPProof("DPoP-bound token needs its proof and the request")
        check_proof(
            proof,
            access_token=token,
            jkt=jkt,
            htm=http_method,
            htu=http_uri,
            now=self._clock(),
            window=self.dpop_window,
            replay=self._dpop_replay,
        )

    def _check_revocation_list(self, claims: dict, kid: str) -> None:
        if self._revocation_list is None:
            return
        try:
            revoked = self._revocation_list.is_revoked(claims, kid)
        except Exception:
            # Fail closed: no current, verified list means no token passes.
            raise TokenError("revocation status unavailable") from None
        if revoked:
            raise TokenError("token revoked")


def _allowed_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    if isinstance(algorithms, str):
        algorithms = (algorithms,)
    chosen = tuple(dict.fromkeys(algorithms))
    # RFC 8725 §3.1-3.2: "none" and HMAC ("HS*") with a public key are forgeable; only
    # asymmetric algorithms whose key type we check are ever allowed.
    unsupported = [alg for alg in chosen if alg not in SUPPORTED_ALGORITHMS]
    if unsupported or not chosen:
        raise ValueError(
            f"algorithms must be a non-empty subset of {SUPPORTED_ALGORITHMS}; "
            f"refused: {unsupported}"
        )
    return chosen


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


def _b64url(part: str) -> bytes:
    if len(part) % 4 == 1:
        raise ValueError("impossible base64url length")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _parse_header(token: object) -> dict:
    """RFC 7515 §7.1: three base64url parts; the first is a JSON object."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise TokenError("token is not a compact JWS")
    if not _COMPACT_JWS.fullmatch(token):
        raise TokenError("token is not a compact JWS")
    try:
        return loads_json_object(_b64url(token.split(".", 1)[0]))
    except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        raise TokenError("token header is not a JSON object") from None


_crypto_keys: dict[int, tuple[jwk.JWK, object]] = {}
_crypto_keys_lock = threading.Lock()


def _crypto_key(key: jwk.JWK):
    """The ``cryptography`` public key behind a JWK, converted once per JWK object."""
    with _crypto_keys_lock:
        entry = _crypto_keys.get(id(key))
        if entry is not None and entry[0] is key:
            return entry[1]
    public = key.get_op_key("verify")
    with _crypto_keys_lock:
        if len(_crypto_keys) > 256:
            _crypto_keys.clear()
        _crypto_keys[id(key)] = (key, public)
    return public


def _verify_signature(token: str, key: jwk.JWK, alg: str) -> dict:
    """RFC 7515 §5.2: verify the JWS signature over ``header.payload`` with ``key``.

    Straight to ``cryptography`` with a cached key object: the algorithm and the key type
    were already matched (``key_fits``), so nothing here depends on the token's claims.
    """
    header_b64, payload_b64, signature_b64 = token.split(".")
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    try:
        signature = _b64url(signature_b64)
        public = _crypto_key(key)
        if alg == "ES256":
            # RFC 7518 §3.4: r || s, 32 bytes each.
            if len(signature) != 64:
                raise InvalidSignature
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            public.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        elif alg == "RS256":
            public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "EdDSA":
            public.verify(signature, signing_input)
        else:
            raise InvalidSignature
    except Exception:  # InvalidSignature, bad base64, a key of the wrong type: not verified
        raise TokenError("token signature invalid") from None
    try:
        return loads_json_object(_b64url(payload_b64))
    except (ValueError, binascii.Error):
        raise TokenError("token claims are not a JSON object") from None


def _numeric_date(claims: dict, name: str) -> float:
    """RFC 7519 §2 NumericDate: a JSON number (not a boolean), finite."""
    value = claims.get(name)
    if value is None:
        raise TokenError(f"token has no {name} claim")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError(f"token {name} claim is not a NumericDate")
    if isinstance(value, float) and not math.isfinite(value):  # 1e400 parses as inf
        raise TokenError(f"token {name} claim is not a NumericDate")
    return value
