"""Per-call approvals (CIBA + passkeys): what the feature plugs into the core."""

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from approvals import ciba, grant, services
        from authserver.ops import cleanup
        from authserver.token_endpoint import registry

        # CIBA Core §10.1: the grant at /token, and its metadata (§4).
        registry.register_grant(grant.CibaGrant)
        registry.register_metadata("approvals", ciba.metadata)
        cleanup.register_purge("approval_requests", services.purge_old_requests)
