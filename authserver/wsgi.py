"""The WSGI entry point: the fast path for public documents in front of Django."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authserver.settings")
_django = get_wsgi_application()

from authserver.ops.fastpath import FastDocumentsApp  # noqa: E402 - needs settings configured

# JWKS, discovery and the revocation list are replayed from memory before Django runs.
application = FastDocumentsApp(_django)
