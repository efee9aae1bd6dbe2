"""Moved to authserver.protocol.resources (below the models that use it); this name stays for
existing imports."""

from authserver.protocol.resources import *  # noqa: F403
