"""Models the core uses but other apps define, found by name at run time, never imported.

The OAuth client is DOT's swapped Application (``OAUTH2_PROVIDER_APPLICATION_MODEL``,
``clients.Client``): DOT's own ``get_application_model()``. A user's remembered consent is
``accounts.Consent``, found the same way through Django's app registry. So the core's
package graph stays below the apps that define them (docs/ARCHITECTURE.md, "Layers").
"""

from __future__ import annotations

from django.apps import apps
from oauth2_provider.models import get_application_model


def client_model():
    return get_application_model()


def consent_model():
    return apps.get_model("accounts", "Consent")
