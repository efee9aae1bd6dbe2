"""What features hold for a user that must end when the user is cut off, registered from
their ``AppConfig.ready()`` so the core (and ``accounts``, which decides *when* a cut-off
happens: docs/IDENTITY.md) never imports a feature.

``connections`` registers the user's upstream connections; the core's own cut-offs (tokens,
families, grants, the signed revocation list's subject cut-off) are
``authserver.revocation.service.revoke_user``, which ``accounts.principals.cut_off`` calls
first. Listeners run inside the caller's transaction: they write rows and queue their network
calls on commit, never call out while it is open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured

UserCutOff = Callable[..., Any]  # (user, *, now: datetime, actor: str) -> Any
USER_CUTOFFS: dict[str, UserCutOff] = {}


def register_user_cutoff(name: str, cut_off: UserCutOff) -> None:
    if name in USER_CUTOFFS:
        raise ImproperlyConfigured(f"user cut-off {name!r} registered twice")
    USER_CUTOFFS[name] = cut_off


def cut_off_user(user, *, now: datetime, actor: str) -> dict[str, Any]:
    """Run every registered cut-off for ``user``; what each reports, by name."""
    return {name: cut_off(user, now=now, actor=actor) for name, cut_off in USER_CUTOFFS.items()}
