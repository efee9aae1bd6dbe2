"""Routes for connecting and disconnecting upstream accounts."""

from django.urls import path

from connections import views

app_name = "connections"

urlpatterns = [
    path("accounts/connections/", views.connections, name="list"),
    path("accounts/connections/callback", views.callback, name="callback"),
    path("accounts/connections/<slug:slug>/connect", views.connect, name="connect"),
    path("accounts/connections/<int:pk>/disconnect", views.disconnect, name="disconnect"),
]
