"""Moved to authserver.protocol.scopes (below the models that use it); this name stays for
existing imports."""

from authserver.protocol.scopes import *  # noqa: F403
