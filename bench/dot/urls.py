from django.urls import path
from oauth2_provider.views import TokenView

urlpatterns = [path("token", TokenView.as_view())]
