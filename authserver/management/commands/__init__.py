"""Operator commands: bootstrap, serve, add_resource, rotate_keys, revoke, reencrypt_keys, ..."""
