"""The accounts app: connects its signal receivers at start."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401 - connects the receivers
        from accounts.upstream import app_secret  # noqa: F401 - SocialApp.secret sealed
        from accounts.upstream import signals as upstream_signals  # noqa: F401
