"""Admin registrations of the accounts app (SCIM tokens and identities, issue 21)."""

from accounts.scim import admin as scim_admin  # noqa: F401 - registers the models
from accounts.upstream import admin as upstream_admin  # noqa: F401 - SocialApp, secret hidden
