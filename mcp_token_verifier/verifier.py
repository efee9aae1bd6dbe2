"""RFC 9068 JWT access token validation for an MCP server (a resource server).

Every check fails closed with ``TokenError``; the order is the one RFC 9068 §4 implies:
shape, JOSE header, key, signature, then claims, revocation and scopes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import NoReturn
from urllib.parse import urlsplit

from mcp_token_verifier import jws
from mcp_token_verifier.dpop import InvalidDPoPProof, ReplayCache, check_proof
from mcp_token_verifier.errors import TokenError
from mcp_token_verifier.fetch import Fetch, make_urllib_fetch
from mcp_token_verifier.jwks import SUPPORTED_ALGORITHMS, KeyCache, is_http_url
from mcp_token_verifier.jws import MIN_RSA_BITS as MIN_RSA_BITS  # re-exported: moved there
from mcp_token_verifier.jws import key_fits as key_fits  # re-exported: moved there
from mcp_token_verifier.revocation import RevocationList

log = logging.getLogger(__name__)

# RFC 9068 §2.1: "at+jwt" (jws.type_matches: case-insensitive, "application/" optional).
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 -- a media type
MAX_TOKEN_CHARS = jws.MAX_JWS_CHARS
# Header parts already parsed and accepted (jws.verify): the issuer writes one header per
# signing key, so this is small; cleared when it grows past the bound.
MAX_ACCEPTED_HEADERS = jws.MAX_ACCEPTED_HEADERS
_REQUIRED_STRINGS = ("sub", "client_id", "jti")
_REQUIRED_TIMES = ("exp", "iat")  # RFC 9068 §2.2
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
        scope_implies: this server's scope hierarchy (MCP 2026-07-28, SEP-2350), e.g.
            ``{"notes:write": ["notes:read"]}``: a token with ``notes:write`` satisfies a
            call that requires ``notes:read``. Transitive; the same map the authorization
            server's admin keeps for this MCP server (``Scope.implies``).
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
        scope_implies: Mapping[str, Iterable[str]] | None = None,
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
        self.scope_implies = {k: tuple(v) for k, v in (scope_implies or {}).items()}
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
        self._accepted_headers: dict[bytes, tuple[dict, str, str | None]] = {}
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
                leeway=leeway,
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
        required = tuple(required_scopes)
        now = self._clock()
        try:
            # The one JWS path (jws.verify); RFC 9068 §4: the resource server MUST check
            # typ, so an ID token or any other JWT the issuer signs cannot pass.
            _header, claims, _alg, kid = jws.verify(
                token,
                typ=ACCESS_TOKEN_TYPE,
                algorithms=self.algorithms,
                resolve=self._keys.check_for,
                kid_required=True,
                max_chars=MAX_TOKEN_CHARS,
                accepted_headers=self._accepted_headers,
            )
        except jws.JWSError as exc:
            if exc.reason == "key":
                self._refuse_key(token)
            raise TokenError(f"token {exc}") from None
        self._check_claims(claims, now)
        if self.require_dpop or "cnf" in claims:
            self._check_dpop(token, claims, dpop_proof, http_method, http_uri)
        if self._revocation_check is not None:
            self._check_not_revoked(claims)
        if self._revocation_list is not None:
            try:
                revoked = self._revocation_list.is_revoked(claims, kid, now)
            except Exception:
                # Fail closed: no current, verified list means no token passes.
                raise TokenError("revocation status unavailable") from None
            if revoked:
                raise TokenError("token revoked")
        # RFC 9068 §4 and RFC 6750 §3.1: valid but not enough scope is a 403.
        # The challenge names the scopes that satisfy the call (RFC 6750 §3.1): the client
        # asks for them with what it holds (MCP step-up), and a broader scope subsumes them.
        if required:
            granted = self._with_implied(claims.get("scope", "").split())
            for scope in required:
                if scope not in granted:
                    required = tuple(dict.fromkeys(required))
                    missing = [scope for scope in required if scope not in granted]
                    message = f"token lacks scope {' '.join(missing)}"
                    raise TokenError(message, scope=" ".join(required))
        return claims

    def _with_implied(self, scopes: list[str]) -> set[str]:
        """The token's scopes with everything they imply here (``scope_implies``)."""
        result: set[str] = set()
        pending = list(scopes)
        while pending:
            scope = pending.pop()
            if scope not in result:
                result.add(scope)
                pending.extend(self.scope_implies.get(scope, ()))
        return result

    def _refuse_key(self, token: str) -> NoReturn:
        """Why no key verifies ``token``, whose header was accepted (so it has a kid)."""
        found = self._keys.peek(jws.parse_header(jws.split_compact(token)[0]).get("kid"))
        if not found.keys:
            if not self._keys.loaded:
                raise TokenError("signing keys unavailable")
            raise TokenError("token signed with an unknown key")
        # No key under kid fits alg, or several do (KidKeys.checks): an RSA or EC key must
        # never verify a token whose header names another algorithm (RFC 8725 §2.1,
        # algorithm confusion), and two fitting keys is ambiguous.
        raise TokenError("token key does not match its algorithm")

    def _check_claims(self, claims: dict, now: float) -> None:
        # RFC 9068 §4: iss MUST exactly match; no normalisation (trailing slash included).
        if claims.get("iss") != self.issuer:
            raise TokenError("token issuer mismatch")
        # RFC 9068 §4 and RFC 8707: aud MUST name this resource. JSON values other than
        # strings never compare equal to our resource.
        aud = claims.get("aud")
        if aud != self.resource and not (isinstance(aud, list) and self.resource in aud):
            raise TokenError("token audience is not this resource")
        # RFC 9068 §2.2: exp and iat are REQUIRED; NumericDates on our clock, our leeway.
        try:
            jws.check_times(claims, now=now, leeway=self.leeway, required=_REQUIRED_TIMES)
        except jws.JWSError as exc:
            raise TokenError(f"token {exc}") from None
        # RFC 9068 §2.2: sub, client_id and jti are REQUIRED (here: non-empty strings).
        sub, client_id, jti = claims.get("sub"), claims.get("client_id"), claims.get("jti")
        if not (
            isinstance(sub, str)
            and sub
            and isinstance(client_id, str)
            and client_id
            and isinstance(jti, str)
            and jti
        ):
            for name in _REQUIRED_STRINGS:
                value = claims.get(name)
                if not isinstance(value, str) or not value:
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
