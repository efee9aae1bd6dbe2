"""Moved to authserver.client_secrets (client authentication is the core's); this name stays
for existing imports."""

from authserver.client_secrets import *  # noqa: F403
