"""The Celery app. Broker and schedule come from settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authserver.settings")

app = Celery("authserver")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(loglevel=None, **kwargs) -> None:
    """The worker logs through Django's LOGGING (authserver.settings): the same redaction
    filter and format as the web process, instead of Celery's own unfiltered handlers; at
    the worker's ``--loglevel`` when one is given (``make run``'s embedded worker: WARNING)."""
    import logging
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
        # Its one "celery@host ready." line stays: operators (and tests/support/deploy.py)
        # wait for it.
        logging.getLogger("celery.apps.worker").setLevel(min(logging.INFO, int(loglevel)))
