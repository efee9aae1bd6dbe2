"""The connections app: plugs vending into the core and connects its signal receivers."""

from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Connections (upstream APIs)"

    def ready(self) -> None:
        from authserver.revocation import cutoffs
        from authserver.token_endpoint import registry
        from connections import (
            services,
            signals,  # noqa: F401 - connects the receivers
            vending,
        )

        # RFC 8693 token exchange naming an upstream `audience`: the user's upstream token.
        registry.register_exchange_strategy("vending", vending.VendingStrategy())
        # A user cut off (deactivated, reactivated, offboarded) keeps no upstream connection.
        cutoffs.register_user_cutoff("connections", services.disconnect_user)
