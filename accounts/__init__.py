"""People: sign-in, remembered consent, Connected apps, upstream sign-in, SCIM provisioning."""
