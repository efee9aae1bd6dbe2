"""SCIM 2.0 provisioning (RFC 7643/7644) for users and groups, as Okta and Entra ID send it."""
