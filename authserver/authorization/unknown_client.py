"""Why a ``client_id`` was not accepted, for the person on the authorization error page.

RFC 6749 §4.1.2.1: an invalid ``client_id`` is shown to the user, never redirected. oauthlib
says only "Invalid client_id parameter value"; the part of the server that resolves client
identifiers it does not store (``clients``: Client ID Metadata Documents) knows why. The
core imports no feature, so a feature registers an explainer here from its
``AppConfig.ready()``: it takes the ``client_id`` and answers one short sentence, safe to
show (a host, a stage, a status; never a document, a URL's query or a proxy's address), or
None when it has nothing to say.
"""

from __future__ import annotations

from collections.abc import Callable

Explainer = Callable[[str], "str | None"]
EXPLAINERS: list[Explainer] = []


def register_explainer(explainer: Explainer) -> None:
    if explainer not in EXPLAINERS:
        EXPLAINERS.append(explainer)


def explain(client_id: str) -> str | None:
    """The first explainer's answer for ``client_id`` (bounded), or None."""
    if not client_id or len(client_id) > 255:
        return None
    for explainer in EXPLAINERS:
        reason = explainer(client_id)
        if reason:
            return reason[:400]
    return None
