"""Django app configuration for enterprise-managed authorization: what it plugs into the core."""

from django.apps import AppConfig


class EnterpriseConfig(AppConfig):
    name = "enterprise"
    verbose_name = "Enterprise identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import principals
        from authserver.ops import cleanup
        from authserver.token_endpoint import registry
        from enterprise import client_assertion, discovery, idjag, jwt_bearer, replay

        # RFC 7523 §2.2 private_key_jwt and workload identity: one more client auth method.
        registry.register_client_auth_method(client_assertion.AssertionMethod())
        # RFC 7523 §2.1 jwt-bearer with an ID-JAG: one more grant.
        registry.register_grant(jwt_bearer.JwtBearer)
        # Spent assertion jtis expire like the core's rows (ops.cleanup).
        cleanup.register_purge("assertion_jtis", replay.purge_expired)
        # The ID-JAG grant profile in the metadata while a trusted IdP is enabled.
        discovery.register()
        # A user an enterprise IdP provisioned is never linked by an upstream email.
        principals.register_provisioner("enterprise", idjag.provisioned)
