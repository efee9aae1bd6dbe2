"""/approvals/...: the person's pages; /backchannel-authentication: CIBA Core §7."""

from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("backchannel-authentication", views.backchannel, name="backchannel"),
    path("approvals/", views.pending, name="pending"),
    path("approvals/rules", views.rules, name="rules"),
    path("approvals/passkeys", views.passkey_list, name="passkeys"),
    path("approvals/passkeys/options", views.registration_options, name="passkey-options"),
    path("approvals/passkeys/register", views.register, name="passkey-register"),
    path("approvals/<uuid:approval_id>", views.detail, name="detail"),
    path("approvals/<uuid:approval_id>/options", views.assertion_options, name="options"),
    path("approvals/<uuid:approval_id>/approve", views.approve, name="approve"),
    path(
        "approvals/<uuid:approval_id>/approve-password",
        views.approve_with_password,
        name="approve-password",
    ),
    path("approvals/<uuid:approval_id>/deny", views.deny, name="deny"),
]
