"""Registration endpoints, slash-less like the other OAuth endpoints (MCP clients fall back
to ``/register``). Include with ``path("", include("clients.urls"))``."""

from django.urls import path

from clients import views

app_name = "clients"

urlpatterns = [
    path("register", views.RegistrationView.as_view(), name="register"),
    path(
        "register/<str:client_id>",
        views.RegistrationManagementView.as_view(),
        name="registration-management",
    ),
]
