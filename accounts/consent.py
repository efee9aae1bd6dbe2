"""Moved to authserver.authorization.consent (the authorization endpoint's own rule); this
name stays for existing imports."""

from authserver.authorization.consent import *  # noqa: F403
