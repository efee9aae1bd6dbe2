"""Operator commands for upstream providers (add_upstream_provider)."""
