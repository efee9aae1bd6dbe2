"""The connections app: plugs vending into the core and connects its signal receivers."""

from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Connections (upstream APIs)"

    def ready(self) -> None:
        from authserver.token_endpoint import registry
        from connections import (
            signals,  # noqa: F401 - connects the receivers
            vending,
        )

        # RFC 8693 token exchange naming an upstream `audience`: the user's upstream token.
        registry.register_exchange_strategy("vending", vending.VendingStrategy())
