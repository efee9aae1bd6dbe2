"""Moved to authserver.protocol.metadata (below the models that use it); this name stays for
existing imports."""

from authserver.protocol.metadata import *  # noqa: F403
