from django.apps import AppConfig


class AuthzenConfig(AppConfig):
    name = "authzen"
    verbose_name = "AuthZEN policy decision point"
    default_auto_field = "django.db.models.BigAutoField"
