"""Routes for sign-in, sign-out and the Connected apps page."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/apps/", views.connected_apps, name="connected-apps"),
    path("accounts/apps/<int:consent_id>/revoke", views.revoke_app, name="revoke-app"),
]
