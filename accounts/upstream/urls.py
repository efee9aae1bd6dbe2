"""django-allauth's routes under /accounts/: /accounts/oidc/<id>/login/, /accounts/github/login/.

Our own /accounts/login/ and /accounts/logout/ are matched first (authserver/urls.py includes
accounts.urls before this); with SOCIALACCOUNT_ONLY allauth adds no password or sign-up views.
Plus OpenID Connect Back-Channel Logout: /accounts/oidc/<id>/backchannel-logout.
"""

from django.http import Http404
from django.urls import include, path

from accounts.upstream import backchannel


def _not_offered(request):
    raise Http404


urlpatterns = [
    path(
        "oidc/<str:provider_id>/backchannel-logout",
        backchannel.backchannel_logout,
        name="upstream-backchannel-logout",
    ),
    # allauth's "connections" page (connect or disconnect more logins): not offered here.
    path("3rdparty/", _not_offered),
    path("", include("allauth.urls")),
]
