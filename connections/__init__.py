"""Connections: a vault for users' upstream API tokens, refreshed here, vended by RFC 8693."""
