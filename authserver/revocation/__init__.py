"""Revocation: RFC 7009, cut-offs by user, client and resource, and the signed revocation list."""
