"""The project's URLs plus the registration endpoints (until they are wired in
authserver/urls.py)."""

from django.urls import include, path

from authserver.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("", include("clients.urls")), *project_urlpatterns]
