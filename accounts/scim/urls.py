"""SCIM 2.0 routes (RFC 7644): Users, Groups and the discovery documents."""

from django.urls import path

from accounts.scim import views

app_name = "scim"

urlpatterns = [
    path("", views.RootView.as_view(), name="root"),
    path("Users", views.UsersView.as_view(), name="users"),
    path("Users/<str:pk>", views.UserView.as_view(), name="user"),
    path("Groups", views.GroupsView.as_view(), name="groups"),
    path("Groups/<str:pk>", views.GroupView.as_view(), name="group"),
    path("ServiceProviderConfig", views.ServiceProviderConfigView.as_view(), name="config"),
]
