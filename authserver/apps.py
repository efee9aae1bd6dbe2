"""The authserver app: per-process caches cleared on writes, receivers connected and the core's
own features (tool grants) registered at start."""

from django.apps import AppConfig


class AuthserverConfig(AppConfig):
    name = "authserver"
    verbose_name = "Authorization server"

    def ready(self) -> None:
        from pathlib import Path

        from django.conf import settings
        from django.db.models.signals import post_delete, post_save

        from authserver.models import Resource, Scope, SigningKey
        from authserver.ops import localcache
        from authserver.resources import grouppolicy_signals  # noqa: F401 - connects receivers
        from authserver.revocation import service  # noqa: F401 - receives revocation_requested
        from authserver.token_endpoint import registry
        from authserver.tool_grants import claims as tool_claims

        # RFC 9396: tool grants add authorization_details to tokens and introspection.
        registry.register_claims_contributor("tool_grants", tool_claims.contribute)

        def forget(sender, **kwargs) -> None:
            # Writes in this process take effect here at once; other processes within
            # the few seconds of authserver.ops.localcache (public documents only).
            localcache.clear()

        for model in (Resource, Scope, SigningKey):
            post_save.connect(
                forget, sender=model, weak=False, dispatch_uid=f"localcache-{model.__name__}"
            )
            post_delete.connect(
                forget, sender=model, weak=False, dispatch_uid=f"localcache-d-{model.__name__}"
            )

        # WhiteNoise expects STATIC_ROOT to exist even when it serves from the finders.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        # The embedded broker keeps its queue in files; both sides need the folders.
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            for key in ("data_folder_in", "processed_folder", "control_folder"):
                Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key]).mkdir(
                    parents=True, exist_ok=True
                )
