"""Ready settings for common providers: an admin adds only the client id and secret."""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    # GitHub Apps with expiring user tokens issue 8-hour access tokens and rotating 6-month
    # refresh tokens; classic OAuth apps issue non-expiring tokens and no refresh token.
    # GitHub has no RFC 7009 endpoint (revocation is a REST call with basic auth).
    "github": {
        "name": "GitHub",
        "authorization_endpoint": "https://github.com/login/oauth/authorize",
        "token_endpoint": "https://github.com/login/oauth/access_token",
        "revocation_endpoint": "",
        "userinfo_endpoint": "https://api.github.com/user",
        "token_endpoint_auth_method": "client_secret_post",
        "scopes": "repo read:user",
        "use_pkce": True,
        "rotates_refresh_tokens": True,
        "default_access_lifetime": 8 * 3600,
    },
    # Google: refresh tokens only with access_type=offline (and prompt=consent to get a
    # new one when reconnecting); RFC 7009 revocation at oauth2.googleapis.com/revoke.
    "google": {
        "name": "Google",
        "discovery_url": "https://accounts.google.com/.well-known/openid-configuration",
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_endpoint": "https://oauth2.googleapis.com/token",
        "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
        "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
        "token_endpoint_auth_method": "client_secret_post",
        "scopes": "openid email https://www.googleapis.com/auth/drive.readonly",
        "extra_authorize_params": {"access_type": "offline", "prompt": "consent"},
        "use_pkce": True,
        "rotates_refresh_tokens": False,
        "default_access_lifetime": 3600,
    },
}
