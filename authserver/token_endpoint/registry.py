"""What features plug into the core's token endpoints, filled from their ``AppConfig.ready()``.

The core (request parsing, client authentication, grants, the writer) never imports a
feature; a feature registers here and the core only looks it up (the shape of authlib's
``register_grant`` / ``register_client_auth_method``). docs/ARCHITECTURE.md lists who
registers what:

- client authentication methods (RFC 6749 §2.3; RFC 7591 §2 ``token_endpoint_auth_method``):
  the core's secret and ``none`` methods, ``private_key_jwt`` by ``enterprise``;
- grants (RFC 6749 §4), by ``grant_type``: the core's, jwt-bearer (RFC 7523) by
  ``enterprise``;
- token-exchange strategies (RFC 8693): an exchange a strategy claims is answered by it
  (vending an upstream token, by ``connections``), any other by the core's exchange grant;
- RFC 8414 metadata members (CIBA's backchannel endpoint by ``approvals``, the ID-JAG grant
  profile by ``enterprise``), added to the document authserver.protocol.metadata builds;
- token claims contributors: claims a feature adds to every access token (RFC 9068) and to
  introspection's answer (RFC 7662), e.g. ``authorization_details`` by ``tool_grants``; the
  contract is :class:`ClaimsContributor`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from authserver.token_endpoint import grant_types


class ClientAuthMethod(Protocol):
    name: str  # RFC 7591 §2 token_endpoint_auth_method
    single_use: bool  # a credential accepted once (RFC 7523 §3 item 7: an assertion's jti)
    uses_secret: bool  # a client registered with this method has a client_secret

    def presented(self, req: Any) -> Any | None:
        """The credential this request offers with this method (``.client_id``), or None."""

    def verify(self, client: Any | None, presented: Any) -> bool:
        """Whether ``presented`` authenticates ``client`` (None: no such client)."""


class Answer(Protocol):
    """What a token-exchange strategy grants: rendered only after the core checked that the
    decision was taken on current rows (hotcache), then ``commit`` records it."""

    def as_json(self) -> dict: ...

    def commit(self, *, now: datetime) -> None: ...


class ExchangeStrategy(Protocol):
    def applies(self, req: Any) -> bool:
        """Whether this token exchange is this strategy's (e.g. by its ``audience``)."""

    def answer(self, req: Any, client: Any, *, now: datetime) -> Answer:
        """Validate the exchange (reads only, network allowed, no lock held) and say what
        it grants; raise an ``errors.OAuthError`` to refuse."""


class ClaimsContributor(Protocol):
    """Adds claims to a token: the same ones to the signed JWT (RFC 9068 §2.2, built by
    authserver.token_endpoint.access_token) and to introspection's answer for it (RFC 7662
    §2.2), so a resource server reads the same either way.

    It receives the token's facts (``access_token.TokenFacts``: ``sub``, ``aud``,
    ``client_id``, ``scope``, and the RFC 9396 ``authorization_details`` stored with it, or
    None), reads nothing else and writes nothing. It returns the claims to add, JSON values
    ({} for none). It may only add: a core claim (``access_token.CORE_CLAIMS``: iss, sub,
    aud, exp, iat, nbf, jti, client_id, scope, auth_time, act, cnf and introspection's
    active, token_type, username), present or not, or a claim another contributor added,
    refuses the token: nothing is signed or written, introspection answers no claims
    (fail closed, a bare ``server_error``)."""

    def __call__(self, token: Any) -> dict: ...


CLIENT_AUTH_METHODS: dict[str, ClientAuthMethod] = {}
GRANTS: dict[str, type] = {}
EXCHANGE_STRATEGIES: dict[str, ExchangeStrategy] = {}
# RFC 8414 §2 members features add: name -> function returning them, called each time the
# document is built (so a member can depend on rows, e.g. an enabled IdP). The core refuses a
# member it decides itself (protocol.metadata.add_contributions); list members several
# features add are merged.
METADATA: dict[str, Callable[[], dict]] = {}
CLAIMS_CONTRIBUTORS: dict[str, ClaimsContributor] = {}


def _add(table: dict, name: str, value, what: str) -> None:
    if name in table and table[name] is not value:
        raise ImproperlyConfigured(f"{what} {name!r} registered twice")
    table[name] = value


def register_client_auth_method(method: ClientAuthMethod) -> None:
    _add(CLIENT_AUTH_METHODS, method.name, method, "client auth method")


def register_grant(cls: type) -> type:
    # One list of grant types (grant_types.py): a grant served must be advertised there.
    if cls.grant_type not in grant_types.SUPPORTED:
        raise ValueError(f"{cls.grant_type!r} is not in grant_types.GRANT_TYPES")
    # A feature cannot take over a grant type another already serves (the core's included).
    _add(GRANTS, cls.grant_type, cls, "grant")
    return cls


def register_exchange_strategy(name: str, strategy: ExchangeStrategy) -> None:
    _add(EXCHANGE_STRATEGIES, name, strategy, "token-exchange strategy")


def register_metadata(name: str, members: Callable[[], dict]) -> None:
    _add(METADATA, name, members, "metadata contribution")


def register_claims_contributor(name: str, contributor: ClaimsContributor) -> None:
    _add(CLAIMS_CONTRIBUTORS, name, contributor, "claims contributor")


def exchange_strategy(req: Any) -> ExchangeStrategy | None:
    """The strategy a token exchange belongs to, if a feature claims it."""
    for strategy in EXCHANGE_STRATEGIES.values():
        if strategy.applies(req):
            return strategy
    return None
