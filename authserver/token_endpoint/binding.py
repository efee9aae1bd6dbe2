"""The one immutable value a grant hands to issuance: everything a token will say and bind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID


class Claim(Protocol):
    """A write issuance makes first, with the token rows or not at all. A gating claim takes
    a single-use credential (a code, a refresh token): it locks and re-checks the row, and
    when the credential is gone nothing is issued (``refused`` says why, to the client).
    ``apply`` is the ORM form (inside a transaction), ``sql`` the ``UPDATE`` that
    authserver.token_endpoint.writer folds into its single statement: its parameters are the
    statement's placeholders and nothing else.

    ``replay`` is what a refusal means for the token family the claim continues
    (``code_replay``, ``refresh_reuse``): both writers, the PostgreSQL statement's and the
    ORM transaction's, revoke the family under this reason (RFC 6749 §4.1.2; OAuth 2.1
    §4.3.1). "" for a claim that continues no family."""

    gate: bool
    refused: str
    replay: str

    def apply(self, *, now: datetime) -> None: ...

    def sql(self, *, now: datetime) -> tuple[str, dict]: ...


@dataclass(frozen=True)
class Binding:
    """A validated token request. Built with no writes; issuance only reads it."""

    grant_type: str
    client: object  # clients.models.Client
    resource: object  # authserver.models.Resource
    scopes: tuple[str, ...]
    user_pk: int | None = None  # the resource owner; None for client credentials
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
    previous_refresh_pk: int | None = None  # the refresh token being rotated
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
        if self.user_pk is not None:
            return str(self.user_pk)
        return self.client.client_id
