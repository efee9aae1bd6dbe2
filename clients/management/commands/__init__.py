"""Operator commands for clients (add_client)."""
