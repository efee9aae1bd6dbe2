"""The clients app: connects its signal receivers at start."""

from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "OAuth clients"

    def ready(self) -> None:
        from clients import signals  # noqa: F401 - connects the receivers
