"""Django app configuration for enterprise-managed authorization."""

from django.apps import AppConfig


class EnterpriseConfig(AppConfig):
    name = "enterprise"
    verbose_name = "Enterprise identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from enterprise import discovery

        discovery.register()
