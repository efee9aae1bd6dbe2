"""django-allauth's routes under /accounts/: /accounts/oidc/<id>/login/, /accounts/github/login/.

Our own /accounts/login/ and /accounts/logout/ are matched first (authserver/urls.py includes
accounts.urls before this); with SOCIALACCOUNT_ONLY allauth adds no password or sign-up views.
"""

from django.urls import include, path

urlpatterns = [path("", include("allauth.urls"))]
