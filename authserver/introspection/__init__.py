"""RFC 7662 token introspection for MCP servers about their own tokens."""
