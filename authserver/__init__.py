"""The authorization server's core: settings, URLs, the Celery app, and the protocol by concern."""

from authserver.celery import app as celery_app

__all__ = ("celery_app",)
