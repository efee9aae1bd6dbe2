"""The authorization endpoint (RFC 6749 §4.1, OAuth 2.1) on django-oauth-toolkit's hooks."""
