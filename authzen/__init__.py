"""An OpenID AuthZEN Authorization API 1.0 policy decision point for MCP servers and gateways
(docs/AUTHZEN.md): live decisions on the policies the server already holds."""
