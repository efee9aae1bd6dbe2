"""The connections app: connects its signal receivers at start."""

from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Connections (upstream APIs)"

    def ready(self) -> None:
        from connections import signals  # noqa: F401 - connects the receivers
