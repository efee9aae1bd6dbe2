"""AuthZEN 1.0 endpoints at their default paths (§11.1, Table: API Endpoint Overview)."""

from django.urls import path

from authzen import views

urlpatterns = [
    path(".well-known/authzen-configuration", views.configuration, name="authzen-configuration"),
    path("access/v1/evaluation", views.evaluation, name="authzen-evaluation"),
    path("access/v1/evaluations", views.evaluations, name="authzen-evaluations"),
    path("access/v1/search/subject", views.search_subject, name="authzen-search-subject"),
    path("access/v1/search/resource", views.search_resource, name="authzen-search-resource"),
    path("access/v1/search/action", views.search_action, name="authzen-search-action"),
]
