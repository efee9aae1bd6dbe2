"""The one immutable value a grant hands to issuance: everything a token will say and bind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID


class Claim(Protocol):
    """A single-use credential to take inside the issuing transaction (a code, a refresh
    token). ``apply`` locks and re-checks it and raises an OAuthError when it is gone."""

    def apply(self, *, now: datetime) -> None: ...


@dataclass(frozen=True)
class Binding:
    """A validated token request. Built with no writes; issuance only reads it."""

    grant_type: str
    client: object  # clients.models.Client
    resource: object  # authserver.models.Resource
    scopes: tuple[str, ...]
    user: object | None = None  # the resource owner; None for client credentials
    subject: str = ""  # RFC 9068 sub when it is not the user (exchange keeps the original)
    family: UUID | None = None  # the token family a code, refresh or exchange continues
    auth_time: datetime | None = None
    jkt: str = ""  # RFC 9449 §6.1: thumbprint of the DPoP key the token is bound to
    act_json: str = ""  # RFC 8693 §4.1 act claim, JSON (kept as text: the binding is frozen)
    # RFC 9396 authorization_details (authserver.tool_grants), JSON text; "" for none.
    authorization_details: str = ""
    not_after: int | None = None  # epoch seconds the token must not outlive
    claim: Claim | None = None
    issue_refresh_token: bool = False
    refresh_absolute_expires: datetime | None = None  # a rotated token keeps its family's end
    previous_refresh: object | None = None  # authserver.models.RefreshToken being rotated
    audit_kind: str = "token.issued"
    audit_detail: tuple[tuple[str, object], ...] = ()
    response_extras: tuple[tuple[str, str], ...] = ()

    @property
    def token_type(self) -> str:
        return "DPoP" if self.jkt else "Bearer"  # RFC 9449 §5

    @property
    def sub(self) -> str:
        """RFC 9068 §2.2: the user; for client credentials the client itself."""
        if self.subject:
            return self.subject
        if self.user is not None:
            return str(self.user.pk)
        return self.client.client_id
