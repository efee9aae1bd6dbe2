"""Pinned Client ID Metadata Documents: copies of known clients' documents that stand in when
the real one cannot be fetched (no internet access, an egress proxy, a host that refuses
datacenter fetches), so such a server still accepts these clients.

Two places, the operator's first:

* ``<VAR_DIR>/cimd-pinned/*.json``: the operator's own pins and edits (one document per file;
  a file whose ``client_id`` matches a shipped seed replaces it);
* ``clients/pinned_documents/*.json``: seeds shipped for Codex, Claude Code and Copilot CLI.
  They are **editable seeds**, written from the clients' public descriptions, not copies
  fetched from their hosts: check them against the real documents (docs/clients.md).

A pinned document is used only after a fetch failed, and is validated exactly like a
fetched one (clients/cimd.py): its ``client_id`` must equal the URL, and the registration
rules apply. A fetched document always wins, so a client that changes its document is
not held to an old copy.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings

logger = logging.getLogger("clients.cimd")

SEEDS = Path(__file__).resolve().parent / "pinned_documents"
MAX_AGE = 3600  # a pinned copy is re-checked against the network hourly
MAX_BYTES = 16 * 1024


def operator_dir() -> Path:
    return Path(settings.CONFIG.var_dir) / "cimd-pinned"


def _documents(folder: Path) -> dict[str, dict]:
    found: dict[str, dict] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.json")):
        try:
            if path.stat().st_size > MAX_BYTES:
                raise ValueError("too large")
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("pinned CIMD document %s ignored: %s", path.name, exc)
            continue
        if isinstance(document, dict) and isinstance(document.get("client_id"), str):
            found[document["client_id"]] = document
    return found


def pinned_documents() -> dict[str, dict]:
    """Every pinned document by ``client_id``: the operator's over the shipped seeds."""
    return {**_documents(SEEDS), **_documents(operator_dir())}


def lookup(client_id: str) -> dict | None:
    return pinned_documents().get(client_id)
