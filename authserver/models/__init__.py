"""authserver's models, one module per concern; Django and DOT find them all here."""

from authserver.models.audit import AuditChainHead, AuditEvent, AuditSink
from authserver.models.cache import CacheGeneration
from authserver.models.dpop import DPoPProofJti
from authserver.models.keys import KeyRotationLock, SigningKey
from authserver.models.resources import (
    Resource,
    ResourceAccess,
    Scope,
    TokenExchangePolicy,
    _validate_scope_token,
)
from authserver.models.revocation import RevocationCutoff, RevocationListSnapshot
from authserver.models.tokens import AccessToken, Grant, IDToken, RefreshToken
from authserver.tool_grants.models import ToolPolicy

__all__ = [
    "AccessToken",
    "AuditChainHead",
    "AuditEvent",
    "AuditSink",
    "CacheGeneration",
    "DPoPProofJti",
    "Grant",
    "IDToken",
    "KeyRotationLock",
    "RefreshToken",
    "Resource",
    "ResourceAccess",
    "RevocationCutoff",
    "RevocationListSnapshot",
    "Scope",
    "SigningKey",
    "TokenExchangePolicy",
    "ToolPolicy",
    "_validate_scope_token",
]
