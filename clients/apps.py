"""The clients app: connects its signal receivers at start."""

from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "OAuth clients"

    def ready(self) -> None:
        from authserver.authorization import unknown_client
        from clients import cimd_fetch, signals  # noqa: F401 - connects the receivers

        # Why a metadata document's client_id was refused, on the authorization error page.
        unknown_client.register_explainer(cimd_fetch.explain)
