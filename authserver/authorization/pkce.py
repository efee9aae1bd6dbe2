"""Moved to authserver.protocol.pkce (below the models that use it); this name stays for
existing imports."""

from authserver.protocol.pkce import *  # noqa: F403
