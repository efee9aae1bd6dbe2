"""Registration errors beyond RFC 7591 §3.2.2, in the one hierarchy of authserver.errors."""

from __future__ import annotations

from authserver.errors import OAuthError, TemporarilyUnavailable


class InvalidToken(OAuthError):
    """RFC 6750 §3.1: a missing, unknown or expired bearer token (the registration access
    token of RFC 7592 §2, or the initial access token of RFC 7591 §3)."""

    error, status = "invalid_token", 401

    def challenge(self) -> str:
        return f'Bearer error="{self.error}"'


class RegistrationRateLimited(TemporarilyUnavailable):
    """Too many registrations from one address (RFC 6585 §4: 429 with Retry-After)."""

    status = 429

    def __init__(self, description: str = "", *, retry_after: int, detail: str = "") -> None:
        super().__init__(description, detail=detail)
        self.retry_after = retry_after


class RegistrationUnavailable(TemporarilyUnavailable):
    """The server cannot take a registration now: the client cap is reached, or the rate
    limiter's store (Redis) is down. A server-side condition, so a 503, not a 400."""

    retry_after = 3600
