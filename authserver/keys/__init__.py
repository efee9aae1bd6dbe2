"""Signing keys: encrypted storage, rotation, the JWKS, JWS signing."""
