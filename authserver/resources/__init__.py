"""MCP servers as RFC 8707 resources: the registry, their scopes, and access by group."""
