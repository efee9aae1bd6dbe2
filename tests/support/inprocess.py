"""The verifier's fetch hook answered by this Django app in-process, and the issuer it sees."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.test import Client as HttpClient

ISSUER = "http://127.0.0.1:8000"


def django_fetch(url, headers):
    """The verifier's fetch hook, answered by this Django app in-process."""
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    response = HttpClient().get(urlsplit(url).path, **extra)
    return response.status_code, dict(response.items()), response.content
