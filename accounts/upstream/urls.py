"""django-allauth's routes under /accounts/: /accounts/oidc/<id>/login/, /accounts/github/login/.

Our own /accounts/login/ and /accounts/logout/ are matched first (authserver/urls.py includes
accounts.urls before this); with SOCIALACCOUNT_ONLY allauth adds no password or sign-up views.
Plus OpenID Connect Back-Channel Logout: /accounts/oidc/<id>/backchannel-logout.
"""

from django.urls import include, path

from accounts.upstream import backchannel

urlpatterns = [
    path(
        "oidc/<str:provider_id>/backchannel-logout",
        backchannel.backchannel_logout,
        name="upstream-backchannel-logout",
    ),
    path("", include("allauth.urls")),
]
