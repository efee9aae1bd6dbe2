"""The OAuth client, swapped in for django-oauth-toolkit's Application.

DOT's abstract model already carries ``client_id``, the hashed ``client_secret``,
``redirect_uris``, ``client_type``, ``name`` (our RFC 7591 ``client_name``),
``skip_authorization`` (trusted first-party clients), ``registration_source`` (admin,
dynamic registration or metadata document) and ``cimd_expires_at``. We add the rest of the
RFC 7591 §2 client metadata and the state an operator needs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AbstractApplication, ClientSecretField

from authserver import client_secrets as secrets
from authserver.token_endpoint import grant_types

# Never redirect to these, whatever is registered (RFC 8252 §7.1 private-use schemes are
# app-specific names such as ``cursor`` or ``com.example.app``; these are not).
FORBIDDEN_REDIRECT_SCHEMES = frozenset(
    {"javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "view-source"}
)

# RFC 7591 §2 grant type names, mapped to DOT's internal identifiers (defined once, in
# authserver/token_endpoint/grant_types.py).
GRANT_TYPE_TO_DOT = grant_types.TO_DOT


class Client(AbstractApplication):
    class AuthMethod(models.TextChoices):
        NONE = "none", "none (public client)"
        CLIENT_SECRET_BASIC = "client_secret_basic", "client_secret_basic"
        CLIENT_SECRET_POST = "client_secret_post", "client_secret_post"
        # RFC 7523 §2.2, OpenID Connect Core §9: a JWT signed with the client's own key.
        PRIVATE_KEY_JWT = "private_key_jwt", "private_key_jwt"

    class ApplicationType(models.TextChoices):
        NATIVE = "native", "native"
        WEB = "web", "web"

    # DOT's field, without its index (and LIKE twin): a client is found by its id, never by
    # its secret, which is a keyed hash here (save below); the index only cost each INSERT.
    client_secret = ClientSecretField(
        max_length=255,
        blank=True,
        default=generate_client_secret,
        help_text="Client secret for authentication",
        verbose_name="client secret",
    )

    # RFC 7591 §2 metadata. ``name`` (from DOT) is the client_name.
    client_uri = models.URLField(max_length=512, blank=True)
    logo_uri = models.URLField(max_length=512, blank=True)
    tos_uri = models.URLField(max_length=512, blank=True)
    policy_uri = models.URLField(max_length=512, blank=True)
    contacts = models.JSONField(default=list, blank=True)
    software_id = models.CharField(max_length=255, blank=True)
    software_version = models.CharField(max_length=255, blank=True)
    application_type = models.CharField(
        max_length=16, choices=ApplicationType.choices, default=ApplicationType.WEB
    )
    token_endpoint_auth_method = models.CharField(
        max_length=32, choices=AuthMethod.choices, default=AuthMethod.CLIENT_SECRET_BASIC
    )
    # RFC 7591 §2 ``jwks`` / ``jwks_uri``: the keys a private_key_jwt client signs with.
    jwks = models.JSONField(null=True, blank=True, help_text="Public JWK Set (private_key_jwt).")
    jwks_uri = models.URLField(
        max_length=512, blank=True, help_text="Where the client publishes its public keys."
    )
    grant_types = models.JSONField(default=list, blank=True)
    response_types = models.JSONField(default=list, blank=True)
    scope = models.TextField(
        blank=True, help_text="Scope the client registered with (recorded; not a ceiling)."
    )

    # How a self-registered client came to exist (clients/registration.py, clients/policy.py).
    registration_access_token = models.CharField(
        max_length=128, blank=True, editable=False, help_text="RFC 7592 token, hashed."
    )
    # Indexed by clients_index_fingerprint (Meta): a second index, and its LIKE twin, only
    # cost every registration's INSERT.
    metadata_fingerprint = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the normalised registered metadata: identical registrations "
        "share it.",
    )
    registered_from = models.GenericIPAddressField(null=True, blank=True)
    initial_access_token = models.ForeignKey(
        "clients.InitialAccessToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clients",
    )

    # Operator state.
    verified = models.BooleanField(
        default=False, help_text="Reviewed by an admin; unverified clients carry a warning."
    )
    is_active = models.BooleanField(default=True, help_text="Disabled clients get no tokens.")
    last_used_at = models.DateTimeField(null=True, blank=True)
    token_rate_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Token requests per minute for this client (429 beyond). Empty: the "
        "server's CLIENT_TOKEN_RATE_LIMIT; 0: no limit.",
    )

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        indexes = [
            models.Index(fields=["registration_source", "created"]),
            # Identical registrations (the admin list's copies and its filter).
            models.Index(fields=["metadata_fingerprint"], name="clients_index_fingerprint"),
            # Registration's duplicate collapse (clients.policy.collapse_duplicates): only
            # never-used, unverified DCR rows older than the grace are candidates, so a
            # registration visits those alone, not every client sharing a popular
            # fingerprint and address (one hosted MCP client's users all do).
            models.Index(
                fields=["metadata_fingerprint", "registered_from", "created"],
                name="clients_index_dup_candidates",
                condition=models.Q(
                    registration_source="dcr", verified=False, last_used_at__isnull=True
                ),
            ),
        ]

    def natural_key(self):
        return (self.client_id,)

    def save(self, *args, **kwargs) -> None:
        # Secrets are never stored in plaintext: DOT's default generator (or an admin form)
        # may hand us one; hash it with ours. Public clients keep no secret at all.
        self.hash_client_secret = False
        if self.token_endpoint_auth_method == self.AuthMethod.PRIVATE_KEY_JWT:
            # A key-holding client is confidential, even when DOT's CIMD upsert (which only
            # knows public documents) sets it public after clients/cimd.py recorded it.
            self.client_type = self.CLIENT_CONFIDENTIAL
        if self.client_type == self.CLIENT_PUBLIC:
            self.client_secret = ""
        elif self.client_secret and not secrets.is_hashed(self.client_secret):
            self.client_secret = secrets.hash_secret(self.client_secret)
        super().save(*args, **kwargs)

    def set_new_secret(self) -> str:
        """Give a confidential client a fresh secret; returns it (the only time it is seen)."""
        plaintext = secrets.generate_secret()
        self.client_secret = secrets.hash_secret(plaintext)
        return plaintext

    @property
    def client_name(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.client_type == self.CLIENT_PUBLIC

    def allows_grant_type(self, *grant_types: str) -> bool:
        """DOT asks with its own identifiers; we keep the RFC 7591 list in ``grant_types``."""
        if not self.is_active:
            return False
        allowed = {GRANT_TYPE_TO_DOT[g] for g in self.grant_types if g in GRANT_TYPE_TO_DOT}
        allowed.add(self.authorization_grant_type)
        return any(g in allowed for g in grant_types)

    def is_usable(self, request) -> bool:
        return self.is_active

    @property
    def get_absolute_url(self):
        """None: DOT's version reverses management views we do not mount, so the admin's
        "View on site" answered 500 (NoReverseMatch). Raising AttributeError makes
        ``hasattr`` false: the admin hides the link and /admin/r/ answers 404."""
        raise AttributeError("a client has no page of its own")

    def get_allowed_schemes(self) -> list[str]:
        """DOT redirects only to these schemes: http(s) plus this client's own private-use
        schemes (RFC 8252 §7.1, e.g. ``cursor``), never javascript:, data: and the like."""
        schemes = ["http", "https"]
        for uri in self.redirect_uris.split():
            scheme = urlsplit(uri).scheme.lower() if ":" in uri else ""
            if scheme and scheme not in schemes and scheme not in FORBIDDEN_REDIRECT_SCHEMES:
                schemes.append(scheme)
        return schemes


class InitialAccessToken(models.Model):
    """RFC 7591 §3: a bearer token an admin hands out to allow registration.

    Issued with ``manage.py issue_initial_access_token`` (the plaintext is printed once);
    only its HMAC is stored (authserver.client_secrets).
    """

    label = models.CharField(max_length=200, help_text="Who or what it was issued for.")
    token_hash = models.CharField(max_length=128, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(
        null=True, blank=True, help_text="Registrations it allows; empty for unlimited."
    )
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.label

    def usable_at(self, now) -> bool:
        return (
            self.revoked_at is None
            and now < self.expires_at
            and (self.max_uses is None or self.uses < self.max_uses)
        )
